"""``paybill compile``: validate, then emit every output and swap the output folder in atomically."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import sys
import time
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import orjson

from paybill.cli.common import EXIT_DIAGNOSTICS, EXIT_OK, format_option, require_specs, specs_argument
from paybill.cli.compile_fast import DEFAULT_OUT, Record, Unstaged, handed_over, out_holds_specs, without_stages
from paybill.contract.bundle import PUBLIC_KEY_ENV, SIGNING_KEY_ENV
from paybill.diagnostics import DiagnosticSink, Position
from paybill.diagnostics.render import render
from paybill.gcpause import exit_process, pause_for_this_process

if TYPE_CHECKING:
    from paybill.compile import CompileResult
    from paybill.emit.contract import Emitter
    from paybill.forked import ForkedCall, Parallelism
    from paybill.guard.signing import TrustedKeys
    from paybill.load.cache import KnownStats
    from paybill.write.lease import SpareLease
    from paybill.write.shortcut import FolderHint
    from paybill.write.tree import TreeDiff

PROGRESS_MIN_FILES = 500
WRITE_FAILED = "PB0694"


def _check_out(specs: Path, out: Path) -> None:
    """The output folder is replaced wholesale: it must not be or contain the specs."""
    if out_holds_specs(specs, out):
        raise click.UsageError(f"--out '{out}' would replace the specs folder '{specs}'; pick another folder")


def _stderr_is_terminal() -> bool:
    """Whether progress bars have a person to show to. ``sys.stderr`` is None when the process started
    with its standard error closed (``2>&-``): no terminal, and nothing to draw on."""
    return sys.stderr is not None and sys.stderr.isatty()


def _progress(total: int, fmt: str) -> AbstractContextManager[Any]:
    """A progress bar on stderr, only for people (TTY, text format) and only when it is worth it."""
    if fmt != "text" or total < PROGRESS_MIN_FILES or not _stderr_is_terminal():
        return nullcontext(None)
    return click.progressbar(length=total, label=f"writing {total} files", file=sys.stderr)


class StageProgress:
    """Compile stages as a progress bar on stderr, shown only once a compile has run for a while.

    How big a repository is, is only known after loading it; instead of guessing, the bar appears
    when a stage starts after ``delay`` seconds, so small repositories never flash one.
    """

    def __init__(self, enabled: bool, stages: int, delay: float = 0.5) -> None:
        self.enabled = enabled
        self.stages = stages
        self.delay = delay
        self.started = time.monotonic()
        self.done = 0
        self.bar: Any = None

    def __call__(self, stage: str) -> None:
        """``stage`` starts now, so every earlier one has finished."""
        if not self.enabled:
            return
        finished, self.done = self.done, self.done + 1
        if self.bar is None:
            if time.monotonic() - self.started < self.delay:
                return
            self.bar = click.progressbar(length=self.stages, label="compiling", file=sys.stderr,
                                         item_show_func=lambda item: item)
            self.bar.__enter__()
            self.bar.update(finished, stage)
        else:
            self.bar.update(1, stage)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.update(self.stages - self.bar.pos)
            self.bar.__exit__(None, None, None)
            self.bar = None


def _stage_progress(fmt: str) -> StageProgress:
    from paybill.emit.registry import all_emitters

    # load, validate, import, graph, then one stage per emitter
    return StageProgress(fmt == "text" and _stderr_is_terminal(), 4 + len(all_emitters()))


def _shown(filename: object) -> str:
    """A path for a message: relative to the working directory when it is inside it."""
    path = os.fspath(filename) if isinstance(filename, (str, os.PathLike)) else str(filename)
    relative = os.path.relpath(path)
    return relative if not relative.startswith("..") else path


def _summary(result: CompileResult, out: Path) -> str:
    stacks, removed = result.stack_count, result.removed_count
    return (f"compiled {stacks} stack{'s' if stacks != 1 else ''}"
            f"{f' ({removed} removed)' if removed else ''}, {result.file_count} files -> {out.as_posix()}/")


def _text(result: CompileResult, fmt: str, tail: list[str]) -> str:
    text = render(fmt, result.diagnostics, result.files) if result.diagnostics else ""
    return text + "".join(line + "\n" for line in tail)


def _print_text(result: CompileResult, fmt: str, tail: list[str]) -> None:
    click.echo(_text(result, fmt, tail), nl=False)


def _diff_lines(diff: TreeDiff, out: Path, fmt: str, why: dict[str, str]) -> list[str]:
    """One line per file a compile would change; ``why``: the reason of a path, when there is more to say."""
    lines = []
    for label, paths in (("added", diff.added), ("changed", diff.changed), ("removed", diff.removed)):
        for path in paths:
            shown = (out / path).as_posix()
            reason = f" ({why[path]})" if path in why else ""
            if fmt == "github":
                lines.append(f"::error file={shown},title=paybill stale output::{label}{reason}: run 'paybill compile'")
            else:
                lines.append(f"{label}: {shown}{reason}")
    return lines


def _json_text(result: CompileResult, out: Path, extra: dict[str, Any]) -> str:
    doc = {"ok": result.ok, "diagnostics": [d.to_dict() for d in result.diagnostics], "out": out.as_posix(),
           "stacks": result.stack_count, "removed": result.removed_count, "files": result.file_count, **extra}
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n"


def _json(result: CompileResult, out: Path, extra: dict[str, Any]) -> None:
    click.echo(_json_text(result, out, extra), nl=False)


def _report_check(result: CompileResult, out: Path, fmt: str, diff: TreeDiff, why: dict[str, str]) -> None:
    """``--check``: list what a compile would change, and exit (0 when nothing would). ``why``: path ->
    reason, for bundle manifests whose signature was not accepted (``--public-key``)."""
    if fmt == "json":
        _json(result, out, {"fresh": diff.clean, "signatures": why,
                            "changes": {"added": diff.added, "changed": diff.changed, "removed": diff.removed}})
    else:
        tail = _diff_lines(diff, out, fmt, why)
        tail.append(f"{out.as_posix()}/ is up to date" if diff.clean else
                    f"{out.as_posix()}/ is stale: {len(diff.added)} added, {len(diff.changed)} changed, "
                    f"{len(diff.removed)} removed; run 'paybill compile'")
        _print_text(result, fmt, tail)
    sys.exit(EXIT_OK if diff.clean else EXIT_DIAGNOSTICS)


def _checking_signatures(out: Path, trusted: TrustedKeys | None) -> list[Emitter] | None:
    """The emitters of ``--check --public-key`` without a signing key: the bundle emitter keeps the
    signatures in ``out`` that a trusted key verifies over the fresh manifests (None: the usual ones)."""
    if trusted is None:
        return None
    from paybill.emit.bundles.emitter import BUNDLES_EMITTER, keeping_signatures
    from paybill.emit.bundles.kept_signatures import read_kept_signatures
    from paybill.emit.registry import all_emitters

    keeping = keeping_signatures(read_kept_signatures(out, trusted))
    return [keeping if emitter is BUNDLES_EMITTER else emitter for emitter in all_emitters()]


def _signature_reasons(result: CompileResult, out: Path, trusted: TrustedKeys | None, diff: TreeDiff
                       ) -> tuple[TreeDiff, dict[str, str]]:
    """With trusted keys: why bundle manifests in ``out`` are not a trusted signature of the fresh
    compile, each one counted as changed (an unsigned tree equals its unsigned compile, but a verifier
    with these keys refuses it). Without: a note on each signed manifest that differs for that reason."""
    from paybill.emit.bundles.kept_signatures import is_bundle_manifest, signature_problems
    from paybill.write.tree import TreeDiff

    if trusted is not None:
        why = signature_problems(result.tree, out, trusted)
        return TreeDiff(diff.added, sorted({*diff.changed, *why}), diff.removed), why
    signed = [path for path in diff.changed if is_bundle_manifest(path) and b'"signature"' in _head(out / path)]
    return diff, dict.fromkeys(signed, f"signed: check a signed tree with --public-key or ${PUBLIC_KEY_ENV}, "
                                       f"or with ${SIGNING_KEY_ENV} set")


def _head(path: Path) -> bytes:
    """The first bytes of a file in the output folder (empty when it cannot be read)."""
    from paybill.guard.files import read_regular

    try:
        return read_regular(path, 1024 * 1024)
    except OSError:
        return b""


def _record(cache: Path | None, result: CompileResult) -> None:
    """What this successful compile produced, for ``paybill plan`` (:mod:`paybill.changes.record`)."""
    from paybill.changes.record import save_record

    manifest_sha256 = _manifest_sha256(result)
    if cache is None or manifest_sha256 is None:
        return
    if save_record(cache, {path: "sha256:" + digest for path, digest in result.sources.items()}, manifest_sha256,
                   result.diagnostics, result.blob_ids):
        from paybill.changes.manifest_index import MAX_INDEXED_BYTES, save_manifest_index

        # what a plan reads of this manifest, so it need not read and parse 9.5 MB per side at 10,000 tenants;
        # not for a manifest too large to parse at the compile's peak (read back from disk when streamed)
        if _manifest_size(result) <= MAX_INDEXED_BYTES:
            save_manifest_index(cache, result.tree["manifest.json"], manifest_sha256)


def _manifest_size(result: CompileResult) -> int:
    from paybill.emit.files import OutputFiles  # loaded by the compile that made ``result``

    tree = result.tree
    return tree.size("manifest.json") if isinstance(tree, OutputFiles) else len(tree["manifest.json"])


def _manifest_sha256(result: CompileResult) -> str | None:
    if "manifest.json" not in result.tree:
        return None
    known = result.digests.get("manifest.json")  # written as rendered: its digest, not its 96 MB at 100k
    return known.hex() if known is not None else hashlib.sha256(result.tree["manifest.json"]).hexdigest()


_BUILT_IN_EMITTERS = "paybill.emit.terraform.providers."
"""The cloud emitters the delta compile's field list (:data:`paybill.delta.state.IDENTITY_FIELDS`) was
checked against."""


def _save_delta_state(cache: Path, out: Path, result: CompileResult) -> None:
    """What the next compile needs to patch an identity edit instead of compiling (:mod:`paybill.delta`).

    Not with a bundle signing key (the delta compile never patches signed bundles), nor when a cloud
    emitter is not one of paybill's own."""
    from paybill.delta.state import build_state, save_state
    from paybill.emit.terraform.providers import CLOUD_EMITTERS
    from paybill.write.shortcut import SIGNING_KEY_ENV

    digest = _manifest_sha256(result)
    if os.environ.get(SIGNING_KEY_ENV, "").strip() or digest is None:
        return
    if not all(type(emitter).__module__.startswith(_BUILT_IN_EMITTERS) for emitter in CLOUD_EMITTERS.values()):
        return  # another cloud emitter (a test's stand-in) may read any tenant field
    index = result.index
    providers = {document.name: document.model.spec.provider for document in index.of_kind("Cloud")}
    save_state(cache, out, build_state(digest, index.all_documents(), providers,
                                       result.facts.source_listings or {}), with_base=True)


