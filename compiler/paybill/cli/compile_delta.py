"""``paybill compile`` after an identity, billing-status or label edit of a few tenants: a patch, not a compile.

The whole-compile short cut (:mod:`paybill.write.shortcut`) proves that nothing but some spec
files' contents changed since the last compile into the output folder (same files, options,
compiler, Python). This module takes it from there: it loads that compile's delta state
(:mod:`paybill.delta.state`) and its compile record (:mod:`paybill.changes.record`: the
diagnostics), lets :func:`paybill.delta.compile_delta` decide and patch, and writes the result
through the same atomic writer as a full compile (the patched files written, every other file
kept: :func:`paybill.write.journal.write_tree_linked`), then saves the record, the state and the
short cut's record as a full compile would. Any doubt returns None *before* anything is written
or forgotten, and the full compile runs.

Not taken: with a bundle signing key (the signature covers the bundle manifest's ``sources``),
when the last compile reported a diagnostic in a changed file (its position may have moved), when
the output folder's journal is not exactly the one the record was taken with. The parsed-file
cache is not updated (the next full compile parses the edited files again).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from paybill.write.shortcut import SIGNING_KEY_ENV, FolderHint, SpecScan, SpecsChanged

if TYPE_CHECKING:
    from paybill.changes.record import CompileRecord
    from paybill.delta import DeltaPatch
    from paybill.write.lease import SpareLease

MAX_SPEC_BYTES = 8 * 1024 * 1024
"""A changed spec file larger than this is left to the full compile (and its load limits)."""


def try_delta(cache: Path, out: Path, changed: SpecsChanged, params: tuple[object, ...], started_ns: int,
              scan: SpecScan, hint: FolderHint | None, lease: SpareLease | None = None) -> str | None:
    """Write ``out`` for ``changed`` by patching, and return what to print; None: compile in full."""
    if os.environ.get(SIGNING_KEY_ENV, "").strip():
        return None
    from paybill.delta.state import load_state

    state = load_state(cache, out)
    if state is None:
        return None
    from paybill.delta.patch import MANIFEST
    from paybill.write.journal import load_journal

    verified: dict[str, bytes | None] = {MANIFEST: None}  # its bytes, if load_journal reads them (racy)
    journal = load_journal(cache, out, verified)
    digests = {path: entry[3] for path, entry in journal.items()}
    if digests != changed.outputs or digests.get("manifest.json", b"").hex() != state.manifest_sha256:
        return None
    from paybill.changes.record import load_record

    previous = load_record(cache, {path: "sha256:" + digest for path, digest in changed.digests.items()})
    edited = set(changed.paths)
    if previous is None or previous.manifest_sha256 != state.manifest_sha256 \
            or any(diagnostic.path in edited for diagnostic in previous.diagnostics):
        return None
    contents = {}
    for path in changed.paths:
        raw = _read_regular(os.path.join(changed.base, path), MAX_SPEC_BYTES)
        if raw is None:
            return None
        contents[path] = raw
    from paybill.delta import compile_delta

    base = os.path.abspath(out)
    patch = compile_delta(state, changed.digests, contents, lambda path: _read_regular(os.path.join(base, path)),
                          digests, {path: data for path, data in verified.items() if data is not None},
                          reported=[diagnostic.code for diagnostic in previous.diagnostics])
    if patch is None:
        return None
    folders = hint.serves(cache, out, journal) if hint is not None else None
    from paybill.load.document import git_blob_id

    # the record's blob ids (what `paybill plan` matches a commit's files by): the edited files' own
    blob_ids = {**previous.blob_ids, **{path: git_blob_id(raw) for path, raw in contents.items()}}
    return _write(cache, out, patch, journal, folders, changed, (params, started_ns, scan), previous, blob_ids,
                  lease)


def _write(cache: Path, out: Path, patch: DeltaPatch, journal: dict[str, tuple[int, int, int, bytes]],
           folders: tuple[int, dict[str, tuple[int, int, int]]] | None, changed: SpecsChanged,
           recorded: tuple[tuple[object, ...], int, SpecScan], previous: CompileRecord,
           blob_ids: dict[str, str], lease: SpareLease | None) -> str | None:
    from paybill.changes.record import save_record
    from paybill.delta.state import save_state
    from paybill.store import prune
    from paybill.write import shortcut
    from paybill.write.journal import KeptFileChanged, write_tree_linked
    from paybill.write.tree import UnsafeOutput

    kept = {path: entry[3] for path, entry in journal.items() if path not in patch.files}
    final: dict[str, tuple[int, int, int, bytes]] = {}
    final_folders: dict[str, tuple[int, int, int]] = {}  # out's folders as the spare patch left them
    shortcut.forget(cache, out)  # as a full compile does before writing: a kill mid-write leaves no record
    try:
        write_tree_linked(patch.files, out, cache, digests=patch.digests, kept=kept, journal=journal,
                          folders=folders, final=final, final_folders=final_folders, lease=lease)
    except (KeptFileChanged, UnsafeOutput, OSError):
        return None  # nothing was swapped in: the full compile runs and reports what it finds
    save_record(cache, {path: "sha256:" + digest for path, digest in patch.inputs.items()},
                patch.state.manifest_sha256, previous.diagnostics, blob_ids)
    save_state(cache, out, patch.state, with_base=False)
    params, started_ns, scan = recorded
    shortcut.save(cache, out, params, started_ns, scan, patch.inputs, changed.printed, final or None,
                  final_folders if final else None, changed)
    prune(cache)
    return changed.printed


def _read_regular(path: str, limit: int | None = None) -> bytes | None:
    """A regular file's bytes; None for anything else (a FIFO put there since the scan must not block)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or (limit is not None and info.st_size > limit):
            return None
        # one read of the whole file (the 9.5 MB manifest at 10,000 tenants: no chunks to join), then
        # more only if it grew meanwhile or the read came back short
        chunks = [os.read(fd, info.st_size + 1)]
        while chunks[-1]:
            chunks.append(os.read(fd, 1 << 20))
        return chunks[0] if len(chunks) == 2 else b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)
