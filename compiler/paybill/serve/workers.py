"""``paybill serve --workers N``: N pre-forked server processes sharing one listening socket.

Why processes: a call is mostly Python (HTTP, JSON-RPC, the guard, the wire), so one process runs
on one core at most (the GIL) however many clients it has; N processes can use N cores. Why
fork after start-up: the parent verifies the bundle, the catalog, the token, the database and binds
the socket once, reports any problem as a PB13xx diagnostic and only then forks, so every worker
serves the same verified bundle and a start-up problem is never reported N times. What a worker
must own is made in it, after the fork: its PostgreSQL pool (a connection must never be shared
between processes), its event loop, and the file descriptors of its own decision and shadow logs.

The kernel spreads new connections over the workers that ``accept`` on the shared socket. Nothing
else is shared in memory: run state is in PostgreSQL, so limits hold exactly across workers as
across replicas (:mod:`paybill.serve.state`), and each worker's optimistic run cache is versioned.

The parent only supervises:

* SIGTERM or SIGINT: it forwards SIGTERM to every worker, which stops accepting, finishes its calls in
  flight and closes its pool (as a single process does), then it exits 0 once all have; a worker
  still running ``graceful_seconds`` plus a margin later is killed;
* a worker that ends on its own (a crash, a database that refused its pool) is not replaced: the
  server fails closed as a whole - the parent stops the other workers gracefully and exits 1, so the
  service manager (systemd, Kubernetes) restarts a server whose state is known;
* workers never outlive the parent: on Linux the kernel sends them SIGTERM when it dies
  (``PR_SET_PDEATHSIG``); elsewhere they check their parent once after the fork.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from types import FrameType

_PR_SET_PDEATHSIG = 1
KILL_MARGIN_SECONDS = 5.0
"""How long after the graceful period a worker that has not ended is killed."""
_POLL_SECONDS = 0.05


class WorkerError(RuntimeError):
    """Workers cannot be forked here (no ``fork``, or the parent already runs other threads)."""


def worker_path(path: Path, index: int, count: int) -> Path:
    """The file of worker ``index`` (1-based) of ``count`` for a per-process log at ``path``.

    One worker keeps ``path`` itself; with more, ``decisions.jsonl`` becomes ``decisions.1.jsonl``,
    ``decisions.2.jsonl``... - stable across restarts, so each hash chain is continued by the worker
    of the same number (a chain has exactly one writer).
    """
    if count == 1:
        return path
    return path.with_name(f"{path.stem}.{index}{path.suffix}")


def _die_with_parent(parent: int) -> None:
    if sys.platform.startswith("linux"):
        # CDLL(None): the symbols already loaded, libc's among them
        with contextlib.suppress(OSError, AttributeError):  # no usable libc: the getppid check remains
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _child(index: int, parent: int, work: Callable[[int, Callable[[], None]], int], ready_fd: int) -> None:
    """Run worker ``index`` in the forked child and leave with its exit status (never returns)."""
    code = 1

    def ready() -> None:
        os.write(ready_fd, b"r")
        os.close(ready_fd)

    try:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, signal.SIG_DFL)  # the parent's forwarding handlers are not the worker's
        _die_with_parent(parent)
        code = work(index, ready)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # the worker's last word goes to standard error, then it exits 1
        traceback.print_exc()
        code = 1
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)  # no atexit handler or finally of the parent runs twice


def supervise(count: int, work: Callable[[int, Callable[[], None]], int], *, graceful_seconds: float,
              started: Callable[[], None] | None = None) -> int:
    """Fork ``count`` workers running ``work(index, ready)`` (index 1-based) and supervise them; the
    exit status.

    A worker calls ``ready()`` once it can serve (its pool is open), right before it accepts.
    ``started`` runs in the parent once every worker is ready (``paybill serve`` prints its address
    then): whoever waits for that line finds all of them accepting, instead of the first one ready
    taking every connection opened in the meantime.

    0 when the workers ended because the parent was asked to stop (SIGTERM, SIGINT) and each exited
    0; 1 when a worker ended on its own or any worker's exit status was not 0.
    """
    if not hasattr(os, "fork"):
        raise WorkerError("--workers needs fork(), which this platform does not have")
    if threading.active_count() != 1:
        # a child would inherit any lock another thread held at the instant of the fork
        raise WorkerError("cannot fork workers from a process that runs other threads")
    parent = os.getpid()
    stopping = threading.Event()
    children: dict[int, int] = {}
    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    for signum in previous:  # before the first fork: a signal in between must not kill the parent alone
        signal.signal(signum, stop)
    failed = False
    ready_read, ready_write = os.pipe()
    waiting = count
    try:
        for index in range(1, count + 1):
            pid = os.fork()
            if pid == 0:
                os.close(ready_read)
                _child(index, parent, work, ready_write)
            children[pid] = index
        os.close(ready_write)
        ready_write = -1
        os.set_blocking(ready_read, False)
        deadline: float | None = None
        forwarded = False
        while children:
            if waiting:
                with contextlib.suppress(BlockingIOError):
                    waiting -= len(os.read(ready_read, count))
                if not waiting and not stopping.is_set() and started is not None:
                    started()
            if stopping.is_set() and not forwarded:
                forwarded = True
                deadline = time.monotonic() + graceful_seconds + KILL_MARGIN_SECONDS
                _signal_all(children, signal.SIGTERM)
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                if deadline is not None and time.monotonic() > deadline:
                    failed = True
                    _signal_all(children, signal.SIGKILL)
                    deadline = None
                time.sleep(_POLL_SECONDS)
                continue
            index = children.pop(pid, 0)
            code = os.waitstatus_to_exitcode(status)
            if code == -signal.SIGTERM and stopping.is_set():
                code = 0  # stopped before its server had installed its own handlers: nothing was in flight
            if code != 0 or not stopping.is_set():
                failed = True
                if not stopping.is_set():
                    print(f"paybill serve: worker {index} ended on its own (exit status {code}); stopping the "
                          f"others", file=sys.stderr, flush=True)
                stopping.set()
    finally:
        os.close(ready_read)
        if ready_write >= 0:  # a fork failed before the parent closed its end
            os.close(ready_write)
        if children:  # an exception in the parent itself: no worker may be left behind
            _signal_all(children, signal.SIGKILL)
            for pid in children:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, 0)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 1 if failed else 0


def _signal_all(children: dict[int, int], signum: int) -> None:
    for pid in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)


__all__ = ["WorkerError", "supervise", "worker_path"]
