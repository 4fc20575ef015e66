"""Write only what changed, still atomically: the new tree hard-links the old tree's unchanged files.

A one-tenant change at 10,000 tenants alters a handful of the ~25,000 output files. Rewriting them
all into the scratch tree costs seconds; linking an unchanged file costs one ``link()``. The journal
(an entry of the cache folder, :mod:`paybill.store`) records, for the last tree written to ``out``,
each file's (size, mtime_ns, inode) and the SHA-256 of its bytes. A file of the new tree is linked
from the old one only when the journal has the same digest *and* the old file's stat still matches
what was recorded (so a file edited or replaced since, by a checkout or by hand, is written again);
every other file is written. The scratch tree is then swapped in exactly as
:func:`paybill.write.tree.write_tree` does, so a SIGKILL at any moment leaves the whole old tree or
the whole new one.

Sharing inodes between the two trees is safe because paybill never writes into an existing file: a
changed file is always a new inode in the scratch tree.

The journal is saved after the swap; if the process dies between the two, the journal describes the
older tree, whose linked files kept their inode and mtime (still trusted, correctly) while rewritten
ones have new inodes (not trusted: written again). A stale or missing journal costs time, never
correctness.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from paybill import store
from paybill.write import ledger
from paybill.write.tree import DELAY_ENV, _make_folder, _validate_paths, discard, prepare_scratch, recover, swap_in

if TYPE_CHECKING:
    from paybill.write.lease import SpareLease

_Entry = tuple[int, int, int, bytes]


def journal_name(out: Path) -> str:
    return store.key("journal", os.path.abspath(out))


def load_journal(folder: Path | None, out: Path,
                 verified: dict[str, bytes | None] | None = None) -> dict[str, _Entry]:
    """``out``'s journal, every entry either settled or checked by content (racy entries, as git does).

    A file's stat is trusted only when it was recorded strictly before the journal was written: a
    file rewritten in place within the same timestamp tick as its recording (same size, same
    inode, same coarse mtime) would otherwise look unchanged. So an entry whose mtime is not
    older than the journal's own write time, less :data:`paybill.store.RACY_NS` (coarse clocks), is
    *racy*: it is kept only if the file still has the recorded stat and its bytes hash to the
    recorded digest; otherwise it is left out (the file is written again). Normally a handful of
    entries are racy (the files the last compile wrote in its last two seconds), which costs
    reads, never correctness. ``verified``: files the caller will read (its keys); each one that is a
    racy entry kept gets the bytes read to check it (they hash to its digest), so the caller need not
    read and hash them again: the delta compile reads ``manifest.json``, racy after every compile
    (~9.5 MB at 10,000 tenants). Only the named files: after a full compile nearly every file is racy.
    """
    if folder is None:
        return {}
    try:  # before reading: an entry replaced in between is then judged by the older, stricter time
        written_ns = os.stat(folder / journal_name(out)).st_mtime_ns
    except OSError:
        return {}
    saved = ledger.decode(folder, store.read(folder, journal_name(out)))
    if not isinstance(saved, dict):
        return {}
    settled = written_ns - store.RACY_NS
    doubtful = [path for path, entry in saved.items()  # one pass over ~25,000 entries: keep it lean
                if type(entry) is not tuple or len(entry) != 4 or not entry[1] < settled]
    for path in doubtful:  # malformed (left out) or racy (kept only if the bytes verify)
        entry = saved[path]
        data = _verified(out, path, entry) if isinstance(entry, tuple) and len(entry) == 4 else None
        if data is None:
            del saved[path]
        elif verified is not None and path in verified:
            verified[path] = data
    return saved


def saved_journal(folder: Path, out: Path) -> dict[str, _Entry] | None:
    """``out``'s journal exactly as saved (decoded against its base; racy entries not checked), or None."""
    saved = ledger.decode(folder, store.read(folder, journal_name(out)))
    return saved if isinstance(saved, dict) else None


