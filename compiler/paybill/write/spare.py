"""Write a one-change compile in time proportional to the change: patch a spare tree, exchange it in.

Replacing the output folder atomically means building the whole new tree beside it: even when every
unchanged file is hard-linked (:mod:`paybill.write.journal`), 10,000 tenants cost ~11,000
``mkdir``, ~25,000 ``link`` and, after the swap, as many ``unlink``/``rmdir`` to delete the old
tree. On a small virtual disk that is seconds to tens of seconds of metadata writes for a change of
three files.

So the tree that the last swap took out of ``out`` is kept, in the cache folder (``trees/``), as
the *spare*: the compile before last, as written to ``out`` then, with its journal. The next
compile patches the spare into the new tree in place (nobody reads it: it is not ``out``), writing
only files whose bytes differ from the spare's and removing files the new tree lacks, then
exchanges it with ``out`` in one ``renameat2(RENAME_EXCHANGE)``. The old ``out`` becomes the next
spare. ``out`` itself only ever changes by that exchange, so a SIGKILL at any moment leaves the
whole old tree or the whole new one there.

The spare is never trusted: every file in it is ``lstat``-ed and compared with its journal (size,
mtime, inode), every folder scanned for files the journal does not list; what differs (a file
edited while the tree was ``out``, a checkout, a write interrupted by a kill) is removed and
written again. A spare file is reused only when its journal digest equals the SHA-256 of the new
bytes. ``lstat`` and ``scandir`` cost reads, not metadata writes.

Not used (the caller takes the linked path) without ``RENAME_EXCHANGE``, across filesystems, for
``--durable``, or while another compile holds the spare's lock.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import shutil
import stat
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from paybill import store
from paybill.write.journal import _Entry, kept_bytes, load_journal, save_journal
from paybill.write.swap import exchange
from paybill.write.tree import DELAY_ENV, _validate_paths, check_replaceable, recover

TREES_FOLDER = "trees"
"""The sub-folder of the cache folder that holds spare trees (one per output folder)."""


def spare_path(folder: Path, out: Path) -> Path:
    return folder / TREES_FOLDER / store.key("spare", os.path.abspath(out))[:40]


def _spare_journal_name(out: Path) -> str:
    return store.key("spare-journal", os.path.abspath(out))


FolderStats = tuple[int, dict[str, tuple[int, int, int]]]
"""(trusted_before, folder -> (mtime_ns, inode, ctime_ns)): the spare's folders as they were last seen
whole (:class:`paybill.write.shortcut.FolderHint`), so :func:`patch_spare` scans only folders that changed."""


def _read_spare_journal(folder: Path, out: Path) -> tuple[dict[str, _Entry], FolderStats | None] | None:
    """The spare's journal and folder stats, or None (absent, damaged, foreign). An empty journal: a patch
    was interrupted, so nothing in the spare is known (every file is written again)."""
    saved = store.read(folder, _spare_journal_name(out))
    if not (isinstance(saved, tuple) and len(saved) == 2 and isinstance(saved[0], dict)):
        return None
    journal, folders = saved
    if not (isinstance(folders, tuple) and len(folders) == 2 and isinstance(folders[0], int)
            and isinstance(folders[1], dict)):
        folders = None
    return journal, folders


def _write_spare_journal(folder: Path, out: Path, journal: Mapping[str, _Entry], folders: FolderStats | None) -> None:
    store.write(folder, _spare_journal_name(out), (dict(journal), folders))


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[bool]:
    """An exclusive lock on the spare trees (False when another compile holds it: do not wait)."""
    (folder / TREES_FOLDER).mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / TREES_FOLDER / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            yield False
            return
        yield True
    finally:
        os.close(fd)


def _survey(root: Path) -> tuple[dict[str, tuple[int, int, int]], list[str], list[str]]:
    """Every regular file under ``root`` with its (size, mtime_ns, inode), its folders, and anything else."""
    files: dict[str, tuple[int, int, int]] = {}
    folders: list[str] = []
    odd: list[str] = []
    pending = [("", str(root))]
    while pending:
        prefix, directory = pending.pop()
        with os.scandir(directory) as entries:
            for entry in entries:
                rel = prefix + entry.name
                if entry.is_dir(follow_symlinks=False):
                    folders.append(rel)
                    pending.append((rel + "/", entry.path))
                elif entry.is_file(follow_symlinks=False):
                    info = entry.stat(follow_symlinks=False)
                    files[rel] = (info.st_size, info.st_mtime_ns, info.st_ino)
                else:
                    odd.append(rel)
    return files, folders, odd


def _survey_known(root: Path, journal: Mapping[str, _Entry], known: FolderStats,
                  ) -> tuple[dict[str, tuple[int, int, int]], list[str], list[str]]:
    """:func:`_survey`, scanning only folders that may have changed since ``known`` saw them.

    A folder whose (mtime_ns, inode, ctime_ns) still equals the recorded one, older than the
    record's ``trusted_before`` (the racy rule: a change within one timestamp tick of the recording
    may keep the stat), has had no entry added, removed or renamed since, and the recording saw
    exactly the journal's files and the recorded sub-folders in it: only its files are
    ``lstat``-ed. Every other folder (the top one always: the exchange renamed it) is scanned as
    :func:`_survey` does, and a folder under one that is not a real folder any more is not
    looked at. Same result as :func:`_survey` (``tests/compile/test_compile_write.py``).
    """
    trusted, recorded = known
    base = os.fspath(root)
    by_folder: dict[str, list[str]] = {}
    for path in journal:
        by_folder.setdefault(path.rpartition("/")[0], []).append(path)
    files: dict[str, tuple[int, int, int]] = {}
    folders: list[str] = []
    odd: list[str] = []
    real: set[str] = {""}  # folders seen as real folders (not symlinks) in a scanned parent
    scanned: set[str] = set()

    def scan(folder: str) -> None:
        scanned.add(folder)
        with os.scandir(os.path.join(base, folder) if folder else base) as entries:
            for entry in entries:
                rel = f"{folder}/{entry.name}" if folder else entry.name
                if entry.is_dir(follow_symlinks=False):
                    real.add(rel)
                    if rel not in recorded:  # new since the recording: everything under it is unknown
                        more_files, more_folders, more_odd = _survey(Path(entry.path))
                        folders.append(rel)
                        folders.extend(f"{rel}/{name}" for name in more_folders)
                        files.update((f"{rel}/{name}", key) for name, key in more_files.items())
                        odd.extend(f"{rel}/{name}" for name in more_odd)
                elif entry.is_file(follow_symlinks=False):
                    info = entry.stat(follow_symlinks=False)
                    files[rel] = (info.st_size, info.st_mtime_ns, info.st_ino)
                else:
                    odd.append(rel)

    def listed(folder: str) -> dict[str, tuple[int, int, int]] | None:
        """The stats of the journal's files in an unchanged folder; None if one is not a regular file."""
        found: dict[str, tuple[int, int, int]] = {}
        for path in by_folder.get(folder, ()):
            try:
                info = os.lstat(os.path.join(base, path))
            except OSError:
                return None
            if not stat.S_ISREG(info.st_mode):
                return None
            found[path] = (info.st_size, info.st_mtime_ns, info.st_ino)
        return found

    scan("")
    for folder in sorted(recorded):  # parents before their sub-folders
        parent = folder.rpartition("/")[0]
        if not folder or parent not in real or (parent in scanned and folder not in real):
            continue  # not (or no longer) a folder of this tree: its scanned parent said what it is
        try:
            info = os.lstat(os.path.join(base, folder))
        except OSError:
            continue
        if not stat.S_ISDIR(info.st_mode):
            continue
        real.add(folder)  # a scanned parent listed it as a folder, or an unchanged parent still holds it
        folders.append(folder)
        unchanged = (info.st_mtime_ns, info.st_ino, info.st_ctime_ns) == tuple(recorded[folder]) \
            and info.st_mtime_ns < trusted and info.st_ctime_ns < trusted
        found = listed(folder) if unchanged else None
        if found is None:
            scan(folder)
        else:
            files.update(found)
    return files, folders, odd