def _known_stats(record: Record | None) -> KnownStats | None:
    """The short cut's scan of the spec files, for the load (:class:`paybill.load.cache.KnownStats`):
    stat'ed once per compile, not twice. Its stats were taken after ``record``'s start time."""
    if record is None or record[2] is None:
        return None
    from paybill.load.cache import KnownStats

    return KnownStats({path: entry[:3] for path, entry in record[2].files.items()}, record[1])


def _report_write_failure(result: CompileResult, out: Path, fmt: str, exc: OSError) -> None:
    """The disk said no: a PB0694 diagnostic after the compile's own, and exit 1."""
    sink = DiagnosticSink()
    where = f" ({_shown(exc.filename)})" if exc.filename else ""
    sink.error(WRITE_FAILED, f"cannot write output: {exc.strerror or exc}{where}", out.as_posix(), Position(),
               f"nothing was changed in {out.as_posix()}/; check that the folder and its parent are writable")
    result.diagnostics.extend(sink.sorted())
    _report_failure(result, out, fmt)


def _report_failure(result: CompileResult, out: Path, fmt: str) -> None:
    """Print the diagnostics of a compile that wrote nothing, and exit 1."""
    if fmt == "json":
        _json(result, out, {})
    else:
        click.echo(render(fmt, result.diagnostics, result.files), nl=False)
    sys.exit(EXIT_DIAGNOSTICS)


