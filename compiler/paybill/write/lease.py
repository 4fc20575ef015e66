"""Hold the spare tree for a whole compile, and survey it on the second core meanwhile.

Patching the spare tree (:mod:`paybill.write.spare`) starts with a survey that proves the spare is
what its journal says: at 10,000 tenants ~25,000 ``lstat`` calls and the Python around them, about
0.2 s, a third of a one-tenant compile. Nothing about the survey depends on what the compile will
write, only on the spare and its journal, so it can run from the start of ``paybill compile``,
in a forked child (:class:`paybill.forked.ForkedCall`), while the parent scans the spec files and
decides what to write (a delta patch or the stages). By the time the writer needs the survey it is
usually done: the compile's wall time no longer pays for it.

A survey is only valid while nobody changes the spare, so the lease takes the spare trees' lock
*before* the child starts and keeps it until the compile ends; the writer then uses the lease
instead of locking again (:func:`paybill.write.spare.write_tree_spare`,
:func:`paybill.write.spare.keep_spare`). The child reads the spare's journal itself; its answer is
used only when the journal the writer reads is that very cache entry (same stat,
:attr:`SpareSurvey.journal_key`); otherwise, and whenever the child failed or no fork is possible,
the writer surveys in process as before. The survey is never trusted beyond what it proves: files
that differ from the journal are written again, exactly as with an in-process survey.
"""

from __future__ import annotations

import errno
import fcntl
import os
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from paybill.forked import ForkedCall, can_fork

TREES_FOLDER = "trees"
"""The sub-folder of the cache folder that holds spare trees (one per output folder) and their lock."""

FileStat = tuple[int, int, int]
"""(size, mtime_ns, inode) of a file, or (mtime_ns, inode, ctime_ns) of a folder."""


class SpareSurvey(NamedTuple):
    """What a survey of the spare tree found (:func:`paybill.write.spare.survey_spare`)."""

    differ: list[str]
    """Regular files whose (size, mtime_ns, inode) is not their journal entry's (or that it lacks)."""
    absent: list[str]
    """Files of the journal that are not regular files of the spare any more. The other files of the
    journal are there with its stat: only these differences cross the pipe from the child (~25,000
    stats were ~2 MB to pickle and ~10 ms to unpickle in the compile at 10,000 tenants)."""
    folders: list[str]
    """Every folder (relative path)."""
    odd: list[str]
    """Anything that is neither (a symlink, a FIFO...): never ours, removed by the patch."""
    seen: dict[str, FileStat]
    """Folders ``lstat``-ed by the survey -> (mtime_ns, inode, ctime_ns), as taken then."""
    journal_key: tuple[int, int, int, int]
    """Which spare journal it was made for: the (size, mtime_ns, inode, ctime_ns) of its cache entry
    (entries are replaced by rename, never rewritten in place, so another journal has another stat)."""


@dataclass
class SpareLease:
    """The spare trees' lock, held from the start of a compile to its end, and a survey running ahead.

    Use as a context manager (:meth:`take` returns None when the lock is held elsewhere: then the
    writer behaves as without a lease, and takes the linked path).
    """

    folder: Path
    """The cache folder."""
    out: Path
    """The output folder (absolute)."""
    _lock: int
    _ahead: ForkedCall[SpareSurvey | None] | None = None

    @classmethod
    def take(cls, folder: Path, out: Path, survey_ahead: bool = True) -> SpareLease | None:
        """Lock the spare trees of ``folder`` (without waiting) and, if there is a spare for ``out``, start
        surveying it in a forked child. None when another compile holds the lock, no lock can be made, or
        the cache folder holds no spare tree at all (then nothing is created)."""
        out = Path(os.path.abspath(out))
        if not (folder / TREES_FOLDER).is_dir():
            return None  # no spare yet: nothing to hold, and a compile that fails must create nothing
        try:
            lock = os.open(folder / TREES_FOLDER / ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError:
            return None
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(lock)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            return None
        lease = cls(folder, out, lock)
        if survey_ahead and can_fork():
            from paybill.write.spare import spare_path, survey_spare

            if spare_path(folder, out).is_dir():
                lease._ahead = ForkedCall(survey_spare, folder, out)
        return lease

    def survey(self, journal_key: tuple[int, int, int, int] | None) -> SpareSurvey | None:
        """The survey made ahead, if it was made for the spare journal whose entry has this stat
        (:func:`paybill.write.spare.spare_journal_key`); once: later calls get None."""
        ahead, self._ahead = self._ahead, None
        if ahead is None:
            return None
        try:
            found = ahead.result()
        except Exception:  # WorkerDied or what the child raised: the writer surveys in process, and meets it
            return None
        if found is None or journal_key is None or found.journal_key != journal_key:
            return None
        return found

    def close(self) -> None:
        """Stop a survey nobody used, and release the lock."""
        if self._ahead is not None:
            self._ahead.cancel()
            self._ahead = None
        if self._lock >= 0:
            os.close(self._lock)
            self._lock = -1

    def __enter__(self) -> SpareLease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
