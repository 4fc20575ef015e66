"""Open only regular files, and read them with a size cap: the guard never blocks or reads without end.

Shared by the guard (:mod:`paybill.guard.files` re-exports it), ``paybill db`` (compiled SQL folders,
export manifests) and ``paybill apply`` (manifests, job plans). Every file the guard opens (bundle
files, the public key, the decision log, replay traces, the revision store) comes from a path someone
else chose. A FIFO would block ``open()`` forever and a
device (``/dev/zero``) would be read without end, so each file is opened with ``O_NONBLOCK``
(opening a FIFO returns at once), checked with ``fstat`` to be a regular file, and read up to a
cap. Symbolic links are followed on purpose: Kubernetes mounts ConfigMaps and Secrets as links into
a ``..data`` folder, and what matters is what the link resolves to, which ``fstat`` checks.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

CHUNK = 65536  # pragma: no mutate (read size while skipping an overlong line; any size works)


class FileRefused(OSError):
    """A path is not a regular file, cannot be opened, or is larger than allowed (message says which)."""


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def open_regular(path: str | Path, flags: int = os.O_RDONLY,
                 mode: int = 0o644) -> int:  # pragma: no mutate (mode only matters with O_CREAT, given then)
    """A descriptor of ``path`` opened with ``flags``, or :class:`FileRefused` if it is not a regular file.

    ``O_NONBLOCK`` is added for the open only (a FIFO would otherwise block it) and cleared again, so
    writes to the regular file behave as usual.
    """
    try:
        fd = os.open(path, flags | os.O_NONBLOCK | os.O_CLOEXEC, mode)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise FileRefused(f"cannot open {Path(path).as_posix()}: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FileRefused(f"{Path(path).as_posix()} is {_kind(info.st_mode)}, not a regular file")
        os.set_blocking(fd, True)  # pragma: no mutate (no effect on a regular file; kept for clarity)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_regular(path: str | Path, limit: int) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them (else :class:`FileRefused`).

    The cap holds while reading, so a file that grows after ``fstat`` is still refused, not read on.
    """
    fd = open_regular(path)
    with os.fdopen(fd, "rb") as handle:
        if os.fstat(fd).st_size > limit:  # refuse before reading; the check after the read agrees
            raise FileRefused(f"{Path(path).as_posix()} is larger than {limit} bytes")  # pragma: no mutate
        data = handle.read(limit + 1)  # pragma: no mutate (any read past the cap detects "larger")
    if len(data) > limit:
        raise FileRefused(f"{Path(path).as_posix()} is larger than {limit} bytes")
    return data


def open_regular_binary(path: str | Path) -> BinaryIO:
    """A buffered binary reader on the regular file ``path`` (for streaming logs and traces)."""
    return os.fdopen(open_regular(path), "rb")


def bounded_lines(handle: BinaryIO, limit: int) -> Iterator[bytes | None]:
    """Lines of ``handle`` (with their newline), each read with at most ``limit`` bytes in memory.

    A longer line is consumed to its end and yielded as None, so a caller reports it and goes on.
    """
    while True:
        line = handle.readline(limit + 1)
        if not line:
            return
        if len(line) <= limit or line.endswith(b"\n"):
            yield line
            continue
        while line and not line.endswith(b"\n"):
            line = handle.readline(CHUNK)
        yield None
