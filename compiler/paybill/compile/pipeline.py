"""The compile pipeline: validate -> resolve -> graph -> every registered emitter -> manifest, in memory.

Nothing here touches the output folder: the result is a tree of bytes that the write stage swaps in
atomically (or compares, for ``--check``). Any error anywhere empties the tree, so a caller cannot
write a partial compile by mistake.

Three entry points, one path:

* :func:`compile_repository` - load a specs folder from disk (what the CLI does);
* :func:`compile_documents`  - compile :class:`SpecDocument` objects already loaded (``paybill plan``
  loads both sides of a git diff from blobs with :func:`paybill.load.load_source`);
* :func:`compile_index`      - compile an index validation has already produced.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

from paybill.compile.apart import Parts, start_apart
from paybill.compile.checks import check_paths, check_stacks
from paybill.compile.result import CompileResult
from paybill.diagnostics import Diagnostic, DiagnosticSink
from paybill.emit.cache import CompileCache
from paybill.emit.contract import EmitContext, Emitter, OutputTree
from paybill.emit.files import OutputFiles, ScratchWriter, Written
from paybill.emit.manifest import MANIFEST_EMITTER
from paybill.forked import ForkedCall, Parallelism, WorkerDied
from paybill.gcpause import gc_paused
from paybill.graph.build import build_graph
from paybill.graph.cycles import report_cycles
from paybill.load import LoadLimits, SpecDocument, load_repository, report_no_spec_files
from paybill.load.cache import KnownStats
from paybill.load.limits import DEFAULT_LIMITS
from paybill.resolve import ResolvedModel, resolve_index
from paybill.store import UNITS_FOLDER, UnitStore
from paybill.validate import validate_documents
from paybill.validate.index import SpecIndex
from paybill.validate.pipeline import rule_findings, run_rules

FINAL_EMITTERS: tuple[Emitter, ...] = (MANIFEST_EMITTER,)
"""Emitters that describe the whole tree; they run after all others whatever their list position."""

Progress = Callable[[str], None]
"""Called with a stage name (``load``, ``validate``, ``resolve``, ``import``, ``graph``, ``emit:<name>``) as
each stage starts."""

FilesReady = Callable[[OutputTree], None]
"""Called with each emitter's files once they passed the path checks, so a writer can start early
(:class:`paybill.write.stream.StreamingWrite`). The compile may still fail afterwards: only the
returned result says whether the files may be used."""


def _ordered(emitters: Sequence[Emitter]) -> list[Emitter]:
    first = [e for e in emitters if e not in FINAL_EMITTERS]
    last = [e for e in emitters if e in FINAL_EMITTERS]
    return first + last


def _failed(index: SpecIndex, sink: DiagnosticSink, files: int, **extra: Any) -> CompileResult:
    return CompileResult(tree={}, diagnostics=sink.sorted(), index=index, files=files, **extra)


def compile_index(
    index: SpecIndex,
    sink: DiagnosticSink,
    *,
    files: int = 0,
    emitters: Sequence[Emitter] | None = None,
    cache: CompileCache | None = None,
    progress: Progress | None = None,
    on_files: FilesReady | None = None,
    resolved: ResolvedModel | None = None,
    store: UnitStore | None = None,
    parallelism: Parallelism | None = None,
    writer: ScratchWriter | None = None,
) -> CompileResult:
    """Resolve then compile a validated index. If ``sink`` already holds errors, nothing is emitted.

    ``resolved``: the index's resolved model when the caller already built it (its rules reported
    into ``sink``); otherwise it is resolved here. ``emitters`` defaults to every registered
    emitter (:func:`paybill.emit.registry.all_emitters`). Emitters see the typed fields of
    :class:`~paybill.emit.contract.EmitContext`: ``resolved``, ``graph``, ``cache`` (may be None)
    and ``tree`` (a read-only view of the files emitted so far); independent ones (see
    :class:`~paybill.emit.contract.Emitter`) see no ``graph``. ``store``: units built by earlier
    compiles (:class:`paybill.store.UnitStore`), reused where their inputs are unchanged.
    ``parallelism``: when stages may split work with a forked helper (default: from the environment).
    ``writer``: where emitters may write their files as soon as they are rendered (the caller
    streams the output, :mod:`paybill.emit.files`); the result's tree then holds only the sizes
    and digests of those files, and reads them back from the writer's tree when asked.
    """
    with gc_paused():
        return _compile_index(index, sink, files, emitters, cache, progress, on_files, resolved, store,
                              parallelism if parallelism is not None else Parallelism.from_env(), writer)


def _compile_index(
    index: SpecIndex,
    sink: DiagnosticSink,
    files: int,
    emitters: Sequence[Emitter] | None,
    cache: CompileCache | None,
    progress: Progress | None,
    on_files: FilesReady | None,
    resolved: ResolvedModel | None,
    store: UnitStore | None,
    parallelism: Parallelism,
    writer: ScratchWriter | None,
) -> CompileResult:
    if sink.has_errors:
        return _failed(index, sink, files)
    if resolved is None:
        if progress:
            progress("resolve")
        resolved = resolve_index(index, sink, store)
    # Resolve findings (PB0602, PB0603) do not stop the compile: the emitters skip what could not be
    # resolved and report their own findings too, so one run lists every problem; any error still
    # empties the tree below.
    if emitters is None:
        if progress:
            progress("import")
        from paybill.emit.registry import all_emitters

        emitters = all_emitters()
    if progress:
        progress("graph")
    units = list(resolved.units)
    tree = OutputFiles()
    owners: dict[str, str] = {}
    ctx = EmitContext(index, sink, resolved=resolved, cache=cache, tree=MappingProxyType(tree), store=store,
                      parallelism=parallelism, writer=writer)
    ordered = _ordered(emitters)
    # Independent emitters need no graph, so their helper starts now, while this process builds it.
    helper = start_apart(ctx, ordered, units, cache, FINAL_EMITTERS)
    try:
        graph = build_graph(index, units)
        if not report_cycles(graph, sink):
            return _failed(index, sink, files, graph=graph)
        ctx.graph = graph
        apart: Parts | None = None
        for emitter in ordered:
            if progress:
                progress(f"emit:{emitter.name}")
            if helper is not None and emitter in helper.emitters:
                if apart is None:
                    apart = helper.collect(ctx)
                part, written, kept = apart[emitter.name]
                ctx.kept.update(kept)  # files the helper's emitter kept in place, checked below as its own
                ctx.digests.update(kept)
            else:
                part = emitter.emit(ctx)
                written, ctx.written = ctx.written, {}
            _keep(emitter, part, written, tree, owners, sink, on_files, writer)
            _keep_in_place(emitter, ctx.kept, owners, sink)
    finally:
        if helper is not None:
            helper.cancel()
    from paybill.emit.terraform.providers import CLOUD_EMITTERS

    check_stacks(ctx.facts.terraform, units, index, CLOUD_EMITTERS, sink)
    if sink.has_errors:
        return _failed(index, sink, files, graph=graph, facts=ctx.facts)
    tree.sort()
    plain = tree.in_memory()
    return CompileResult(tree=plain if plain is not None else tree, diagnostics=sink.sorted(), index=index,
                         files=files, graph=graph, facts=ctx.facts,
                         stack_count=len(ctx.facts.terraform.stacks) if ctx.facts.terraform is not None else 0,
                         removed_count=len(resolved.removed),
                         digests={path: digest for path, digest in ctx.digests.items()
                                  if path in tree or path in ctx.kept},
                         kept=dict(sorted(ctx.kept.items())))


def _keep(emitter: Emitter, part: OutputTree, written: dict[str, Written], tree: OutputFiles,
          owners: dict[str, str], sink: DiagnosticSink, on_files: FilesReady | None,
          writer: ScratchWriter | None) -> None:
    """Add the files of ``part`` and ``written`` that pass the path checks to ``tree`` (and hand the
    in-memory ones to ``on_files``).

    A written file with a bad path is not kept, but it is already in the scratch tree: the error
    it was reported with fails the compile, so that tree is never swapped in.
    """
    kept = {path: part[path] for path in check_paths(emitter.name, list(part), owners, sink)}
    tree.update_bytes(kept)
    if written and writer is not None:
        keep = check_paths(emitter.name, list(written), owners, sink)
        tree.update_written({path: written[path] for path in keep}, writer.where)
    if on_files is not None and kept and not sink.has_errors:
        on_files(kept)


def _keep_in_place(emitter: Emitter, kept: dict[str, bytes], owners: dict[str, str], sink: DiagnosticSink) -> None:
    """The path checks for files ``emitter`` kept in place (:attr:`EmitContext.kept`) this time; a
    path that fails them leaves the tree (its error already empties the result)."""
    new = [path for path in kept if path not in owners]
    for path in set(new) - set(check_paths(emitter.name, new, owners, sink)):
        del kept[path]


def compile_documents(
    documents: Sequence[SpecDocument],
    *,
    sink: DiagnosticSink | None = None,
    files: int = 0,
    emitters: Sequence[Emitter] | None = None,
    cache: CompileCache | None = None,
    progress: Progress | None = None,
    unloadable: set[tuple[str, str]] | None = None,
    on_files: FilesReady | None = None,
    store: UnitStore | None = None,
    parallelism: Parallelism | None = None,
    writer: ScratchWriter | None = None,
) -> CompileResult:
    """Validate then compile documents already in memory (validation sets ``document.model``).

    ``unloadable``: (kind, name) of specs whose files failed to load (see ``load_repository``).
    """
    sink = sink if sink is not None else DiagnosticSink()
    parallelism = parallelism if parallelism is not None else Parallelism.from_env()
    with gc_paused():
        if progress:
            progress("validate")
        beside = parallelism.worth_it(len(documents))
        index = validate_documents(list(documents), sink, unloadable, rules=not beside)
        resolved = None
        if beside:
            resolved = _resolve_beside_rules(index, sink, store, progress)
        return compile_index(index, sink, files=files, emitters=emitters, cache=cache, progress=progress,
                             on_files=on_files, store=store, parallelism=parallelism, writer=writer,
                             resolved=resolved)


def _resolve_beside_rules(index: SpecIndex, sink: DiagnosticSink, store: UnitStore | None,
                          progress: Progress | None) -> ResolvedModel | None:
    """The semantic rules in a forked helper while this process resolves the index: the resolved model
    when the rules found no error (their findings, then resolve's, in ``sink``), else None.

    Rules only report (:func:`paybill.validate.pipeline.run_rules`), and resolve needs their verdict
    only to know whether its work counts: at 100,000 tenants the rules take ~3 s and resolve ~4.5 s,
    one after the other on one core before. Resolve runs here as if the index were valid; when the
    rules find an error, what it found or raised is dropped and nothing it would store is stored (its
    name plans are saved only after the verdict), so the result is the one-process compile's, diagnostic
    for diagnostic. A schema error already reported stops here: resolve would not run.
    """
    if sink.has_errors:
        run_rules(index, sink)
        return None
    rules = ForkedCall(rule_findings, index)
    if progress:
        progress("resolve")
    found = DiagnosticSink()
    saves: list[Callable[[], None]] = []
    try:
        resolved = resolve_index(index, found, store, deferred=saves)
    except Exception:
        _join_rules(rules, index, sink)
        if sink.has_errors:
            return None  # an invalid index: the one-process compile would not have resolved it
        raise
    _join_rules(rules, index, sink)
    if sink.has_errors:
        return None
    sink.extend(found.items())
    for save in saves:
        save()
    return resolved


def _join_rules(rules: ForkedCall[list[Diagnostic]], index: SpecIndex, sink: DiagnosticSink) -> None:
    """The helper's findings into ``sink``; if it died without an answer, the rules run here."""
    try:
        sink.extend(rules.result())
    except WorkerDied:
        run_rules(index, sink)


def compile_repository(
    root: Path,
    *,
    limits: LoadLimits = DEFAULT_LIMITS,
    emitters: Sequence[Emitter] | None = None,
    cache: Path | None = None,
    progress: Progress | None = None,
    on_files: FilesReady | None = None,
    parallelism: Parallelism | None = None,
    out: Path | None = None,
    in_place: Mapping[str, bytes] | None = None,
    writer: ScratchWriter | None = None,
    known: KnownStats | None = None,
    defer_cache_save: bool = False,
) -> CompileResult:
    """Load every spec under ``root`` and compile it.

    ``cache``: the cache folder (:mod:`paybill.store`); files unchanged since it was filled are not
    parsed again, and units whose inputs are unchanged are not built again (its ``units/`` folder,
    :class:`~paybill.store.UnitStore`). None: everything is computed (same result, slower on a large
    repository). ``parallelism``: the one setting every stage splits its work by (default: from the
    environment, :meth:`paybill.forked.Parallelism.from_env`). ``out``: the folder the result will
    be written to (or compared with), where stored units find their bytes (:class:`UnitStore`).
    ``writer``: see :func:`compile_index`.
    ``in_place``: the digests ``out``'s writer recorded for its files (its journal), when the result
    is written by a writer that keeps files in place (:func:`paybill.write.journal.write_tree_linked`):
    unchanged stored stacks recorded there are not read at all but listed in ``CompileResult.kept``.
    ``known``: the spec files' stats as the caller just took them (:class:`~paybill.load.cache.KnownStats`).
    ``defer_cache_save``: do not save what the parsed-file cache learnt; a successful result's
    :attr:`~CompileResult.save_load_cache` does it when the caller chooses (``paybill compile`` saves it
    on its second core while it writes the output's journal: ~1.5 s at 100,000 tenants).
    """
    parallelism = parallelism if parallelism is not None else Parallelism.from_env()
    sink = DiagnosticSink()
    with gc_paused():
        if progress:
            progress("load")
        loaded = load_repository(root, sink, limits, cache=cache, save=False, parallelism=parallelism, known=known)
        report_no_spec_files(root, loaded, sink)
        store = UnitStore(cache / UNITS_FOLDER, content_root=out, in_place=in_place if out is not None else None) \
            if cache is not None else None
        result = compile_documents(loaded.documents, sink=sink, files=loaded.files, emitters=emitters,
                                   progress=progress, unloadable=loaded.unloadable, on_files=on_files,
                                   store=store, parallelism=parallelism, writer=writer)
        if result.ok:  # a failed compile leaves no cache folder behind
            if defer_cache_save:
                result.save_load_cache = loaded.save_cache
            else:
                loaded.save_cache()
        result.sources = {document.path: document.text_hash for document in loaded.documents}
        result.blob_ids = {document.path: document.blob_id for document in loaded.documents}
        return result


def check_repository(root: Path, *, emitters: Sequence[Emitter], store: UnitStore | None = None,
                     limits: LoadLimits = DEFAULT_LIMITS) -> CompileResult:
    """Load every spec under ``root`` and compile it in memory with ``emitters``, writing nothing: what
    ``paybill validate`` runs (with :func:`paybill.emit.registry.reporting_emitters`, the emitters that
    can report a problem), so that it reports everything a compile would. ``store``: a read-only unit
    store whose name plans and Cedar answers may be reused."""
    sink = DiagnosticSink()
    with gc_paused():
        loaded = load_repository(root, sink, limits)
        report_no_spec_files(root, loaded, sink)
        return compile_documents(loaded.documents, sink=sink, files=loaded.files, emitters=emitters,
                                 unloadable=loaded.unloadable, store=store)


def input_fingerprint(documents: Sequence[SpecDocument]) -> str:
    """One hash over every input document's identity and content (order-independent)."""
    digest = hashlib.sha256()
    for path, index, text_hash in sorted((d.path, d.index, d.text_hash) for d in documents):
        digest.update(f"{path}\0{index}\0{text_hash}\n".encode())
    return digest.hexdigest()