@click.command("compile")
@specs_argument
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), default=DEFAULT_OUT, show_default=True,
              help="Output folder; replaced as a whole, atomically.")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 listing files that would be added/changed/removed.")
@click.option("--durable", is_flag=True,
              help="Flush the new tree to disk before swapping it in, so it also survives a power loss (slower).")
@click.option("--strict-quotas", is_flag=True, hidden=True,
              help="Deprecated, no effect: a reached cloud quota (PB0682) is always an error, at validate too.")
@click.option("--no-cache", "no_cache", is_flag=True,
              help="Neither read nor update the cache folder (.paybill/cache; docs/cache.md).")
@click.option("--public-key", type=click.Path(path_type=Path, dir_okay=False), multiple=True, envvar=PUBLIC_KEY_ENV,
              help=f"With --check and no ${SIGNING_KEY_ENV}: the tree's bundles must be signed by one of these "
                   f"Ed25519 public keys (repeatable) and otherwise match a fresh compile; no private key needed. "
                   f"Default: ${PUBLIC_KEY_ENV} (paths separated by '{os.pathsep}').")
@format_option
def compile_command(specs: Path, out: Path, check: bool, durable: bool, strict_quotas: bool, no_cache: bool,
                    public_key: tuple[Path, ...], fmt: str) -> None:
    """Compile the spec repository SPECS (default: ./specs) into Terraform, bundles, SQL and manifests.

    Validation runs first; on any error nothing is written. The new tree is built beside the old one
    and swapped in, so an interrupted compile leaves the old tree intact, and stale files vanish.
    Exit status: 0 success (or fresh with --check), 1 diagnostics (or stale with --check), 2 usage error.
    With --format json, prints one JSON object: ok (no error diagnostics), diagnostics, counts, and for
    --check 'fresh' (whether the tree is up to date), 'changes' and 'signatures' (bundle manifest ->
    why its signature was not accepted).
    """
    from paybill.store import cache_dir

    # Collector off from here in a one-shot process (paybill.gcpause), the short cut and the delta
    # compile included: decoding their ~25,000-row tables made ~270 collections, ~20 ms of a ~0.4 s
    # identity edit at 10,000 tenants, that found nothing to free. The spare's survey (forked below)
    # inherits it.
    pause_for_this_process()
    require_specs(specs)
    _check_out(specs, out)
    trusted = _trusted_keys(check, public_key)
    if strict_quotas:
        click.echo("note: --strict-quotas is deprecated and has no effect: a reached cloud quota (PB0682) is "
                   "always an error", err=True)
    cache = cache_dir(disabled=no_cache)
    lease: SpareLease | None = None
    # what paybill.cli.compile_fast already did for this very command line, before click was imported
    handed = None if check or durable or strict_quotas else handed_over(specs, out, fmt, cache)
    if handed is not None:
        lease, attempt = handed
    else:
        attempt = None
        if cache is not None and not check and not durable:
            from paybill.write.lease import SpareLease

            lease = SpareLease.take(cache, out)  # the spare tree held, and surveyed on the other core meanwhile
    try:
        code = _compile(specs, out, check, durable, strict_quotas, fmt, cache, lease, attempt, trusted)
    finally:
        if lease is not None:
            lease.close()
    exit_process(code)  # a one-shot process does not free its heap object by object


