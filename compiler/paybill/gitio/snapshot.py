"""One side of a comparison, loaded and validated exactly as ``paybill validate`` would on disk."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field

from paybill.diagnostics import Diagnostic, DiagnosticSink, Position
from paybill.gitio.blobcache import BlobCache
from paybill.gitio.sources import SPEC_SUFFIXES, Side, SourceFile
from paybill.load import SpecDocument
from paybill.validate import validate_documents
from paybill.validate.index import SpecIndex


@dataclass(frozen=True, slots=True)
class SpecsLocation:
    """Where the specs root is in the repository and how its files are named in diagnostics.

    ``prefix`` is repository-relative (``specs``, ``infra/specs``, or '' for the root). Display paths
    are relative to the specs root's parent (``specs/tenants/acme.yaml``), matching ``paybill validate``.
    """

    prefix: str
    display_base: str

    def display(self, repo_path: str) -> str:
        rel = repo_path[len(self.prefix):].lstrip("/") if self.prefix else repo_path
        # posixpath.join(display_base, rel), spelled out: ~10,000 calls per side of a plan
        if not self.display_base or rel.startswith("/"):
            return rel
        return self.display_base + rel if self.display_base.endswith("/") else self.display_base + "/" + rel

    def repo_path(self, display: str) -> str:
        rel = display[len(self.display_base):].lstrip("/") if self.display_base else display
        return posixpath.join(self.prefix, rel) if self.prefix else rel


@dataclass
class Snapshot:
    """A validated side: documents, index of valid specs, diagnostics, and its spec files by path."""

    label: str
    commit: str | None
    documents: list[SpecDocument]
    index: SpecIndex
    diagnostics: list[Diagnostic]
    files: dict[str, SourceFile] = field(default_factory=dict)
    """Display path -> source file (with its blob hash)."""

    @property
    def ok(self) -> bool:
        return not any(d.severity == "error" for d in self.diagnostics)

    def documents_by_ref(self) -> dict[tuple[str, str], SpecDocument]:
        """(kind, name) -> first document with that identity, whether it validated or not."""
        found: dict[tuple[str, str], SpecDocument] = {}
        for document in self.documents:
            if document.kind and document.name:
                found.setdefault((document.kind, document.name), document)
        return found


def load_snapshot(side: Side, where: SpecsLocation, cache: BlobCache, *, validate: bool = True,
                  require_files: bool = True, errors_only: bool = False) -> Snapshot:
    """Load every spec file of ``side`` below the specs root (through the blob cache) and validate it.

    ``require_files=False`` for a base side: a repository that has no specs yet is a valid "before".
    ``errors_only``: the caller reads only the errors of ``diagnostics`` (``paybill plan``'s base
    side): when the side's files are exactly those a successful compile with this compiler validated
    (:meth:`BlobCache.all_known`), there are none, and the semantic rules are not run at all (about a
    third of a second at 10,000 tenants); the documents are still schema-validated and indexed.
    """
    sink = DiagnosticSink()
    listing = side.list(where.prefix, SPEC_SUFFIXES)
    for problem in listing.problems:
        sink.add(Diagnostic(problem.code, problem.message, where.display(problem.path), problem.position,
                            problem.hint, problem.severity))
    files = {where.display(f.repo_path): f for f in listing.files}
    missing = [f for display, f in files.items() if (f.blob, display) not in cache]
    contents = side.read(missing) if missing else {}
    documents: list[SpecDocument] = []
    for display, source in files.items():
        raw = source.data if source.data is not None else contents.get(source.blob)
        if raw is None:
            parsed = cache.get(source.blob, display)
            assert parsed is not None
            sink.extend(list(parsed.diagnostics))
            documents.extend(parsed.documents)
        else:
            documents.extend(cache.documents(source.blob, display, raw, sink))
    if require_files and not files and not len(sink):
        sink.error("PB0115", f"no spec files (*.yaml, *.yml) found under '{where.prefix or '.'}' in {side.label}",
                   where.display_base or ".", Position(), "point paybill at your specs folder")
    clean = errors_only and not len(sink) and bool(files) and \
        cache.all_known((source.blob, display) for display, source in files.items())
    # documents of the blob cache are shared between sides and never mutated: validate each model once
    index = validate_documents(documents, sink, reuse_models=True, rules=not clean) if validate else SpecIndex()
    return Snapshot(side.label, side.commit, documents, index, sink.sorted(), files)
