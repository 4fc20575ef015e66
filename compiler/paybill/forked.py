"""Run one function call in a forked child process and collect its result.

A compile is CPU-bound Python on a machine that usually has a second core idle: loading half the
spec files, or writing finished output files while later emitters still run, can happen there.
``fork`` is what makes that cheap: the child starts with the parent's memory (the spec files list,
the emitted bytes) for free, so only the child's *answer* crosses a pipe, pickled.

Children never outlive the parent: on Linux the kernel kills them when it dies
(``PR_SET_PDEATHSIG``), and elsewhere they check who their parent is. They leave with
``os._exit``, so no ``atexit`` handler, buffered stdout or ``finally`` of the parent runs twice.

Where ``fork`` is missing (Windows), ``PAYBILL_NO_FORK=1`` is set or the process runs other threads,
:func:`can_fork` is False and callers do the work in-process: the results are the same, only slower.

When a stage splits its work is one setting, :class:`Parallelism`, made once by the compile driver
and passed down to every stage that can split (loading, Terraform, the independent emitters, the
streaming writer); no stage keeps a threshold of its own.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pickle
import signal
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")
Item = TypeVar("Item")
Here = TypeVar("Here")
NO_FORK_ENV = "PAYBILL_NO_FORK"
MIN_ITEMS_ENV = "PAYBILL_PARALLEL_MIN_ITEMS"
DEFAULT_MIN_ITEMS = 2000
"""Below this many items (spec files to parse, stacks to build, files to write) a stage stays in one
process: forking and pickling the answer back cost more than the second core saves."""
_PR_SET_PDEATHSIG = 1


class WorkerDied(RuntimeError):
    """The child ended without an answer (killed, or crashed below Python)."""


def can_fork() -> bool:
    """Whether work may be handed to forked children here.

    Not from a process that runs other threads: a child would inherit any lock one of them held at
    the instant of the fork, with no thread left to release it (Python 3.12 warns about it too).
    """
    return (hasattr(os, "fork") and sys.platform != "win32" and os.environ.get(NO_FORK_ENV, "") in ("", "0")
            and threading.active_count() == 1)


def _die_with_parent(parent: int) -> None:
    if sys.platform.startswith("linux"):
        # CDLL(None): the symbols already loaded, libc's among them (find_library would run ldconfig)
        with contextlib.suppress(OSError, AttributeError):  # no usable libc: the getppid checks remain
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(3)


def parent_alive(parent: int) -> bool:
    """For long loops in a child: False once ``parent`` has died (the child was re-parented)."""
    return os.getppid() == parent


def _write_all(descriptor: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view):]


def _read_all(descriptor: int) -> bytes:
    chunks = []
    while chunk := os.read(descriptor, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


def _answer(func: Callable[..., Any], args: tuple[Any, ...]) -> tuple[int, bytes]:
    try:
        return 0, pickle.dumps(("ok", func(*args)), protocol=pickle.HIGHEST_PROTOCOL)
    except BaseException as exc:  # every failure must reach the parent, not vanish
        try:
            return 1, pickle.dumps(("raise", exc), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # one that does not pickle is still reported
            return 1, pickle.dumps(("raise", RuntimeError(f"{type(exc).__name__}: {exc}")))


class ForkedCall(Generic[T]):
    """``func(*args)`` running in a forked child; :meth:`result` waits for it.

    The child inherits the parent's memory, so ``args`` are not copied or pickled; only the return
    value (or the exception) is pickled back. Call :meth:`result` or :meth:`cancel` exactly once.
    """

    def __init__(self, func: Callable[..., T], *args: Any) -> None:
        parent = os.getpid()
        readable, writable = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child's lines run in another process
            status = 4
            try:
                os.close(readable)
                _die_with_parent(parent)
                status, payload = _answer(func, args)
                _write_all(writable, payload)
            finally:
                os._exit(status)
        os.close(writable)
        self.pid = pid
        self._pipe: int | None = readable
        self._status: int | None = None

    def result(self) -> T:
        """The child's return value; its exception is raised here, in the parent."""
        try:
            data = _read_all(self._pipe) if self._pipe is not None else b""
        finally:
            status = self._reap()
        if not data:
            raise WorkerDied(f"worker process {self.pid} ended without an answer (wait status {status})")
        tag, value = pickle.loads(data)
        if tag == "raise":
            raise value
        result: T = value  # what call() returned in the child, unpickled
        return result

    def cancel(self) -> None:
        """Kill the child (if still running) and reap it."""
        if self._status is not None:
            return
        with contextlib.suppress(ProcessLookupError):  # it may have ended already
            os.kill(self.pid, signal.SIGKILL)
        self._reap()

    def _reap(self) -> int:
        if self._pipe is not None:
            os.close(self._pipe)
            self._pipe = None
        if self._status is None:
            try:
                self._status = os.waitpid(self.pid, 0)[1]
            except ChildProcessError:  # pragma: no cover - reaped by someone else
                self._status = -1
        return self._status


