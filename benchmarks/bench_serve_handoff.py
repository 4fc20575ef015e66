"""The event loop -> worker thread -> event loop hand-off of one ``paybill serve`` tool call, alone.

A call of ``paybill serve`` runs in a worker thread (psycopg and the guard are synchronous), so every
call pays for handing it from the event loop to a thread and the result back. This measures that
hand-off with a function that does nothing, 16 concurrent callers on uvloop (as in the server), a
pool of 8 threads (the server's default pool size), alternately in the same run:

* ``anyio``: ``anyio.to_thread.run_sync(fn, limiter=CapacityLimiter(8))`` (what the server used);
* ``executor``: ``loop.run_in_executor(ThreadPoolExecutor(8), fn)`` (what it uses now,
  :func:`paybill.serve.mcp_app.build_server`).

CPU microseconds per call of this process (``time.process_time``) and wall microseconds per call,
with the load average: on a shared machine, compare the rows of the same round.

Usage: ``python benchmarks/bench_serve_handoff.py [CALLS]`` (default 20000 per measurement).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor

import anyio
import anyio.to_thread
import uvloop

CALLERS = 16
THREADS = 8


def nothing() -> int:
    return 1


async def measure(mode: str, calls: int) -> tuple[float, float]:
    """(CPU us, wall us) per hand-off for ``mode``, after a warm-up of the same size."""
    loop = asyncio.get_running_loop()
    limiter = anyio.CapacityLimiter(THREADS)
    executor = ThreadPoolExecutor(THREADS)
    hand: Callable[[], Awaitable[int]]
    if mode == "anyio":
        def hand() -> Awaitable[int]:
            return anyio.to_thread.run_sync(nothing, limiter=limiter)
    else:
        def hand() -> Awaitable[int]:
            return loop.run_in_executor(executor, nothing)

    async def caller(n: int) -> None:
        for _ in range(n):
            await hand()

    result = (0.0, 0.0)
    for _ in range(2):  # the first pass starts the threads
        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.gather(*(caller(calls // CALLERS) for _ in range(CALLERS)))
        result = (1e6 * (time.process_time() - cpu) / calls, 1e6 * (time.perf_counter() - wall) / calls)
    executor.shutdown()
    return result


def main(argv: list[str]) -> int:
    calls = int(argv[0]) if argv and argv[0].isdigit() else 20000
    rows: dict[str, list[tuple[float, float]]] = {"anyio": [], "executor": []}
    loads = []
    for round_ in range(3):
        loads.append(os.getloadavg()[0])
        for mode in ("anyio", "executor")[:: 1 if round_ % 2 == 0 else -1]:
            cpu, wall = uvloop.run(measure(mode, calls))
            rows[mode].append((cpu, wall))
            print(f"round {round_ + 1}: {mode:<9} {cpu:6.1f} us CPU/call  {wall:6.1f} us wall/call")
    print(f"hand-off of a tool call to a worker thread and back ({CALLERS} callers, {THREADS} threads, uvloop, "
          f"{os.cpu_count()} CPUs, load average {min(loads):.1f}-{max(loads):.1f}):")
    for mode, found in rows.items():
        print(f"  {mode:<9} median {statistics.median(c for c, _ in found):6.1f} us CPU/call, "
              f"{statistics.median(w for _, w in found):6.1f} us wall/call")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