def _trusted_keys(check: bool, public_key: tuple[Path, ...]) -> TrustedKeys | None:
    """The keys ``--check`` verifies the tree's bundle signatures with: None without ``--public-key`` (or
    ``PAYBILL_BUNDLE_PUBLIC_KEY``), or when the compile signs itself (``PAYBILL_BUNDLE_SIGNING_KEY``).

    The variable is the one verifiers read, so it may be set where plain compiles run: it is ignored
    without ``--check``; the option given on the command line without ``--check`` is a usage error."""
    source = click.get_current_context().get_parameter_source("public_key")
    if public_key and not check and source == click.core.ParameterSource.COMMANDLINE:
        raise click.UsageError("--public-key only applies with --check (a compile signs with "
                               f"${SIGNING_KEY_ENV}; verifiers take the public key)")
    if not (check and public_key) or os.environ.get(SIGNING_KEY_ENV, "").strip():
        return None
    from paybill.guard.signing import SigningKeyError, trusted_keys

    try:
        return trusted_keys(list(public_key))
    except SigningKeyError as exc:
        raise click.BadParameter(str(exc), param_hint=f"--public-key (or ${PUBLIC_KEY_ENV})") from None


def _compile(specs: Path, out: Path, check: bool, durable: bool, strict_quotas: bool, fmt: str,
             cache: Path | None, lease: SpareLease | None, attempt: Unstaged | None = None,
             trusted: TrustedKeys | None = None) -> int:
    """The compile command's work, with the cache folder chosen and the spare tree's lease taken: the exit
    status of a compile that wrote (or had nothing to write); a failure exits from here. ``attempt``:
    :func:`~paybill.cli.compile_fast.without_stages` already run for this compile (else it runs here).
    ``trusted``: the public keys ``--check`` verifies the bundle signatures in ``out`` with."""
    record: Record | None = None
    hint: FolderHint | None = None
    if cache is not None and not check:
        from paybill.write import shortcut

        if not durable:  # the short cut (paybill.write.shortcut), then the delta compile (paybill.delta)
            if attempt is None:
                attempt = without_stages(specs, out, fmt, strict_quotas, cache, lease)
            if attempt.printed is not None:
                click.echo(attempt.printed, nl=False)
                return EXIT_OK
            record, hint = attempt.record, attempt.hint
        shortcut.forget(cache, out)  # before anything is written: a compile killed mid-write leaves no record
    # Imported here so `paybill validate` (and the short cut) do not pay for networkx and the emitters.
    from paybill.compile import compile_repository
    from paybill.forked import Parallelism
    from paybill.write.journal import KeptFileChanged, journal_of, load_journal, save_journal, write_tree_linked
    from paybill.write.stream import StreamingWrite
    from paybill.write.tree import UnsafeOutput, diff_tree

    stages = _stage_progress(fmt)
    # With a journal of the tree in ``out``, only changed files are written (paybill.write.journal);
    # without one, large parts of the output are written while later stages still run, and the
    # scratch tree is discarded unless commit() below swaps it in (see paybill.write.stream).
    journal = load_journal(cache, out) if cache is not None and not durable and not check else {}
    linked = bool(journal)
    if lease is not None and not linked:
        lease.close()  # a whole tree is streamed into a scratch folder: the spare is not patched
        lease = None
    # The linked writer keeps unchanged stacks in place: the compile lists them (CompileResult.kept)
    # instead of reading their bytes back from `out`, when `out`'s journal records their digest.
    in_place = {path: entry[3] for path, entry in journal.items()} if linked else None
    folders = hint.serves(cache, out, journal) if hint is not None and cache is not None and linked else None
    final: dict[str, tuple[int, int, int, bytes]] = {}
    final_folders: dict[str, tuple[int, int, int]] = {}  # out's folders as the writer left them, when it knows
    parallelism = Parallelism.from_env()  # one setting for every stage, the writer's included
    known = _known_stats(record)
    with StreamingWrite(out, durable=durable, parallelism=parallelism) as writer:
        streaming = not (check or linked)
        try:
            result = compile_repository(specs, progress=stages, cache=cache, parallelism=parallelism, out=out,
                                        on_files=writer.add if streaming else None, in_place=in_place,
                                        writer=writer.early() if streaming else None, known=known,
                                        defer_cache_save=True, emitters=_checking_signatures(out, trusted))
        finally:
            stages.close()
        if not result.ok:
            _report_failure(result, out, fmt)
        if check:
            if result.save_load_cache is not None:
                result.save_load_cache()
            diff = diff_tree(result.tree, out)
            diff, why = _signature_reasons(result, out, trusted, diff)
            if diff.clean:
                _record(cache, result)
            _report_check(result, out, fmt, diff, why)
        # The helper that saves for later commands (_start_saving_for_next) runs beside the write when the
        # tree is in memory (the linked writer's); a streamed tree's early files are read from where the
        # writer put them, so its helper starts once they are swapped in (forked before the swap, it
        # would look for the manifest in the scratch tree).
        saving: ForkedCall[None] | None = None
        try:
            with _progress(result.file_count, fmt) as bar:
                if linked and cache is not None:
                    writer.abort()
                    saving = _start_saving_for_next(cache, out, result, record is not None, parallelism)
                    try:
                        write_tree_linked(result.tree, out, cache, bar.update if bar is not None else None,
                                          digests=result.digests, kept=result.kept, journal=journal,
                                          folders=folders, final=final, final_folders=final_folders,
                                          lease=lease)
                    except KeptFileChanged:  # a kept file was edited in `out`: read nothing from it blindly
                        result = compile_repository(specs, cache=cache, parallelism=parallelism, out=out)
                        if not result.ok:
                            _report_failure(result, out, fmt)
                        final.clear()
                        final_folders.clear()
                        write_tree_linked(result.tree, out, cache, digests=result.digests, final=final, lease=lease)
                else:
                    writer.commit(result.tree, bar.update if bar is not None else None)
                    saving = _start_saving_for_next(cache, out, result, record is not None, parallelism)
                    if cache is not None:
                        final = journal_of(out, result.tree, result.digests)
                        save_journal(cache, out, final)
        except UnsafeOutput as exc:
            raise click.UsageError(f"{exc}; remove it or pick another --out") from exc
        except OSError as exc:
            _report_write_failure(result, out, fmt, exc)
    printed = _json_text(result, out, {"written": True}) if fmt == "json" else \
        _text(result, fmt, [_summary(result, out)])
    click.echo(printed, nl=False)
    if record is not None and cache is not None:
        from paybill.write.shortcut import save

        save(cache, out, record[0], record[1], record[2], result.sources, printed, final or None,
             final_folders if final else None)
    _finish_saving(saving)
    if cache is not None:  # last: every entry of this compile is in, the oldest others go first
        from paybill.store import UNITS_FOLDER, prune

        prune(cache)
        prune(cache / UNITS_FOLDER)
    return EXIT_OK


