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
import functools
import hashlib
import os
import stat
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from paybill import store
from paybill.write import ledger
from paybill.write.descriptors import BY_FD, FOLDER_FLAGS
from paybill.write.journal import _Entry, kept_bytes, load_journal, save_journal
from paybill.write.lease import TREES_FOLDER, SpareLease, SpareSurvey
from paybill.write.swap import exchange
from paybill.write.tree import DELAY_ENV, _rmtree, _validate_paths, check_replaceable, recover


def spare_path(folder: Path, out: Path) -> Path:
    return folder / TREES_FOLDER / store.key("spare", os.path.abspath(out))[:40]


def _spare_journal_name(out: Path) -> str:
    return store.key("spare-journal", os.path.abspath(out))


FolderStats = tuple[int, dict[str, tuple[int, int, int]]]
"""(trusted_before, folder -> (mtime_ns, inode, ctime_ns)): the spare's folders as they were last seen
whole (:class:`paybill.write.shortcut.FolderHint`), so :func:`patch_spare` scans only folders that changed."""


def spare_journal_key(folder: Path, out: Path) -> tuple[int, int, int, int] | None:
    """The stat of the spare journal's cache entry (which journal a survey made ahead was made for)."""
    try:
        info = os.stat(folder / _spare_journal_name(out))
    except OSError:
        return None
    return info.st_size, info.st_mtime_ns, info.st_ino, info.st_ctime_ns


def survey_spare(folder: Path, out: Path) -> SpareSurvey | None:
    """Survey the spare tree of ``out`` against its journal, as :func:`patch_spare` would first do.

    For :class:`paybill.write.lease.SpareLease`, which runs it in a forked child while the compile
    goes on (the caller holds the spare trees' lock). None when there is no spare journal to survey by.
    """
    key = spare_journal_key(folder, out)
    saved = _read_spare_journal(folder, out)
    if key is None or saved is None or key != spare_journal_key(folder, out):
        return None
    journal, folder_stats = saved
    seen: dict[str, tuple[int, int, int]] = {}
    spare = spare_path(folder, out)
    files, folders, odd = _survey(spare) if folder_stats is None \
        else _survey_known(spare, journal, folder_stats, seen)
    return SpareSurvey(*_against(files, journal), folders, odd, seen, key)


def _against(present: Mapping[str, tuple[int, int, int]],
             journal: Mapping[str, _Entry]) -> tuple[list[str], list[str]]:
    """The files found (``present``) against the journal: (those whose stat is not their entry's or that
    it lacks, the journal's files not found). Every other file of the journal is there with its stat."""
    differ = [rel for rel, found in present.items()
              if type(entry := journal.get(rel)) is not tuple or len(entry) != 4 or entry[:3] != found]
    agree = len(present) - len(differ)  # each a distinct file of the journal
    return differ, [] if agree == len(journal) else [rel for rel in journal if rel not in present]


def _read_spare_journal(folder: Path, out: Path) -> tuple[dict[str, _Entry], FolderStats | None] | None:
    """The spare's journal and folder stats, or None (absent, damaged, foreign). An empty journal: a patch
    was interrupted, so nothing in the spare is known (every file is written again)."""
    saved = store.read(folder, _spare_journal_name(out))
    if not (isinstance(saved, tuple) and len(saved) == 2):
        return None
    journal, folders = ledger.decode(folder, saved[0]), saved[1]
    if not isinstance(journal, dict):
        return None
    if isinstance(folders, tuple) and len(folders) == 2 and isinstance(folders[0], int):
        stats = ledger.decode(folder, folders[1])
        folders = (folders[0], stats) if isinstance(stats, dict) else None
    else:
        folders = None
    return journal, folders


def _write_spare_journal(folder: Path, out: Path, journal: Mapping[str, _Entry], folders: FolderStats | None) -> None:
    """Save the spare's journal and folder stats as changes against their bases (:mod:`paybill.write.ledger`)."""
    stats = None if folders is None else (folders[0], ledger.encode(folder, "folders", out, folders[1]))
    store.write(folder, _spare_journal_name(out), (ledger.encode(folder, "files", out, journal), stats))


