"""An MCP tool call through ``paybill serve`` (HTTP) against a bare psycopg floor, in the same run.

Setup: the example specs' ``pool-gcp-usc1-shared`` SQL applied to a scratch database, 20 tickets per
tenant, the ops-agent bundle compiled with limits high enough for a benchmark run, a login that is
only in ``paybill_guard`` (plus CREATE for the run-state schema), and ``paybill serve --transport
http`` started as its own process, as in production. Measured, interleaved per round:

* floor: the same ``SELECT`` (5 columns, one tenant's 20 rows) on bare psycopg connections, one per
  client thread: no MCP, no guard, no role, no run state;
* sequential, Python: one official ``mcp`` Python client calling ``read_tickets`` in a loop (latency;
  it speaks the current, stateless protocol 2026-07-28: one POST per call, no handshake);
* sequential, raw: one Node client sending exactly those POSTs (``examples/typescript-agent/load.mjs``
  with ``MODE=raw``): the latency with the lightest client this machine can run;
* concurrent, TypeScript SDK: CLIENTS (default 16) clients of the official MCP TypeScript SDK in one
  Node process (handshake-era protocol 2025-11-25, served by the Python SDK's stateless transport);
* concurrent, raw: CLIENTS raw clients in one Node process (protocol 2026-07-28), the throughput
  phase of the target;
* concurrent, raw, replicas: the same CLIENTS raw clients spread round-robin over REPLICAS (default
  2, ``BENCH_REPLICAS``) ``paybill serve`` processes on their own loopback ports with the same
  bundle, database and token, as a gateway spreads them (``load.mjs`` takes a comma-separated URL
  list): one process is one core at most (the GIL), replicas can use both. It runs right before or
  after the one-process phase in every round (alternating), and every round's pair is printed;
  its server CPU is the sum over the replicas;
* MCP floor, 1 and CLIENTS raw clients: ``benchmarks/mcp_floor.py``, the same SDK server, HTTP
  stack and result shapes with tools that do nothing (no guard, no PostgreSQL): what any Python
  MCP server on this SDK costs per call; ``paybill serve`` minus this is paybill's own cost.

Every client calls ``read_tickets`` on its own run and starts a new run every RUN_LENGTH calls (run
starts are part of the load). Every call of paybill includes: HTTP + JSON-RPC, schema validation,
the run row locked and continued from PostgreSQL, Cedar, the read as the agent's role for the
tenant under row-level security, the run's new state written back, all in one transaction.
Targets: p50 <= 2 ms and >= 1,000 calls/s with 16 clients.

Why the load comes from Node: the clients run on the same two cores as the server and PostgreSQL,
and the Python client costs more CPU per call than the server itself; a Node client is an MCP client
at a fraction of that. The CPU line of each phase says where a call's time goes: CPU seconds per
call of the server process, the client process and the PostgreSQL backends serving the bench
database (Linux ``/proc``), so a throughput short of the target reads as "the server costs X, the
client Y, PostgreSQL Z: the machine's ceiling is N" rather than a guess.

Before/after in one run: ``BENCH_SERVE_BASELINE=DIR`` (the ``compiler`` folder of another revision,
e.g. ``git archive REV compiler | tar -x -C /tmp/base``) serves a second ``paybill serve`` from that
code on the same database, and each round measures its 1 and CLIENTS raw clients right after this
revision's; every round's pair is printed (``BENCH_ROUNDS``, default 2).

Usage: ``python benchmarks/bench_serve.py [CALLS]`` (default 4000 per concurrent phase). Without
``node`` or ``examples/typescript-agent/node_modules`` (``make install-node-example``) the Node
phases are skipped and the targets are reported as not measured.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
DSN = os.environ.get("PAYBILL_TEST_PG", "host=127.0.0.1 port=5432 user=postgres dbname=test")
DATABASE = "pool-gcp-usc1-shared"
TENANTS = ("initech", "pied-piper")
ROWS_PER_TENANT = 20
COLUMNS = ["id", "subject", "status", "priority", "assignee"]
RUN_LENGTH = 50
TARGET_P50_MS = 2.0
TARGET_RATE = 1000.0
LIMITS = ("    maxCallsPerMinute: 30\n", "    maxCallsPerMinute: 100000\n")


def dsn(database: str, user: str | None = None) -> str:
    params = psycopg.conninfo.conninfo_to_dict(DSN)
    params["dbname"] = database
    if user:
        params["user"] = user
    return psycopg.conninfo.make_conninfo(**params)  # type: ignore[arg-type]


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), statistics.quantiles(ordered, n=100, method="inclusive")[98]


def build(tmp: Path) -> tuple[dict[str, bytes], Path, Path]:
    """Compile the example specs (ops-agent limits raised) into a SQL folder and a bundle."""
    from paybill.diagnostics import DiagnosticSink
    from paybill.emit.bundles import emit_bundles
    from paybill.emit.contract import EmitContext
    from paybill.emit.sql import emit_sql
    from paybill.validate import validate_repository

    specs = tmp / "specs"
    shutil.copytree(ROOT / "specs", specs)
    agent = specs / "agents" / "ops-agent.yaml"
    text = agent.read_text(encoding="utf-8")
    assert LIMITS[0] in text
    agent.write_text(text.replace(*LIMITS).replace("maxRowsRead: 2000", "maxRowsRead: 10000000")
                     .replace("budgetUnits: 5000", "budgetUnits: 10000000")
                     .replace("maxWallTimeSeconds: 300", "maxWallTimeSeconds: 86400"), encoding="utf-8")
    index = validate_repository(specs).index
    tree = emit_sql(EmitContext(index=index, sink=DiagnosticSink()))
    files = {p.split("/")[-1]: b for p, b in tree.items() if p.startswith(f"sql/{DATABASE}/")}
    catalog = tmp / "sql" / DATABASE
    catalog.mkdir(parents=True)
    for name, body in files.items():
        (catalog / name).write_bytes(body)
    for path, body in emit_bundles(EmitContext(index=index, sink=DiagnosticSink())).items():
        (tmp / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp / path).write_bytes(body)
    return files, catalog, tmp / "bundles" / "ops-agent"


def floor(database: str, clients: int, calls: int) -> tuple[float, float, float]:
    """(calls/s, p50 ms, p99 ms) of the bare SELECT with ``clients`` threads."""
    query = "SELECT id, subject, status, priority, assignee FROM crm.tickets WHERE tenant_id = %s LIMIT %s"
    times: list[float] = []
    lock = threading.Lock()
    per = calls // clients

    def worker(i: int) -> None:
        mine = []
        with psycopg.connect(dsn(database), autocommit=True) as conn:
            for _ in range(20):
                conn.execute(query, (TENANTS[0], ROWS_PER_TENANT + 1)).fetchall()
            for _ in range(per):
                start = time.perf_counter()
                conn.execute(query, (TENANTS[0], ROWS_PER_TENANT + 1)).fetchall()
                mine.append(time.perf_counter() - start)
        with lock:
            times.extend(mine)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    p50, p99 = percentiles(times)
    return len(times) / elapsed, p50 * 1000, p99 * 1000


async def _client_loop(url: str, token: str, tenant: str, calls: int, times: list[float]) -> None:
    import httpx
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http, \
            Client(streamable_http_client(url, http_client=http)) as client:
        run = ""
        for i in range(calls):
            start = time.perf_counter()
            if i % RUN_LENGTH == 0:
                started = await client.call_tool("start_run", {"tenant": tenant, "workflow": "incident-response"})
                run = started.structured_content["run_id"]
            result = await client.call_tool("read_tickets", {"run_id": run, "tenant": tenant, "columns": COLUMNS})
            times.append(time.perf_counter() - start)
            if result.is_error or result.structured_content["count"] != ROWS_PER_TENANT:
                raise RuntimeError(f"unexpected result: {result.structured_content}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (Linux /proc; 0.0 elsewhere or when gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """The child processes of ``pid`` (Linux /proc; none elsewhere): a ``--workers`` server's workers."""
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