def _start_saving_for_next(cache: Path | None, out: Path, result: CompileResult, delta: bool,
                           parallelism: Parallelism) -> ForkedCall[None] | None:
    """Start saving what only later commands read: the parsed-file cache, the compile record for
    ``paybill plan`` (:func:`_record`) and, with ``delta``, the delta compile's state (:func:`_save_delta_state`).

    Nothing in this compile reads them, so on a large repository they run in a forked helper while
    this process writes (the linked writer) or journals (the streaming one) the output and saves the
    short cut's record (at 100,000 tenants ~4.4 s of CPU, ~1.5 + ~1.1 + ~1.8 s, beside ~4.4 s here; one
    after the other before). Wait with
    :func:`_finish_saving`. A delta state saved for a compile whose short-cut record could not be saved
    is never used: the delta compile starts from that record (:func:`paybill.cli.compile_fast.without_stages`).
    """
    work = functools.partial(_save_for_next, cache, out, result, delta)
    if cache is not None and parallelism.worth_it(len(result.sources)):
        from paybill.forked import ForkedCall

        return ForkedCall(work)
    work()
    return None


def _save_for_next(cache: Path | None, out: Path, result: CompileResult, delta: bool) -> None:
    if result.save_load_cache is not None:
        result.save_load_cache()
    if cache is not None:
        _record(cache, result)
        if delta:
            _save_delta_state(cache, out, result)


def _finish_saving(saving: ForkedCall[None] | None) -> None:
    """Wait for :func:`_start_saving_for_next`'s helper. If it died (killed, out of memory), only
    cache entries are missing: the next compile is slower, never different (docs/cache.md)."""
    if saving is None:
        return
    from paybill.forked import WorkerDied

    with contextlib.suppress(WorkerDied):
        saving.result()

