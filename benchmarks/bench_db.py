"""Overhead of ``paybill.guard.db`` per read against a bare psycopg query on the same data.

Setup: the example specs' ``pool-gcp-usc1-shared`` SQL applied to a scratch database on the local
PostgreSQL, 20 tickets per tenant, the ops-agent bundle loaded, a login that is only in
``paybill_guard``. Each round, interleaved:

* bare: ``SELECT id, subject, status, priority, assignee FROM crm.tickets WHERE tenant_id = %s
  LIMIT 21`` on an autocommit connection (superuser, no role, no settings, no guard);
* guarded: ``db.read(run, "tickets", [same columns])``: catalog lookup, ``run.check`` (Cedar),
  transaction, role + tenant + timeout + read-only in one ``set_config`` round trip, the same
  select under row-level security, the row cap, settling the run's counters;
* check only: ``run.check`` alone, to split the overhead into guard and database parts.

A fresh run is started every 25 reads (outside the timing) so the agent's calls-per-minute and
row limits never deny. Target: guarded p50 - bare p50 < 1 ms. Prints p50/p90/p99 in microseconds.

Usage: ``python benchmarks/bench_db.py [READS]`` (default 3000). Needs PostgreSQL 15 at
``PAYBILL_TEST_PG`` (default ``host=127.0.0.1 port=5432 user=postgres dbname=test``).
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from paybill.contract.sql_catalog import plan_from_catalog
from paybill.diagnostics import DiagnosticSink
from paybill.emit.bundles import emit_bundles
from paybill.emit.contract import EmitContext
from paybill.emit.sql import emit_sql
from paybill.emit.sql.apply import apply, verify
from paybill.guard import Guard
from paybill.guard.db import GuardedDatabase
from paybill.validate import validate_repository

ROOT = Path(__file__).resolve().parents[1]
DSN = os.environ.get("PAYBILL_TEST_PG", "host=127.0.0.1 port=5432 user=postgres dbname=test")
DATABASE = "pool-gcp-usc1-shared"
TENANTS = ("initech", "pied-piper")
ROWS_PER_TENANT = 20
COLUMNS = ["id", "subject", "status", "priority", "assignee"]
RUN_LENGTH = 25
TARGET_MS = 1.0


def dsn(database: str, user: str | None = None) -> str:
    params = psycopg.conninfo.conninfo_to_dict(DSN)
    params["dbname"] = database
    if user:
        params["user"] = user
    return psycopg.conninfo.make_conninfo(**params)  # type: ignore[arg-type]


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    q = statistics.quantiles(ordered, n=100, method="inclusive")
    return statistics.median(ordered), q[89], q[98]


def measure(call: Callable[[], Any], times: list[float]) -> None:
    start = time.perf_counter_ns()
    call()
    times.append((time.perf_counter_ns() - start) / 1000)


def main(argv: list[str]) -> int:
    reads = int(argv[0]) if argv and argv[0].isdigit() else 3000
    index = validate_repository(ROOT / "specs").index
    tree = emit_sql(EmitContext(index=index, sink=DiagnosticSink()))
    files = {p.split("/")[-1]: b for p, b in tree.items() if p.startswith(f"sql/{DATABASE}/")}
    catalog = plan_from_catalog(json.loads(files["migrations.json"])["catalog"])
    name, login = f"pbbench_{secrets.token_hex(4)}", f"pbbench_login_{secrets.token_hex(4)}"
    try:
        admin = psycopg.connect(DSN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        print(f"PostgreSQL not reachable at '{DSN}': {exc}".strip(), file=sys.stderr)
        return 2
    roles_before = {r[0] for r in admin.execute(r"SELECT rolname FROM pg_roles WHERE rolname LIKE 'paybill\_%'")}
    admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        with psycopg.connect(dsn(name)) as conn:
            apply(conn, verify(files))
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN IN ROLE paybill_guard").format(sql.Identifier(login)))
        bare = psycopg.connect(dsn(name), autocommit=True)
        bare.execute(
            "INSERT INTO crm.tickets (tenant_id, id, customer_id, subject, status, priority, created_at) "
            "SELECT t, gen_random_uuid(), gen_random_uuid(), 'subject ' || i, 'open', 'p2', now() "
            "FROM unnest(%s::text[]) AS t, generate_series(1, %s) AS i", (list(TENANTS), ROWS_PER_TENANT))
        bare.execute("ANALYZE crm.tickets")
        with tempfile.TemporaryDirectory(prefix="paybill-bench-") as tmp:
            for path, body in emit_bundles(EmitContext(index=index, sink=DiagnosticSink())).items():
                (Path(tmp) / path).parent.mkdir(parents=True, exist_ok=True)
                (Path(tmp) / path).write_bytes(body)
            guard = Guard.load(Path(tmp) / "bundles" / "ops-agent")
        db = GuardedDatabase.connect(dsn(name, login), catalog)
        bare_query = "SELECT id, subject, status, priority, assignee FROM crm.tickets WHERE tenant_id = %s LIMIT %s"
        bare_times: list[float] = []
        guarded_times: list[float] = []
        check_times: list[float] = []
        run = guard.start(tenant=TENANTS[0], workflow="incident-response")
        for i in range(reads + 200):  # the first 200 are warm-up (prepared statements, caches)
            if i % RUN_LENGTH == 0:
                run = guard.start(tenant=TENANTS[0], workflow="incident-response")
                check_run = guard.start(tenant=TENANTS[0], workflow="incident-response")
            warm = i >= 200
            gc.disable()
            measure(lambda: bare.execute(bare_query, (TENANTS[0], ROWS_PER_TENANT + 1)).fetchall(),
                    bare_times if warm else [])
            result: list[Any] = []
            measure(lambda r=run, out=result: out.append(db.read(r, "tickets", COLUMNS)),
                    guarded_times if warm else [])
            measure(lambda r=check_run: r.check("read", "tickets", columns=COLUMNS, rows=0),
                    check_times if warm else [])
            gc.enable()
            assert len(result[0].rows) == ROWS_PER_TENANT
        (b50, b90, b99), (g50, g90, g99), (c50, c90, c99) = map(percentiles, (bare_times, guarded_times, check_times))
        print(f"reads: {reads} each, {ROWS_PER_TENANT} rows x {len(COLUMNS)} columns per read, local PostgreSQL "
              f"{admin.info.server_version // 10000}, psycopg {psycopg.__version__}")
        print(f"bare psycopg select        p50 {b50:7.0f} us   p90 {b90:7.0f} us   p99 {b99:7.0f} us")
        print(f"guard.db read              p50 {g50:7.0f} us   p90 {g90:7.0f} us   p99 {g99:7.0f} us")
        print(f"  of which run.check       p50 {c50:7.0f} us   p90 {c90:7.0f} us   p99 {c99:7.0f} us")
        overhead = (g50 - b50) / 1000
        print(f"overhead per read at p50: {overhead:.3f} ms (target < {TARGET_MS} ms): "
              f"{'ok' if overhead < TARGET_MS else 'MISSED'}")
        db.close()
        bare.close()
        return 0 if overhead < TARGET_MS else 1
    finally:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(login)))
        created = {r[0] for r in admin.execute(r"SELECT rolname FROM pg_roles WHERE rolname LIKE 'paybill\_%'")}
        for role in sorted(created - roles_before, key=lambda r: r == "paybill_guard"):
            with contextlib.suppress(psycopg.Error):  # still used by another database on this server
                admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
        admin.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