class Meter:
    """CPU seconds of the server process(es) and of the PostgreSQL backends of the bench database."""

    def __init__(self, admin: psycopg.Connection[Any], database: str, *server_pids: int) -> None:
        self.admin, self.database, self.server_pids = admin, database, server_pids

    def servers(self) -> float:
        """CPU seconds of all server processes together (replicas are one server to the client), each
        with its worker processes (``--workers``)."""
        return sum(cpu_seconds(pid) + sum(cpu_seconds(child) for child in children(pid)) for pid in self.server_pids)

    def backends(self) -> dict[int, float]:
        pids = [r[0] for r in self.admin.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s",
                                                 (self.database,))]
        return {pid: cpu_seconds(pid) for pid in pids}

    def start(self) -> tuple[float, dict[int, float]]:
        return self.servers(), self.backends()

    def stop(self, started: tuple[float, dict[int, float]]) -> tuple[float, float]:
        """(server, PostgreSQL) CPU seconds since ``started`` (a backend that ended is not counted)."""
        server, before = started
        after = self.backends()
        return self.servers() - server, sum(v - before.get(pid, 0.0) for pid, v in after.items())


class Phase:
    """One measured phase: latencies, wall seconds, and CPU seconds of client, server and PostgreSQL."""

    def __init__(self, times: list[float], elapsed: float, client: float, server: float, postgres: float) -> None:
        self.times, self.elapsed = times, elapsed
        self.client, self.server, self.postgres = client, server, postgres

    @property
    def rate(self) -> float:
        return len(self.times) / self.elapsed

    def line(self, label: str) -> str:
        p50, p99 = percentiles(self.times)
        n = len(self.times)
        return (f"{label:<44} {self.rate:7.0f} calls/s   p50 {p50 * 1000:6.2f} ms   p99 {p99 * 1000:6.2f} ms   "
                f"CPU/call: server {1000 * self.server / n:.2f}, client {1000 * self.client / n:.2f}, "
                f"PostgreSQL {1000 * self.postgres / n:.2f} ms")

    def to_json(self) -> dict[str, Any]:
        p50, p99 = percentiles(self.times)
        n = len(self.times)
        return {"calls": n, "rate": self.rate, "p50_ms": p50 * 1000, "p99_ms": p99 * 1000,
                "cpu_ms": {"server": 1000 * self.server / n, "client": 1000 * self.client / n,
                           "postgres": 1000 * self.postgres / n}}