@dataclass(frozen=True)
class Parallelism:
    """Whether a stage may hand part of its work to a forked helper, and from how many items on.

    One value per compile, made by the driver (:func:`paybill.compile.pipeline.compile_repository`,
    ``paybill compile``) from the environment and passed down; stages only ask :meth:`worth_it` or
    call :meth:`split_in_two`. It changes how fast a compile is, never what it produces: a stage's
    parts are pure functions of their inputs, merged in order (``tests/compile/test_compile_parallel.py``
    compares every byte and diagnostic with one process).
    """

    enabled: bool = True
    min_items: int = DEFAULT_MIN_ITEMS

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Parallelism:
        """``PAYBILL_NO_FORK=1``: one process; ``PAYBILL_PARALLEL_MIN_ITEMS=N``: split from N items on."""
        environ = os.environ if environ is None else environ
        try:
            minimum = max(1, int(environ.get(MIN_ITEMS_ENV, "") or DEFAULT_MIN_ITEMS))
        except ValueError:
            minimum = DEFAULT_MIN_ITEMS
        return cls(enabled=environ.get(NO_FORK_ENV, "") in ("", "0"), min_items=minimum)

    def available(self) -> bool:
        """Whether a helper may run here now (enabled, and :func:`can_fork`)."""
        return self.enabled and can_fork()

    def worth_it(self, items: int) -> bool:
        """Whether ``items`` items are worth a helper, and a helper may run here now."""
        return items >= self.min_items and self.available()

    def split_in_two(
        self,
        items: list[Item],
        here: Callable[[list[Item]], Here],
        apart: Callable[[list[Item]], T],
        split_at: Callable[[list[Item]], int] | None = None,
    ) -> tuple[Here, T | None]:
        """:func:`split_in_two` when :meth:`worth_it`, else ``(here(items), None)``."""
        if not self.worth_it(len(items)):
            return here(items), None
        return split_in_two(items, here, apart, split_at)


SERIAL = Parallelism(enabled=False)
"""Everything in this process."""


def split_in_two(
    items: list[Item],
    here: Callable[[list[Item]], Here],
    apart: Callable[[list[Item]], T],
    split_at: Callable[[list[Item]], int] | None = None,
) -> tuple[Here, T | None]:
    """``here`` on the first part of ``items`` in this process, ``apart`` on the rest in a helper.

    Where helpers cannot run, ``here`` gets every item and the second result is None. ``split_at``
    says where the helper's part starts (default: half). The caller merges the two results, in
    order, so that they equal ``here(items)``. Stages call :meth:`Parallelism.split_in_two`, which
    also decides whether the split is worth it.
    """
    if not can_fork():
        return here(items), None
    cut = split_at(items) if split_at is not None else len(items) // 2
    helper = ForkedCall(apart, items[cut:])
    try:
        mine = here(items[:cut])
        return mine, helper.result()
    finally:
        helper.cancel()  # only does something when ``here`` or ``result`` raised
