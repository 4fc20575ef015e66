"""What a compile produces, on disk or not."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from paybill.diagnostics import Diagnostic, Severity
from paybill.emit.contract import EmitFacts
from paybill.emit.manifest import MANIFEST_PATH
from paybill.graph.model import DependencyGraph
from paybill.validate.index import SpecIndex


@dataclass
class CompileResult:
    """The output tree (empty when there are errors), the manifest, the graph and every diagnostic.

    ``tree`` maps output-relative paths to bytes, sorted by path: a plain dict, unless the compile
    was given a ``writer`` and wrote files early (an :class:`~paybill.emit.files.OutputFiles`,
    whose early files are read back from the writer's tree). Treat it as read-only: with a
    :class:`~paybill.emit.cache.CompileCache` its values may be shared between compiles.
    """

    tree: Mapping[str, bytes]
    diagnostics: list[Diagnostic]
    index: SpecIndex
    files: int = 0
    """Spec files read (0 when compiled from documents)."""
    graph: DependencyGraph | None = None
    stack_count: int = 0
    """Stacks the Terraform emitter built: what the manifest lists under ``stacks``, without parsing it."""
    removed_count: int = 0
    """Stacks of deleted tenants not destroyed yet: the manifest's ``removed``, without parsing it."""
    facts: EmitFacts = field(default_factory=EmitFacts)
    """What emitters published (:class:`~paybill.emit.contract.EmitFacts`)."""
    digests: dict[str, bytes] = field(default_factory=dict)
    """SHA-256 of files of ``tree`` and ``kept`` (path -> digest), as far as the compile computed
    them (the manifest's files: all but ``manifest.json``); the writer reuses them."""
    kept: dict[str, bytes] = field(default_factory=dict)
    """Files of the output that are not in ``tree`` because they are kept in place in the output
    folder (path -> SHA-256; only when the compile was asked to, ``in_place``): the whole output is
    ``tree`` plus these. Write it with :func:`paybill.write.journal.write_tree_linked`."""
    sources: dict[str, str] = field(default_factory=dict)
    """Spec file (display path) -> SHA-256 (hex) of the bytes its documents were parsed from, for every
    file that held a document (only :func:`~paybill.compile.pipeline.compile_repository` fills it):
    what the whole-compile short cut records (:mod:`paybill.write.shortcut`)."""
    blob_ids: dict[str, str] = field(default_factory=dict)
    """The same files -> git blob id of those bytes (:func:`~paybill.load.document.git_blob_id`): what
    the compile record keeps so ``paybill plan`` can match a commit's files by ``git ls-tree`` alone
    (:mod:`paybill.changes.record`)."""
    save_load_cache: Callable[[], None] | None = None
    """Saves what the load's parsed-file cache learnt, when the compile was asked to leave that to its
    caller (``compile_repository(defer_cache_save=True)``) and succeeded: call it at most once."""

    @property
    def file_count(self) -> int:
        """How many files the output has (``tree`` and ``kept``)."""
        return len(self.tree) + len(self.kept)

    @property
    def ok(self) -> bool:
        return not any(d.severity is Severity.ERROR for d in self.diagnostics)

    @functools.cached_property
    def manifest(self) -> dict[str, Any] | None:
        """The manifest document, parsed from the tree's ``manifest.json`` when first asked (None
        when the compile failed). The compile never holds it as a document: at 100,000 tenants that
        was ~200 MB at the end of the compile (:mod:`paybill.emit.manifest` renders it in pieces)."""
        data = self.tree.get(MANIFEST_PATH)
        if data is None:
            return None
        document: dict[str, Any] = orjson.loads(data)
        return document

    @property
    def stacks(self) -> list[dict[str, Any]]:
        return list(self.manifest["stacks"]) if self.manifest else []

    @property
    def removed(self) -> list[dict[str, Any]]:
        return list(self.manifest["removed"]) if self.manifest else []