def python_sequential(url: str, token: str, calls: int, meter: Meter) -> Phase:
    """One official Python client, calls in a loop, in this process."""
    times: list[float] = []
    started, cpu, wall = meter.start(), time.process_time(), time.perf_counter()
    asyncio.run(_client_loop(url, token, TENANTS[0], calls, times))
    elapsed, client = time.perf_counter() - wall, time.process_time() - cpu
    server, postgres = meter.stop(started)
    return Phase(times, elapsed, client, server, postgres)


NODE_EXAMPLE = ROOT / "examples" / "typescript-agent"


def node() -> str | None:
    """The node binary when it and the example's dependencies are installed, else None."""
    found = shutil.which("node")
    if found is None or not (NODE_EXAMPLE / "node_modules" / "@modelcontextprotocol" / "sdk").is_dir():
        return None
    return found


def node_phase(binary: str, mode: str, url: str, token: str, clients: int, calls: int, meter: Meter) -> Phase:
    """``load.mjs`` in one Node process: ``clients`` clients, ``calls`` calls in all."""
    env = {**os.environ, "PAYBILL_MCP_URL": url, "PAYBILL_SERVE_TOKEN": token, "TENANT": TENANTS[0],
           "CLIENTS": str(clients), "CALLS": str(calls), "RUN_LENGTH": str(RUN_LENGTH),
           "ROWS": str(ROWS_PER_TENANT), "MODE": mode}
    started = meter.start()
    done = subprocess.run([binary, "load.mjs"], cwd=NODE_EXAMPLE, env=env, capture_output=True, text=True,
                          timeout=900, check=False)
    server, postgres = meter.stop(started)
    if done.returncode != 0:
        raise RuntimeError(f"load.mjs ({mode}) failed: {done.stderr[-2000:]}")
    out = json.loads(done.stdout.strip().splitlines()[-1])
    return Phase([t / 1000 for t in out["times"]], out["elapsed"], out["cpu"], server, postgres)