@contextlib.contextmanager
def _locked(folder: Path, lease: SpareLease | None = None, out: Path | None = None) -> Iterator[bool]:
    """An exclusive lock on the spare trees (False when another compile holds it: do not wait).

    With this compile's ``lease`` (for the same cache and output folders) its lock is the lock.
    """
    if lease is not None:
        yield lease.folder == folder and out is not None and lease.out == Path(os.path.abspath(out))
        return
    (folder / TREES_FOLDER).mkdir(parents=True, exist_ok=True)
    own = SpareLease.take(folder, out if out is not None else folder, survey_ahead=False)
    if own is None:
        yield False
        return
    with own:
        yield True


def _survey(root: Path) -> tuple[dict[str, tuple[int, int, int]], list[str], list[str]]:
    """Every regular file under ``root`` with its (size, mtime_ns, inode), its folders, and anything else.

    Each folder is listed through a descriptor (:mod:`paybill.write.descriptors`); a folder turned
    symlink since its parent was listed raises ``OSError``, like one that vanished.
    """
    files: dict[str, tuple[int, int, int]] = {}
    folders: list[str] = []
    odd: list[str] = []
    pending: list[tuple[str, int | str]] = []
    try:
        pending.append(("", os.open(root, FOLDER_FLAGS) if BY_FD else str(root)))
        while pending:
            prefix, directory = pending.pop()
            try:
                with os.scandir(directory) as entries:
                    for entry in entries:
                        rel = prefix + entry.name
                        if entry.is_dir(follow_symlinks=False):
                            folders.append(rel)
                            pending.append((rel + "/", os.open(entry.name, FOLDER_FLAGS, dir_fd=directory)
                                            if isinstance(directory, int) else entry.path))
                        else:
                            _file_or_odd(entry, rel, files, odd)
            finally:
                if isinstance(directory, int):
                    os.close(directory)
    finally:
        for _, left in pending:  # not listed (an error): their descriptors
            if isinstance(left, int):
                os.close(left)
    return files, folders, odd


def _file_or_odd(entry: os.DirEntry[str], rel: str, files: dict[str, tuple[int, int, int]], odd: list[str]) -> None:
    """Record a scanned entry that is not a folder: a regular file's (size, mtime_ns, inode), else ``rel``
    as odd (a symlink, FIFO, socket or device: never the writer's, so the patch removes it)."""
    if entry.is_file(follow_symlinks=False):
        info = entry.stat(follow_symlinks=False)
        files[rel] = (info.st_size, info.st_mtime_ns, info.st_ino)
    else:
        odd.append(rel)


