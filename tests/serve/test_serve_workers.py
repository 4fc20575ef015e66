"""`paybill serve --workers 2`: one command, two server processes on one socket.

Calls of one run spread over both workers stop at the agent's limit exactly (ops-agent: 30 calls a
minute), each worker writes its own decision log (a chain has one writer), a scrape of /metrics
counts every worker's calls whichever worker answers it, SIGTERM stops all of them with exit 0,
and a worker that dies on its own takes the server down (exit 1) instead of leaving it half there.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson
import pytest
from clients import call, http_client, run
from serve_support import PAYBILL, ROOT, HttpServer, ServeWorld, start_http
from test_serve_replicas import CALLS_PER_MINUTE, patient_call
from test_serve_shadow_authzen import _post, _question, _records
from test_serve_shadow_authzen import candidate as candidate  # the fixture, asked for by name

from paybill.guard import verify_log

pytestmark = pytest.mark.postgres

CONNECTIONS = 16
"""Clients with their own connections: the kernel hashes each to a worker (all 16 on one: 2 in 65,536)."""


def children(pid: int) -> list[int]:
    """The worker processes of the server ``pid`` (Linux /proc)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def worker_logs(server: HttpServer) -> list[Path]:
    assert server.log is not None
    return [server.log.with_name(f"{server.log.stem}.{i}{server.log.suffix}") for i in (1, 2)]