def start_mcp_floor() -> tuple[subprocess.Popen[str], str]:
    """``benchmarks/mcp_floor.py`` as a process (the SDK's server, tools that do nothing), and its URL."""
    process = subprocess.Popen([sys.executable, str(ROOT / "benchmarks" / "mcp_floor.py"), str(ROWS_PER_TENANT)],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    found = re.search(r"listening on (\S+)", process.stderr.readline())
    if not found:
        process.kill()
        raise RuntimeError("benchmarks/mcp_floor.py did not start")
    return process, found.group(1)


def start_server(bundle: Path, catalog: Path, database_url: str, token: str, code: str = "", workers: int = 1
                 ) -> tuple[subprocess.Popen[str], str]:
    """``paybill serve --transport http`` as a process, and its URL; ``code``: a ``compiler`` folder of
    another revision to serve from instead (``BENCH_SERVE_BASELINE``: before/after in one run)."""
    env = {**os.environ, "PAYBILL_SERVE_TOKEN": token}
    if code:
        env["PYTHONPATH"] = code
    process = subprocess.Popen(
        [sys.executable, "-m", "paybill", "serve", "--bundle", str(bundle), "--catalog", str(catalog),
         "--database-url", database_url, "--transport", "http", "--listen", "127.0.0.1:0",
         "--pool-size", os.environ.get("BENCH_POOL", "8"), "--rate", "100000",
         *(("--workers", str(workers)) if workers > 1 else ())],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    assert process.stderr is not None
    line = process.stderr.readline()
    found = re.search(r"listening on (\S+)", line)
    if not found:
        process.kill()
        raise RuntimeError(f"paybill serve did not start: {line}{process.stderr.read()}")
    threading.Thread(target=process.stderr.read, daemon=True).start()
    return process, found.group(1)


def best(phases: list[Phase]) -> Phase:
    return max(phases, key=lambda p: p.rate)


def main(argv: list[str]) -> int:
    calls = int(argv[0]) if argv and argv[0].isdigit() else 4000
    clients = int(os.environ.get("BENCH_CLIENTS", "16"))
    name, login = f"pbbench_serve_{secrets.token_hex(4)}", f"pbbench_serve_{secrets.token_hex(4)}"
    try:
        admin = psycopg.connect(DSN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        print(f"PostgreSQL not reachable at '{DSN}': {exc}".strip(), file=sys.stderr)
        return 2
    roles_before = {r[0] for r in admin.execute(r"SELECT rolname FROM pg_roles WHERE rolname LIKE 'paybill\_%'")}
    admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    server = baseline = None
    replicas: list[subprocess.Popen[str]] = []
    replica_count = int(os.environ.get("BENCH_REPLICAS", "2"))
    worker_count = int(os.environ.get("BENCH_WORKERS", "2"))
    quick = os.environ.get("BENCH_QUICK", "") not in ("", "0")
    workers_server: subprocess.Popen[str] | None = None
    baseline_code = os.environ.get("BENCH_SERVE_BASELINE", "")
    mcp_floor: tuple[subprocess.Popen[str], str] | None = None
    try:
        with tempfile.TemporaryDirectory(prefix="paybill-bench-serve-") as tmp_name:
            from paybill.emit.sql.apply import apply, verify

            files, catalog, bundle = build(Path(tmp_name))
            with psycopg.connect(dsn(name)) as conn:
                apply(conn, verify(files))
            admin.execute(sql.SQL("CREATE ROLE {} LOGIN IN ROLE paybill_guard").format(sql.Identifier(login)))
            admin.execute(sql.SQL("GRANT CREATE ON DATABASE {} TO {}").format(sql.Identifier(name),
                                                                               sql.Identifier(login)))
            with psycopg.connect(dsn(name), autocommit=True) as bare:
                bare.execute(
                    "INSERT INTO crm.tickets (tenant_id, id, customer_id, subject, status, priority, created_at) "
                    "SELECT t, gen_random_uuid(), gen_random_uuid(), 'subject ' || i, 'open', 'p2', now() "
                    "FROM unnest(%s::text[]) AS t, generate_series(1, %s) AS i", (list(TENANTS), ROWS_PER_TENANT))
                bare.execute("ANALYZE crm.tickets")
            token = secrets.token_urlsafe(24)
            server, url = start_server(bundle, catalog, dsn(name, login), token)
            if baseline_code:
                baseline, baseline_url = start_server(bundle, catalog, dsn(name, login), token, baseline_code)
                baseline_meter = Meter(admin, name, baseline.pid)
            meter = Meter(admin, name, server.pid)
            # the replicas: the first is the one-process server itself, the others listen on their own ports
            replica_urls = [url]
            for _ in range(replica_count - 1):
                replica, replica_url = start_server(bundle, catalog, dsn(name, login), token)
                replicas.append(replica)
                replica_urls.append(replica_url)
            replicas_url = ",".join(replica_urls)
            replicas_meter = Meter(admin, name, server.pid, *(r.pid for r in replicas))
            workers_url = ""
            if worker_count > 1:  # one `paybill serve --workers N` command: the parent and its workers
                workers_server, workers_url = start_server(bundle, catalog, dsn(name, login), token,
                                                           workers=worker_count)
                workers_meter = Meter(admin, name, workers_server.pid)
            binary = node()
            if binary:
                mcp_floor = start_mcp_floor()
                floor_url = mcp_floor[1]
                floor_meter = Meter(admin, name, mcp_floor[0].pid)
            # warm-up: the pool's connections, prepared statements, Cedar caches, thread pools, JIT
            python_sequential(url, token, 100, meter)
            if binary:
                node_phase(binary, "raw", url, token, clients, max(400, calls // 10), meter)
                node_phase(binary, "raw", floor_url, token, clients, max(400, calls // 10), floor_meter)
                if replicas:
                    node_phase(binary, "raw", replicas_url, token, clients, max(400, calls // 10), replicas_meter)
                if workers_url:
                    node_phase(binary, "raw", workers_url, token, clients, max(400, calls // 10), workers_meter)
                if baseline_code:
                    node_phase(binary, "raw", baseline_url, token, clients, max(400, calls // 10), baseline_meter)
            phases: dict[str, list[Phase]] = {"python-1": [], "raw-1": [], "sdk-n": [], "raw-n": [],
                                              "repl-n": [], "work-n": [], "mcp-1": [], "mcp-n": [],
                                              "base-1": [], "base-n": []}
            fl = []
            loads = []
            for round_ in range(int(os.environ.get("BENCH_ROUNDS", "2"))):  # interleaved, best kept (shared machine)
                loads.append(os.getloadavg()[0])
                fl.append(floor(name, clients, calls))
                if not quick:
                    phases["python-1"].append(python_sequential(url, token, max(400, calls // 10), meter))
                if binary:
                    phases["raw-1"].append(node_phase(binary, "raw", url, token, 1, max(400, calls // 10), meter))
                    if not quick:
                        phases["sdk-n"].append(node_phase(binary, "sdk", url, token, clients, calls, meter))
                    # one process, --workers and the replicas back to back, the order rotating every round
                    order = ["raw-n", "work-n", "repl-n"]
                    for which in order[round_ % 3:] + order[:round_ % 3]:
                        if which == "raw-n":
                            phases["raw-n"].append(node_phase(binary, "raw", url, token, clients, calls, meter))
                        elif which == "work-n" and workers_url:
                            phases["work-n"].append(node_phase(binary, "raw", workers_url, token, clients, calls,
                                                               workers_meter))
                        elif which == "repl-n" and replicas:
                            phases["repl-n"].append(node_phase(binary, "raw", replicas_url, token, clients, calls,
                                                               replicas_meter))
                    if not quick:
                        phases["mcp-1"].append(node_phase(binary, "raw", floor_url, token, 1, max(400, calls // 10),
                                                          floor_meter))
                        phases["mcp-n"].append(node_phase(binary, "raw", floor_url, token, clients, calls,
                                                          floor_meter))
                    if baseline_code:  # the same phases against the other revision, right after
                        phases["base-1"].append(node_phase(binary, "raw", baseline_url, token, 1,
                                                           max(400, calls // 10), baseline_meter))
                        phases["base-n"].append(node_phase(binary, "raw", baseline_url, token, clients, calls,
                                                           baseline_meter))
            loads.append(os.getloadavg()[0])
            f_rate, f50, f99 = max(fl)
            print(f"paybill serve over streamable HTTP (stateless, JSON), official mcp client {_mcp_version()}, "
                  f"{ROWS_PER_TENANT} rows x {len(COLUMNS)} columns per call, PostgreSQL "
                  f"{admin.info.server_version // 10000}, {os.cpu_count()} CPUs, load average "
                  f"{min(loads):.1f}-{max(loads):.1f}")
            print(f"{'floor: bare psycopg, ' + str(clients) + ' threads':<44} {f_rate:7.0f} calls/s   "
                  f"p50 {f50:6.2f} ms   p99 {f99:6.2f} ms")
            labels = {"mcp-1": "MCP floor (SDK, no-op tools): 1 raw client",
                      "mcp-n": f"MCP floor (SDK, no-op tools): {clients} raw",
                      "python-1": "serve: 1 official Python client", "raw-1": "serve: 1 raw client (Node)",
                      "sdk-n": f"serve: {clients} TypeScript SDK clients (Node)",
                      "raw-n": f"serve: {clients} raw clients (Node)",
                      "repl-n": f"serve x{replica_count} replicas: {clients} raw clients",
                      "work-n": f"serve --workers {worker_count}: {clients} raw clients",
                      "base-1": "baseline revision: 1 raw client (Node)",
                      "base-n": f"baseline revision: {clients} raw clients (Node)"}
            for key, label in labels.items():
                if phases[key]:
                    print(best(phases[key]).line(label))
            for i, (before, after) in enumerate(zip(phases["base-n"], phases["raw-n"], strict=False)):
                print(before.line(f"round {i + 1}: baseline, {clients} raw"))
                print(after.line(f"round {i + 1}: this revision, {clients} raw"))
            for i, one in enumerate(phases["raw-n"]):
                print(one.line(f"round {i + 1}: 1 process, {clients} raw"))
                if i < len(phases["work-n"]):
                    print(phases["work-n"][i].line(f"round {i + 1}: --workers {worker_count}, {clients} raw"))
                if i < len(phases["repl-n"]):
                    print(phases["repl-n"][i].line(f"round {i + 1}: {replica_count} replicas, {clients} raw"))
            if not binary:
                print("Node phases skipped: node or examples/typescript-agent/node_modules missing "
                      "(make install-node-example)")
                print(json.dumps({"floor": fl, "phases": {k: [p.to_json() for p in v] for k, v in phases.items()}}))
                return 2
            seq, conc = best(phases["raw-1"]), best(phases["raw-n"])
            n = len(conc.times)
            per_call = (conc.server + conc.client + conc.postgres) / n
            print(f"ratio to floor ({clients} clients): {f_rate / conc.rate:.1f}x fewer calls/s; CPU per call of "
                  f"all three {1000 * per_call:.2f} ms: {os.cpu_count()} idle CPUs would cap this at "
                  f"{(os.cpu_count() or 1) / per_call:.0f} calls/s")
            if phases["mcp-n"]:
                sdk = best(phases["mcp-n"])
                print(f"paybill's own CPU per call (serve minus the MCP floor's server): "
                      f"{1000 * (conc.server / n - sdk.server / len(sdk.times)):.2f} ms; one server process is one "
                      f"core at most (the GIL): {n / conc.server:.0f} calls/s at this CPU per call")
            s50 = percentiles(seq.times)[0] * 1000
            spread_rate = best(phases["repl-n"]).rate if phases["repl-n"] else 0.0
            workers_rate = best(phases["work-n"]).rate if phases["work-n"] else 0.0
            ok = s50 <= TARGET_P50_MS and max(conc.rate, workers_rate, spread_rate) >= TARGET_RATE
            print(f"targets: p50 <= {TARGET_P50_MS} ms (1 raw client: {s50:.2f}), >= {TARGET_RATE:.0f} calls/s with "
                  f"{clients} clients (1 process {conc.rate:.0f}"
                  + (f", --workers {worker_count} {workers_rate:.0f}" if phases["work-n"] else "")
                  + (f", {replica_count} replicas {spread_rate:.0f}" if phases["repl-n"] else "")
                  + f"): {'ok' if ok else 'MISSED'}")
            print(json.dumps({"floor": fl, "load": loads,
                              "phases": {k: [p.to_json() for p in v] for k, v in phases.items()}}))
            return 0 if ok else 1
    finally:
        for process in (mcp_floor[0] if mcp_floor else None, baseline, workers_server, *replicas, server):
            if process is not None and process.poll() is None:
                process.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=20)
        if server is not None and server.poll() is None:
            server.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.wait(timeout=20)
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(login)))
        created = {r[0] for r in admin.execute(r"SELECT rolname FROM pg_roles WHERE rolname LIKE 'paybill\_%'")}
        for role in sorted(created - roles_before, key=lambda r: r == "paybill_guard"):
            with contextlib.suppress(psycopg.Error):
                admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
        admin.close()


def _mcp_version() -> str:
    from importlib.metadata import version

    return version("mcp")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