def _survey_known(root: Path, journal: Mapping[str, _Entry], known: FolderStats,
                  seen: dict[str, tuple[int, int, int]] | None = None,
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
    prefix = base + "/"
    by_folder: dict[str, list[str]] = {}
    for path in journal:
        by_folder.setdefault(path.rpartition("/")[0], []).append(path)
    files: dict[str, tuple[int, int, int]] = {}
    folders: list[str] = []
    odd: list[str] = []
    real: set[str] = {""}  # folders seen as real folders (not symlinks) in a scanned parent
    scanned: set[str] = set()
    # ``lstat`` of a path below the root, through the root's descriptor (paybill.write.descriptors)
    root_fd = os.open(base, FOLDER_FLAGS) if BY_FD else None
    lstat: Callable[[str], os.stat_result] = os.lstat if root_fd is None else \
        functools.partial(os.stat, dir_fd=root_fd, follow_symlinks=False)
    at = prefix if root_fd is None else ""

    def scan(folder: str) -> None:
        scanned.add(folder)
        where: int | str = os.open(folder or ".", FOLDER_FLAGS, dir_fd=root_fd) if root_fd is not None \
            else prefix + folder if folder else base
        try:
            with os.scandir(where) as entries:
                for entry in entries:
                    rel = f"{folder}/{entry.name}" if folder else entry.name
                    if entry.is_dir(follow_symlinks=False):
                        real.add(rel)
                        if rel not in recorded:  # new since the recording: everything under it is unknown
                            more_files, more_folders, more_odd = _survey(Path(prefix + rel))
                            folders.append(rel)
                            folders.extend(f"{rel}/{name}" for name in more_folders)
                            files.update((f"{rel}/{name}", key) for name, key in more_files.items())
                            odd.extend(f"{rel}/{name}" for name in more_odd)
                    else:
                        _file_or_odd(entry, rel, files, odd)
        finally:
            if isinstance(where, int):
                os.close(where)

    try:
        scan("")
        is_dir, is_reg = stat.S_ISDIR, stat.S_ISREG
        for folder in sorted(recorded):  # parents before their sub-folders
            parent = folder.rpartition("/")[0]
            if not folder or parent not in real or (parent in scanned and folder not in real):
                continue  # not (or no longer) a folder of this tree: its scanned parent said what it is
            try:
                info = lstat(at + folder)
            except OSError:
                continue
            if not is_dir(info.st_mode):
                continue
            real.add(folder)  # a scanned parent listed it as a folder, or an unchanged parent still holds it
            folders.append(folder)
            if seen is not None:  # taken before its listing was known: a change after it changes the stat
                seen[folder] = (info.st_mtime_ns, info.st_ino, info.st_ctime_ns)
            if not ((info.st_mtime_ns, info.st_ino, info.st_ctime_ns) == tuple(recorded[folder])
                    and info.st_mtime_ns < trusted and info.st_ctime_ns < trusted):
                scan(folder)
                continue
            # Unchanged: it lists exactly the journal's files (and recorded sub-folders); each is lstat-ed.
            found: dict[str, tuple[int, int, int]] = {}
            for path in by_folder.get(folder, ()):
                try:
                    info = lstat(at + path)
                except OSError:
                    break
                if not is_reg(info.st_mode):
                    break
                found[path] = (info.st_size, info.st_mtime_ns, info.st_ino)
            else:
                files.update(found)
                continue
            scan(folder)  # one is not a regular file (or is gone): see what the folder holds
    finally:
        if root_fd is not None:
            os.close(root_fd)
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
                folder_stats: FolderStats | None = None,
                folders_out: dict[str, tuple[int, int, int] | None] | None = None,
                surveyed: SpareSurvey | None = None) -> tuple[dict[str, _Entry], int]:
    """Turn the tree in ``spare`` (described by ``journal``) into exactly ``tree`` plus ``kept``.

    Returns the journal of the patched tree and how many files were written. ``digests``: SHA-256
    of ``tree``'s files where already known (path -> digest), so they are not hashed again.
    ``kept``: files whose bytes the compile did not read (path -> SHA-256); the spare's copy is kept
    when its journal has that digest, otherwise the bytes are read from ``source`` (the output
    folder) and checked by digest (:class:`~paybill.write.journal.KeptFileChanged`). ``folder_stats``: the
    spare's folders as last seen whole (:data:`FolderStats`): unchanged folders are not scanned.
    ``folders_out``: filled with every folder of the patched tree (``""``: the top) and its (mtime_ns,
    inode, ctime_ns) as the survey found it, or None where the patch changed it since (or the survey
    did not stat it): what the whole-compile record needs, without an ``lstat`` per folder.
    ``surveyed``: the survey of ``spare`` against this ``journal`` and ``folder_stats``, already made
    (:func:`survey_spare`, by a :class:`paybill.write.lease.SpareLease`); None: surveyed here.
    """
    in_place = kept if kept is not None else {}
    known_digests = digests if digests is not None else {}
    delay = float(os.environ.get(DELAY_ENV, "0") or 0)
    seen: dict[str, tuple[int, int, int]] = {}
    if surveyed is not None:
        differ, absent, folders = surveyed.differ, surveyed.absent, surveyed.folders
        odd, seen = surveyed.odd, surveyed.seen
    else:
        present, folders, odd = _survey(spare) if folder_stats is None \
            else _survey_known(spare, journal, folder_stats, seen)
        differ, absent = _against(present, journal)
    touched: set[str] = {""}  # folders whose stat the patch changes (the top: the exchange renames it)
    for rel in odd:  # a symlink, a socket...: never ours
        os.unlink(spare / rel)
        touched.add(rel.rpartition("/")[0])
    prefix = os.fspath(spare) + "/"
    fresh: dict[str, _Entry] = {}
    stale = list(differ)  # not what the journal says: removed, and written again below if needed
    unknown = {*differ, *absent}
    for rel, entry in journal.items():  # the others are there with the journal's stat (and a sound entry)
        if rel in unknown:
            continue
        if rel in tree or rel in in_place:
            fresh[rel] = entry
        else:
            stale.append(rel)  # gone from the tree
    for rel in stale:
        os.unlink(prefix + rel)
        touched.add(rel.rpartition("/")[0])
    # What must be written: a kept file the spare does not hold with its digest, a file whose bytes differ.
    todo = [rel for rel, digest in in_place.items()
            if rel not in tree and ((have := fresh.get(rel)) is None or have[3] != digest)]
    for rel, data in tree.items():
        have = fresh.get(rel)
        if have is None or have[0] != len(data) \
                or have[3] != (known_digests.get(rel) or hashlib.sha256(data).digest()):
            todo.append(rel)
    unchanged = len(fresh) - sum(1 for rel in todo if rel in fresh)
    if progress is not None and unchanged:
        progress(unchanged)
    if delay:
        for _ in range(unchanged):
            time.sleep(delay)
    have_folders = set(folders)
    written = 0
    for rel in sorted(todo):
        data = tree.get(rel)  # None: kept in place
        fresh.pop(rel, None)
        if data is None:
            if source is None:
                raise ValueError(f"{rel} is kept in place but no source folder was given")
            data = kept_bytes(source, rel, in_place[rel])
        folder = rel.rpartition("/")[0]
        touched.add(folder)
        if folder and folder not in have_folders:
            os.makedirs(spare / folder, exist_ok=True)
            part = folder
            while part and part not in have_folders:
                have_folders.add(part)
                part = part.rpartition("/")[0]
                touched.add(part)
        if rel in have_folders:  # a folder where the new tree has a file (the layout changed)
            _rmtree(spare / rel)
            have_folders = {f for f in have_folders if f != rel and not f.startswith(rel + "/")}
        entry = _write_new(prefix + rel, data)
        digest = in_place.get(rel) or known_digests.get(rel)
        fresh[rel] = (*entry[:3], digest or hashlib.sha256(data).digest())
        written += 1
        if progress is not None:
            progress(1)
        if delay:
            time.sleep(delay)
    needed: set[str] = set()
    for parent in {rel.rpartition("/")[0] for rel in fresh}:
        while parent and parent not in needed:
            needed.add(parent)
            parent = parent.rpartition("/")[0]
    for folder in sorted(have_folders - needed, key=lambda f: (-f.count("/"), f)):
        os.rmdir(spare / folder)  # deepest first: every file in it was removed above
        touched.add(folder.rpartition("/")[0])
    if folders_out is not None:
        folders_out[""] = None
        for folder in needed:
            folders_out[folder] = None if folder in touched else seen.get(folder)
    return fresh, written


