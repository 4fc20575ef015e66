"""Stage 4 driver: validate, build the graph, run every emitter, describe the result in a manifest.

The public API (used by the CLI and by ``paybill plan``, which compiles both sides of a diff)::

    compile_repository(root, *, cache=None) -> CompileResult
    compile_documents(documents, *, sink=None, cache=None) -> CompileResult
    compile_index(index, sink, *, cache=None) -> CompileResult
    check_repository(root, *, emitters, store=None) -> CompileResult   (``paybill validate``: in memory)

``CompileResult.tree`` is the whole output tree in memory (empty on errors); write it with
:func:`paybill.write.tree.write_tree` or compare it with :func:`paybill.write.tree.diff_tree`.
"""

from paybill.compile.pipeline import (
    check_repository,
    compile_documents,
    compile_index,
    compile_repository,
    input_fingerprint,
)
from paybill.compile.result import CompileResult
from paybill.emit.cache import CompileCache, document_fingerprint, memo

__all__ = [
    "CompileCache",
    "CompileResult",
    "check_repository",
    "compile_documents",
    "compile_index",
    "compile_repository",
    "document_fingerprint",
    "input_fingerprint",
    "memo",
]