def _verified(out: Path, path: str, entry: _Entry) -> bytes | None:
    """The bytes of ``out / path`` if a racy entry (see :func:`load_journal`) still describes it (same
    stat, bytes of its digest), else None."""
    if _stat_key(out / path) != entry[:3]:
        return None
    try:
        data = (out / path).read_bytes()
    except OSError:
        return None
    return data if hashlib.sha256(data).digest() == entry[3] else None


def _stat_key(path: Path) -> tuple[int, int, int] | None:
    try:
        info = os.lstat(path)
    except OSError:
        return None
    return (info.st_size, info.st_mtime_ns, info.st_ino)


class KeptFileChanged(Exception):
    """A file the compile kept in place (``CompileResult.kept``) no longer holds the bytes it was
    kept for (edited in the output folder since its journal was written): nothing was swapped in;
    compile again without keeping files in place."""


def kept_bytes(out: Path, path: str, digest: bytes) -> bytes:
    """The bytes of ``out / path`` when they hash to ``digest``; otherwise :class:`KeptFileChanged`."""
    try:
        data = (out / path).read_bytes()
    except OSError as exc:
        raise KeptFileChanged(f"{path}: {exc}") from exc
    if hashlib.sha256(data).digest() != digest:
        raise KeptFileChanged(f"{path} changed since it was written")
    return data


def fill_linked(scratch: Path, out: Path, tree: Mapping[str, bytes], journal: Mapping[str, _Entry],
                progress: Callable[[int], None] | None = None,
                digests: Mapping[str, bytes] | None = None,
                kept: Mapping[str, bytes] | None = None) -> tuple[dict[str, _Entry], int]:
    """Fill ``scratch`` with ``tree`` and ``kept``: unchanged files linked from ``out``, the rest written.

    Returns the journal of the new tree and how many files were written (not linked). ``digests``:
    SHA-256 of ``tree``'s files where the compile already knows it. ``kept``: files of the new tree
    the compile did not read (path -> SHA-256), whose bytes are in ``out`` (linked, or read from
    there and checked by digest: :class:`KeptFileChanged`).
    """
    known = digests if digests is not None else {}
    in_place = kept if kept is not None else {}
    import time

    delay = float(os.environ.get(DELAY_ENV, "0") or 0)
    made: set[str] = set()
    fresh: dict[str, _Entry] = {}
    written = 0
    for path in sorted(tree.keys() | in_place.keys()):
        data = tree.get(path)
        parent, _, _ = path.rpartition("/")
        if parent and parent not in made:
            _make_folder(scratch, parent, made)
        target = scratch / path
        old = journal.get(path)
        linked = False
        if old is not None and isinstance(old, tuple) and len(old) == 4 \
                and (data is None or old[0] == len(data)):
            digest = in_place[path] if data is None else known.get(path) or hashlib.sha256(data).digest()
            if old[3] == digest and _stat_key(out / path) == old[:3]:
                try:
                    os.link(out / path, target)
                    linked = True
                    fresh[path] = old
                except OSError:  # no hard links here (another filesystem): written instead
                    linked = False
        if not linked:
            if data is None:
                data = kept_bytes(out, path, in_place[path])
            with open(target, "wb") as handle:
                handle.write(data)
                handle.flush()  # so fstat sees the final size and modification time
                info = os.fstat(handle.fileno())
            digest = known.get(path) or hashlib.sha256(data).digest()
            fresh[path] = (info.st_size, info.st_mtime_ns, info.st_ino, digest)
            written += 1
        if progress is not None:
            progress(1)
        if delay:
            time.sleep(delay)
    return fresh, written