def write_tree_spare(tree: Mapping[str, bytes], out: Path, folder: Path,
                     digests: Mapping[str, bytes] | None = None,
                     progress: Callable[[int], None] | None = None,
                     kept: Mapping[str, bytes] | None = None,
                     out_journal: Mapping[str, _Entry] | None = None,
                     out_folders: FolderStats | None = None, validated: bool = False,
                     final: dict[str, _Entry] | None = None,
                     final_folders: dict[str, tuple[int, int, int]] | None = None,
                     lease: SpareLease | None = None) -> int | None:
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
    filled with the journal of the tree swapped in (as saved); ``final_folders``: with its folders'
    (mtime_ns, inode, ctime_ns) (``""``: ``out``), each taken after its last change by the patch.
    ``lease``: this compile's :class:`paybill.write.lease.SpareLease` for ``folder`` and ``out``: its
    lock is used instead of taking it here, and its survey made ahead instead of surveying here.
    """
    if not validated:
        _validate_paths(tree)
        _validate_paths(kept or {})
    out = Path(os.path.abspath(out))
    spare = spare_path(folder, out)
    if not out.is_dir() or not spare.is_dir():
        return None
    with _locked(folder, lease, out) as mine:
        if not mine:
            return None
        recover(out)
        check_replaceable(out)
        if os.stat(spare).st_dev != os.stat(out).st_dev:
            return None
        key = spare_journal_key(folder, out) if lease is not None else None
        saved = _read_spare_journal(folder, out)
        if saved is None:
            return None
        surveyed = lease.survey(key) if lease is not None else None
        spare_journal, spare_folders = saved
        if out_journal is None:
            out_journal = load_journal(folder, out)
            out_folders = None  # the caller's folder stats were for the journal it had loaded
        # From here the spare is being changed: its journal no longer describes it until saved again.
        _write_spare_journal(folder, out, {}, None)
        seen: dict[str, tuple[int, int, int] | None] = {}
        fresh, written = patch_spare(spare, tree, spare_journal, digests, progress, kept, out, spare_folders,
                                     seen if final_folders is not None else None, surveyed)
        if not exchange(spare, out):
            return None  # the spare stays (its empty journal makes the next patch rewrite it all)
        save_journal(folder, out, fresh)
        _write_spare_journal(folder, out, out_journal, out_folders)  # what `out` held is the spare now
        if final is not None:
            final.update(fresh)
        if final_folders is not None:
            final_folders.update(_settle_folders(out, seen))
        return written


def _settle_folders(out: Path, seen: Mapping[str, tuple[int, int, int] | None]) -> dict[str, tuple[int, int, int]]:
    """The stats of ``out``'s folders: as the survey saw them, ``lstat``-ed now where the patch changed
    them (the exchange moved the folders, not their stats); {} if one is not a folder any more."""
    settled: dict[str, tuple[int, int, int]] = {}
    base = os.fspath(out)
    for name, known in seen.items():
        if known is None:
            try:
                info = os.lstat(f"{base}/{name}" if name else base)
            except OSError:
                return {}
            if not stat.S_ISDIR(info.st_mode):
                return {}
            known = (info.st_mtime_ns, info.st_ino, info.st_ctime_ns)
        settled[name] = known
    return settled


def keep_spare(folder: Path, out: Path, old_tree: Path, old_journal: Mapping[str, _Entry],
               old_folders: FolderStats | None = None, lease: SpareLease | None = None) -> bool:
    """After a whole-tree swap, keep the swapped-out tree ``old_tree`` as the spare (instead of deleting it).

    ``old_journal``: the journal of ``out`` before the swap (it describes ``old_tree`` where nobody
    changed it since; :func:`patch_spare` checks); ``old_folders``: its folders as last seen whole
    (as :func:`write_tree_spare`'s ``out_folders``). False when it cannot be kept (the caller deletes it).
    ``lease``: as :func:`write_tree_spare`'s.
    """
    if not old_journal:
        return False
    spare = spare_path(folder, out)
    try:
        with _locked(folder, lease, out) as mine:
            if not mine:
                return False
            if spare.exists():  # one that could not be exchanged in: replaced (rare, so slow is fine)
                _rmtree(spare)
            os.rename(old_tree, spare)
            _write_spare_journal(folder, out, old_journal, old_folders)
            return True
    except OSError:  # another filesystem, a read-only cache folder: delete it instead
        return False
