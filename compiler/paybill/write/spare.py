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
                ) -> tuple[dict[str, _Entry], int]:
    """Turn the tree in ``spare`` (described by ``journal``) into exactly ``tree`` plus ``kept``.

    Returns the journal of the patched tree and how many files were written. ``digests``: SHA-256
    of ``tree``'s files where already known (path -> digest), so they are not hashed again.
    ``kept``: files whose bytes the compile did not read (path -> SHA-256); the spare's copy is kept
    when its journal has that digest, otherwise the bytes are read from ``source`` (the output
    folder) and checked by digest (:class:`~paybill.write.journal.KeptFileChanged`).
    """
    in_place = kept if kept is not None else {}
    delay = float(os.environ.get(DELAY_ENV, "0") or 0)
    present, folders, odd = _survey(spare)
    for rel in odd:  # a symlink, a socket...: never ours
        os.unlink(spare / rel)
    fresh: dict[str, _Entry] = {}
    written = 0
    for rel, stat in present.items():
        known = journal.get(rel)
        if (rel not in tree and rel not in in_place) or known is None or not isinstance(known, tuple) \
                or len(known) != 4 or known[:3] != stat:
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
                     out_journal: Mapping[str, _Entry] | None = None) -> int | None:
    """Replace ``out`` with exactly ``tree`` by patching the spare tree and exchanging it in.

    Returns how many files were written, or None when this path cannot be taken (no spare or
    journal yet, no ``RENAME_EXCHANGE``, another filesystem, the lock held elsewhere): then nothing
    was changed and the caller writes the tree another way (after which :func:`keep_spare` keeps
    the tree it swapped out). Raises like :func:`paybill.write.tree.write_tree`. ``kept``: as
    :func:`patch_spare` (their bytes, when needed, come from ``out``, before it is exchanged).
    ``out_journal``: ``out``'s journal if the caller loaded it (it becomes the spare's).
    """
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
        spare_journal = store.read(folder, _spare_journal_name(out))
        if not isinstance(spare_journal, dict):
            return None
        if out_journal is None:
            out_journal = load_journal(folder, out)
        # From here the spare is being changed: its journal no longer describes it until saved again.
        store.write(folder, _spare_journal_name(out), {})
        fresh, written = patch_spare(spare, tree, spare_journal, digests, progress, kept, out)
        if not exchange(spare, out):
            return None  # the spare stays (its empty journal makes the next patch rewrite it all)
        save_journal(folder, out, fresh)
        store.write(folder, _spare_journal_name(out), dict(out_journal))  # what `out` held is the spare now
        return written


def keep_spare(folder: Path, out: Path, old_tree: Path, old_journal: Mapping[str, _Entry]) -> bool:
    """After a whole-tree swap, keep the swapped-out tree ``old_tree`` as the spare (instead of deleting it).

    ``old_journal``: the journal of ``out`` before the swap (it describes ``old_tree`` where nobody
    changed it since; :func:`patch_spare` checks). False when it cannot be kept (the caller deletes it).
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
            store.write(folder, _spare_journal_name(out), dict(old_journal))
            return True
    except OSError:  # another filesystem, a read-only cache folder: delete it instead
        return False