def _spread(server: HttpServer) -> tuple[list[tuple[bool, dict[str, object]]], str]:
    """CALLS_PER_MINUTE + 10 reads of one run from CONNECTIONS clients (own connections) at once."""

    async def body() -> tuple[list[tuple[bool, dict[str, object]]], str]:
        async with http_client(server.url, server.token) as first:
            _, started = await call(first, "start_run", tenant="beta-co", workflow="incident-response")
        rid = str(started["run_id"])

        async def client(calls: int) -> list[tuple[bool, dict[str, object]]]:
            async with http_client(server.url, server.token) as c:
                return [await patient_call(c, "read_tickets", run_id=rid, tenant="beta-co", columns=["id"])
                        for _ in range(calls)]

        total = CALLS_PER_MINUTE + 10
        shares = [total // CONNECTIONS + (1 if i < total % CONNECTIONS else 0) for i in range(CONNECTIONS)]
        done = await asyncio.gather(*(client(n) for n in shares))
        return [r for part in done for r in part], rid

    return run(body)


def test_two_workers_share_a_run_and_stop_at_the_limit_exactly(serve_world: ServeWorld, tmp_path: Path) -> None:
    server = start_http(serve_world, tmp_path, extra=("--workers", "2"))
    try:
        assert len(children(server.process.pid)) == 2
        results, rid = _spread(server)
        allowed = [data for ok, data in results if ok]
        denied = [data for ok, data in results if not ok]
        assert len(allowed) == CALLS_PER_MINUTE, [d.get("violations") for d in denied]
        assert len(denied) == 10 and all("limit.maxCallsPerMinute" in d.get("violations", []) for d in denied)
        # both workers decided calls of the run, each in its own hash chain
        logs = worker_logs(server)
        runs_in = [sum(1 for line in log.read_text().splitlines() if rid in line) for log in logs]
        assert all(n > 0 for n in runs_in), runs_in
        assert sum(runs_in) >= CALLS_PER_MINUTE + 10
        for _ in range(4):  # fresh connections: whichever worker answers counts every worker's calls
            metrics = httpx.get(server.url.replace("/mcp", "/metrics"),
                                headers={"Authorization": f"Bearer {server.token}"}, timeout=30).text
            counted = sum(float(m) for m in re.findall(
                r'paybill_serve_decisions_total\{[^}]*tool="read_tickets"[^}]*\} (\S+)', metrics))
            assert counted >= len(results), metrics
    finally:
        code = server.stop()
        time.sleep(0.2)  # the rest of its standard error
        assert code == 0, "".join(server.stderr)
    for log in worker_logs(server):
        assert verify_log(log).ok
    assert not server.log.exists()  # type: ignore[union-attr]  # no third, shared log


def listening(port: int) -> int:
    """How many sockets listen on 127.0.0.1:``port`` (Linux /proc/net/tcp; state 0A is LISTEN)."""
    address = f"0100007F:{port:04X}"
    return sum(1 for line in Path("/proc/net/tcp").read_text().splitlines()[1:]
               if line.split()[1] == address and line.split()[3] == "0A")


def test_sigterm_stops_every_worker_with_exit_0(serve_world: ServeWorld, tmp_path: Path) -> None:
    server = start_http(serve_world, tmp_path, extra=("--workers", "2"), log=False)
    workers = children(server.process.pid)
    assert len(workers) == 2
    # a listening socket per worker (SO_REUSEPORT): the kernel spreads connections over both, instead
    # of the first worker awake accepting every pending one
    assert listening(int(server.url.rsplit(":", 1)[1].split("/")[0])) == 2

    async def body() -> tuple[bool, dict[str, object]]:
        async with http_client(server.url, server.token) as client:
            return await call(client, "start_run", tenant="beta-co", workflow="incident-response")

    assert run(body)[0]
    assert server.stop() == 0
    for pid in workers:
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()


def test_a_worker_that_dies_takes_the_server_down(serve_world: ServeWorld, tmp_path: Path) -> None:
    server = start_http(serve_world, tmp_path, extra=("--workers", "2"), log=False)
    workers = children(server.process.pid)
    assert len(workers) == 2
    os.kill(workers[0], signal.SIGKILL)
    try:
        assert server.process.wait(timeout=30) == 1
    finally:
        server.stop()
    deadline = time.monotonic() + 10
    while Path(f"/proc/{workers[1]}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not Path(f"/proc/{workers[1]}").exists()
    assert any("worker 1 ended on its own" in line or "worker 2 ended on its own" in line for line in server.stderr)


def test_workers_need_the_http_transport(serve_world: ServeWorld) -> None:
    done = subprocess.run([*PAYBILL, "serve", "--bundle", str(serve_world.bundle), "--catalog",
                           str(serve_world.catalog), "--database-url", serve_world.dsn, "--workers", "2"],
                          capture_output=True, text=True, cwd=ROOT, timeout=60, check=False,
                          stdin=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert done.returncode == 2 and "--workers needs --transport http" in done.stderr


def threads(pid: int) -> int:
    return len(list(Path(f"/proc/{pid}/task").iterdir()))


def test_calls_beyond_the_pool_wait_on_the_event_loop_not_in_threads(serve_world: ServeWorld,
                                                                     tmp_path: Path) -> None:
    """A pool of 2: twelve calls at once start at most 2 worker threads (the rest wait in the event
    loop's limiter); more threads could only park on the pool's lock and fight for the GIL."""
    server = start_http(serve_world, tmp_path, extra=("--pool-size", "2"), log=False)
    try:
        async def one(client) -> str:  # type: ignore[no-untyped-def]
            ok, started = await call(client, "start_run", tenant="beta-co", workflow="incident-response")
            assert ok
            return str(started["run_id"])

        async def body() -> tuple[int, int]:
            async with http_client(server.url, server.token) as client:
                rid = await one(client)  # the first worker thread and the pool's connections exist now
                before = threads(server.process.pid)
                async with contextlib.AsyncExitStack() as stack:
                    opened = [await stack.enter_async_context(http_client(server.url, server.token))
                              for _ in range(12)]
                    done = await asyncio.gather(*(patient_call(c, "read_tickets", run_id=rid, tenant="beta-co",
                                                               columns=["id"]) for c in opened))
                assert all(ok for ok, _ in done)
                return before, threads(server.process.pid)

        before, after = run(body)
        assert after - before <= 1, (before, after)
    finally:
        assert server.stop() == 0


def test_workers_shadow_and_authzen(serve_world: ServeWorld, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """Each worker writes its own shadow log (``shadow.1.jsonl``, ``shadow.2.jsonl``) and answers
    AuthZEN requests on the shared address."""
    candidate: Path = request.getfixturevalue("candidate")
    shadow_log = tmp_path / "shadow.jsonl"
    server = start_http(serve_world, tmp_path, log=False, extra=(
        "--workers", "2", "--shadow", str(candidate), "--shadow-log", str(shadow_log), "--authzen"))
    try:
        async def body() -> list[tuple[bool, dict[str, object]]]:
            async def client() -> tuple[bool, dict[str, object]]:
                async with http_client(server.url, server.token) as c:
                    _, started = await call(c, "start_run", tenant="beta-co", workflow="incident-response")
                    # current allows assignee, the candidate would not: a would-deny line per call
                    return await call(c, "read_tickets", run_id=started["run_id"], tenant="beta-co",
                                      columns=["id", "assignee"])

            return list(await asyncio.gather(*(client() for _ in range(CONNECTIONS))))

        results = run(body)
        assert all(ok for ok, _ in results)
        answers = [_post(server, "/access/v1/evaluation", orjson.dumps(_question()), server.token)
                   for _ in range(4)]
        assert all(a.status_code == 200 and a.json()["decision"] is True for a in answers)
    finally:
        code = server.stop()
        time.sleep(0.2)
        assert code == 0, "".join(server.stderr)
    logs = [tmp_path / f"shadow.{i}.jsonl" for i in (1, 2)]
    records = [r for log in logs for r in _records(log)]
    assert [r["kind"] for r in records] == ["would-deny"] * CONNECTIONS
    assert all(_records(log) for log in logs)  # both workers served some of the calls
    assert not shadow_log.exists()


def test_workers_refuse_an_address_another_server_listens_on(serve_world: ServeWorld, tmp_path: Path) -> None:
    """SO_REUSEPORT would let a second --workers server (same user) join the first one's port and
    split its connections silently: the second must refuse to start instead (PB1305)."""
    first = start_http(serve_world, tmp_path, extra=("--workers", "2"), log=False)
    try:
        port = first.url.rsplit(":", 1)[1].split("/")[0]
        done = subprocess.run([*PAYBILL, "serve", "--bundle", str(serve_world.bundle), "--catalog",
                               str(serve_world.catalog), "--database-url", serve_world.dsn, "--transport", "http",
                               "--listen", f"127.0.0.1:{port}", "--workers", "2"],
                              capture_output=True, text=True, cwd=ROOT, timeout=120, check=False,
                              stdin=subprocess.DEVNULL, env={**os.environ, "PAYBILL_SERVE_TOKEN": first.token})
        assert done.returncode == 1 and "error[PB1305]" in done.stderr, done.stderr
        assert listening(int(port)) == 2  # still only the first server's two sockets
    finally:
        assert first.stop() == 0