def _write_new(target: str, data: bytes) -> _Entry:
    """Put ``data`` at ``target`` as a new inode (never written into an existing, maybe shared, file)."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(target)
    with open(target, "xb") as handle:
        handle.write(data)
        handle.flush()
        info = os.fstat(handle.fileno())
    return (info.st_size, info.st_mtime_ns, info.st_ino, b"")


def patch_spare(spare: Path, tree: Mapping[str, bytes], journal: Mapping[str, _Entry],
                digests: Mapping[str, bytes] | None = None,
                progress: Callable[[int], None] | None = None,
                kept: Mapping[str, bytes] | None = None, source: Path | None = None,
                folder_stats: FolderStats | None = None) -> tuple[dict[str, _Entry], int]:
    """Turn the tree in ``spare`` (described by ``journal``) into exactly ``tree`` plus ``kept``.

    Returns the journal of the patched tree and how many files were written. ``digests``: SHA-256
    of ``tree``'s files where already known (path -> digest), so they are not hashed again.
    ``kept``: files whose bytes the compile did not read (path -> SHA-256); the spare's copy is kept
    when its journal has that digest, otherwise the bytes are read from ``source`` (the output
    folder) and checked by digest (:class:`~paybill.write.journal.KeptFileChanged`). ``folder_stats``: the
    spare's folders as last seen whole (:data:`FolderStats`): unchanged folders are not scanned.
    """
    in_place = kept if kept is not None else {}
    delay = float(os.environ.get(DELAY_ENV, "0") or 0)
    present, folders, odd = _survey(spare) if folder_stats is None else _survey_known(spare, journal, folder_stats)
    for rel in odd:  # a symlink, a socket...: never ours
        os.unlink(spare / rel)
    fresh: dict[str, _Entry] = {}
    written = 0
    for rel, found in present.items():
        known = journal.get(rel)
        if (rel not in tree and rel not in in_place) or known is None or not isinstance(known, tuple) \
                or len(known) != 4 or known[:3] != found:
            os.unlink(spare / rel)  # stale, or not what the journal says: written again below if needed
        else:
            fresh[rel] = known
    have_folders = set(folders)
    needed: set[str] = set()
    for rel in sorted(tree.keys() | in_place.keys()):
        data = tree.get(rel)  # None: kept in place
        parent = rel.rpartition("/")[0]
        while parent and parent not in needed:
            needed.add(parent)
            parent = parent.rpartition("/")[0]
        have = fresh.get(rel)
        if have is not None:
            if data is None:
                same = have[3] == in_place[rel]
            else:
                digest = digests.get(rel) if digests is not None else None
                same = have[0] == len(data) and have[3] == (digest or hashlib.sha256(data).digest())
            if same:
                if progress is not None:
                    progress(1)
                if delay:
                    time.sleep(delay)
                continue
            del fresh[rel]
        if data is None:
            if source is None:
                raise ValueError(f"{rel} is kept in place but no source folder was given")
            data = kept_bytes(source, rel, in_place[rel])
        folder = rel.rpartition("/")[0]
        if folder and folder not in have_folders:
            os.makedirs(spare / folder, exist_ok=True)
            part = folder
            while part and part not in have_folders:
                have_folders.add(part)
                part = part.rpartition("/")[0]
        if rel in have_folders:  # a folder where the new tree has a file (the layout changed)
            shutil.rmtree(spare / rel)
            have_folders = {f for f in have_folders if f != rel and not f.startswith(rel + "/")}
        entry = _write_new(os.path.join(spare, rel), data)
        digest = in_place.get(rel) or (digests.get(rel) if digests is not None else None)
        fresh[rel] = (*entry[:3], digest or hashlib.sha256(data).digest())
        written += 1
        if progress is not None:
            progress(1)
        if delay:
            time.sleep(delay)
    for folder in sorted(have_folders - needed, key=lambda f: (-f.count("/"), f)):
        os.rmdir(spare / folder)  # deepest first: every file in it was removed above
    return fresh, written


def write_tree_spare(tree: Mapping[str, bytes], out: Path, folder: Path,
                     digests: Mapping[str, bytes] | None = None,
                     progress: Callable[[int], None] | None = None,
                     kept: Mapping[str, bytes] | None = None,
                     out_journal: Mapping[str, _Entry] | None = None,
                     out_folders: FolderStats | None = None, validated: bool = False,
                     final: dict[str, _Entry] | None = None) -> int | None:
    """Replace ``out`` with exactly ``tree`` by patching the spare tree and exchanging it in.

    Returns how many files were written, or None when this path cannot be taken (no spare or
    journal yet, no ``RENAME_EXCHANGE``, another filesystem, the lock held elsewhere): then nothing
    was changed and the caller writes the tree another way (after which :func:`keep_spare` keeps
    the tree it swapped out). Raises like :func:`paybill.write.tree.write_tree`. ``kept``: as
    :func:`patch_spare` (their bytes, when needed, come from ``out``, before it is exchanged).
    ``out_journal``: ``out``'s journal if the caller loaded it (it becomes the spare's).
    ``out_folders``: ``out``'s folders as last seen whole, valid for ``out_journal``
    (:class:`paybill.write.shortcut.FolderHint`); kept with the spare so that the next patch scans
    only its folders that changed. ``validated``: the caller already checked the paths. ``final``:
    filled with the journal of the tree swapped in (as saved).
    """
    if not validated:
        _validate_paths(tree)
        _validate_paths(kept or {})
    out = Path(os.path.abspath(out))
    spare = spare_path(folder, out)
    if not out.is_dir() or not spare.is_dir():
        return None
    with _locked(folder) as mine:
        if not mine:
            return None
        recover(out)
        check_replaceable(out)
        if os.stat(spare).st_dev != os.stat(out).st_dev:
            return None
        saved = _read_spare_journal(folder, out)
        if saved is None:
            return None
        spare_journal, spare_folders = saved
        if out_journal is None:
            out_journal = load_journal(folder, out)
            out_folders = None  # the caller's folder stats were for the journal it had loaded
        # From here the spare is being changed: its journal no longer describes it until saved again.
        _write_spare_journal(folder, out, {}, None)
        fresh, written = patch_spare(spare, tree, spare_journal, digests, progress, kept, out, spare_folders)
        if not exchange(spare, out):
            return None  # the spare stays (its empty journal makes the next patch rewrite it all)
        save_journal(folder, out, fresh)
        _write_spare_journal(folder, out, out_journal, out_folders)  # what `out` held is the spare now
        if final is not None:
            final.update(fresh)
        return written


def keep_spare(folder: Path, out: Path, old_tree: Path, old_journal: Mapping[str, _Entry],
               old_folders: FolderStats | None = None) -> bool:
    """After a whole-tree swap, keep the swapped-out tree ``old_tree`` as the spare (instead of deleting it).

    ``old_journal``: the journal of ``out`` before the swap (it describes ``old_tree`` where nobody
    changed it since; :func:`patch_spare` checks); ``old_folders``: its folders as last seen whole
    (as :func:`write_tree_spare`'s ``out_folders``). False when it cannot be kept (the caller deletes it).
    """
    if not old_journal:
        return False
    spare = spare_path(folder, out)
    try:
        with _locked(folder) as mine:
            if not mine:
                return False
            if spare.exists():  # one that could not be exchanged in: replaced (rare, so slow is fine)
                shutil.rmtree(spare)
            os.rename(old_tree, spare)
            _write_spare_journal(folder, out, old_journal, old_folders)
            return True
    except OSError:  # another filesystem, a read-only cache folder: delete it instead
        return False