def journal_of(out: Path, tree: Mapping[str, bytes], digests: Mapping[str, bytes] | None = None) -> dict[str, _Entry]:
    """The journal of a tree just swapped in whole (every file stat()ed once).

    ``digests``: SHA-256 of the tree's files where the compile knows them (``CompileResult.digests``),
    so they are neither hashed again nor, for files written early, read back.
    """
    known = digests or {}
    entries: dict[str, _Entry] = {}
    base = os.fspath(out)
    lstat = os.lstat
    for path in tree:  # string paths, not Path objects: 250,000 files at 100,000 tenants
        try:
            info = lstat(f"{base}/{path}")
        except OSError:
            continue
        digest = known.get(path)
        entries[path] = (info.st_size, info.st_mtime_ns, info.st_ino,
                         digest if digest is not None else hashlib.sha256(tree[path]).digest())
    return entries


def save_journal(folder: Path | None, out: Path, entries: Mapping[str, _Entry]) -> None:
    """Save ``out``'s journal: its changes against the files' base (:mod:`paybill.write.ledger`)."""
    store.write(folder, journal_name(out), ledger.encode(folder, "files", out, entries))


def write_tree_linked(tree: Mapping[str, bytes], out: Path, folder: Path,
                      progress: Callable[[int], None] | None = None,
                      digests: Mapping[str, bytes] | None = None,
                      kept: Mapping[str, bytes] | None = None,
                      journal: Mapping[str, _Entry] | None = None,
                      folders: tuple[int, dict[str, tuple[int, int, int]]] | None = None,
                      final: dict[str, _Entry] | None = None,
                      final_folders: dict[str, tuple[int, int, int]] | None = None,
                      lease: SpareLease | None = None) -> int:
    """Replace ``out`` with exactly ``tree`` (plus ``kept``), atomically, writing only files that changed.

    Like :func:`paybill.write.tree.write_tree` (same errors, same guarantees; not ``durable``).
    When ``out`` already holds exactly that tree by its journal, nothing is written or swapped
    (:mod:`paybill.write.current`). When the cache holds a spare tree, it is patched and exchanged
    in (:mod:`paybill.write.spare`); otherwise a scratch tree is filled with links, and the tree it
    replaces is kept as the spare.
    ``kept``: files of the new tree whose bytes the compile left in ``out`` (path -> SHA-256,
    ``CompileResult.kept``); one that no longer hashes to its digest there raises
    :class:`KeptFileChanged` before anything is swapped in. ``journal``: ``out``'s journal when the
    caller already loaded it (~0.2 s at 10,000 tenants; a stale one costs writes, never
    correctness: every entry is checked against the file's stat). ``folders``: ``out``'s folders as
    last seen whole, valid for ``journal`` (:class:`paybill.write.shortcut.FolderHint`; the spare
    keeps them, so its next patch scans only folders that changed). ``final``: filled with the
    journal of the tree ``out`` holds at the end (as saved); ``final_folders``: with the (mtime_ns,
    inode, ctime_ns) of its folders when the spare was patched (the whole-compile record then need
    not ``lstat`` them; left empty otherwise). ``lease``: the compile's hold on the spare trees
    (:class:`paybill.write.lease.SpareLease`), taken at its start. Returns how many files were written.
    """
    from paybill.write.current import tree_is_current
    from paybill.write.spare import keep_spare, write_tree_spare

    if journal is None:
        journal, folders = load_journal(folder, out), None
    else:
        journal = dict(journal)
    _validate_paths(tree)
    _validate_paths(kept or {})
    out = Path(os.path.abspath(out))
    recover(out)
    if tree_is_current(tree, out, journal, digests, kept):
        if final is not None:
            final.update(journal)
        return 0  # `out` already is exactly this tree: nothing to write, nothing to swap
    spared = write_tree_spare(tree, out, folder, digests, progress, kept, journal, folders, validated=True,
                              final=final, final_folders=final_folders, lease=lease)
    if spared is not None:
        return spared
    out, scratch = prepare_scratch(out)
    try:
        fresh, written = fill_linked(scratch, out, tree, journal, progress, digests, kept)
        swap_in(scratch, out, keep=lambda old: keep_spare(folder, out, old, journal, folders, lease))
    except BaseException:
        discard(scratch)
        raise
    save_journal(folder, out, fresh)
    if final is not None:
        final.update(fresh)
    return written
