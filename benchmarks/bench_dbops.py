"""``paybill db`` on a big pooled database: drift, export, erase against their floors; migrate per database.

Setup (not timed): the example specs with 2,000 tenants pooled in ``aws-use1-shared`` (pool capacity
raised), its SQL compiled and migrated into a scratch database on the local PostgreSQL, then
1,000,000 rows (per tenant: 125 customers, 250 invoices, 125 tickets) plus the rows of 12 tenants
that are deleted at HEAD of a scratch git repository (``retainUntil`` passed), to erase.

Each round, interleaved, best round kept (this machine is shared; timings swing by 30 % or more):

* drift: ``check_drift`` of the whole database (roles, grants, RLS, policies with 2,000-tenant scope
  lists, columns, settings). Target <= 2 s.
* export: ``paybill db export`` of one tenant (new connection, isolation checks, role and tenant set,
  three COPYs, files and manifest) vs the floor: a new connection and ``COPY (SELECT * FROM t WHERE
  tenant_id = %s ORDER BY key) TO STDOUT`` of the same tables, bytes read and discarded. Target <= 2x.
* erase: ``paybill db erase`` of one deleted tenant with its export manifest (HEAD check, manifest
  hashes, isolation checks, lock, counts, DELETEs under RLS, ledger row) vs the floor: a new
  connection and one transaction of bare ``DELETE ... WHERE tenant_id = %s`` for another deleted
  tenant of the same size. Target <= 2x.

Then ``paybill db migrate`` of 200 fresh databases in sequence (each a silo tenant's folder),
reporting the time per database.

Usage: ``python benchmarks/bench_dbops.py [--tenants N] [--rows N] [--rounds N] [--databases N]``.
Needs PostgreSQL 15 at ``PAYBILL_TEST_PG`` (default ``host=127.0.0.1 port=5432 user=postgres
dbname=test``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from paybill.dbops.drift import check_drift
from paybill.dbops.erase import erase
from paybill.dbops.export import export
from paybill.dbops.folder import read_folder
from paybill.dbops.migrate import migrate
from paybill.diagnostics import DiagnosticSink
from paybill.emit.contract import EmitContext
from paybill.emit.sql import emit_sql
from paybill.validate import validate_repository

ROOT = Path(__file__).resolve().parents[1]
DSN = os.environ.get("PAYBILL_TEST_PG", "host=127.0.0.1 port=5432 user=postgres dbname=test")
POOL = "pool-aws-use1-shared"
SILO = "tenant-globex"
GONE = 12
TODAY = datetime.date(2026, 12, 1)
SHARE = {"customers": 1, "invoices": 2, "tickets": 1}  # 500 rows per tenant at 1,000,000 / 2,000


def dsn(database: str) -> str:
    params = psycopg.conninfo.conninfo_to_dict(DSN)
    params["dbname"] = database
    return psycopg.conninfo.make_conninfo(**params)  # type: ignore[arg-type]


@contextmanager
def scratch(prefix: str) -> Iterator[str]:
    name = f"pbbench_{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        with psycopg.connect(DSN, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def tenant_names(count: int) -> list[str]:
    return [f"bench-{i:05d}" for i in range(count)]


def compile_folders(tenants: list[str], target: Path) -> Path:
    """Specs with ``tenants`` pooled in aws-use1-shared; returns ``<target>/generated`` (sql/ only)."""
    specs = target / "specs"
    shutil.copytree(ROOT / "specs", specs)
    pool = specs / "pools" / "aws-use1-shared.yaml"
    pool.write_text(pool.read_text().replace("maxTenants: 200", f"maxTenants: {len(tenants) + 100}"))
    template = (specs / "tenants" / "hooli.yaml").read_text()
    for i, name in enumerate(tenants):
        (specs / "tenants" / f"{name}.yaml").write_text(
            template.replace("name: hooli", f"name: {name}").replace("cus_60a9cc3a975f0b", f"cus_bench{i:08d}"))
    result = validate_repository(specs)
    assert result.ok, [d.message for d in result.diagnostics][:5]
    sink = DiagnosticSink()
    tree = emit_sql(EmitContext(index=result.index, sink=sink))
    assert not sink.has_errors, sink.sorted()[:5]
    generated = target / "generated"
    for path, body in tree.items():
        file = generated / path
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_bytes(body)
    return generated


def seed(conn: psycopg.Connection[Any], tenants: list[str], per_tenant: int) -> None:
    unit = per_tenant // sum(SHARE.values())
    conn.execute("SET synchronous_commit = off")
    conn.execute(
        "INSERT INTO crm.customers (tenant_id, id, name, email, created_at)"
        " SELECT t, gen_random_uuid(), 'customer ' || g, 'c' || g || '@example.com', now()"
        " FROM unnest(%s::text[]) AS t, generate_series(1, %s) AS g", (tenants, unit * SHARE["customers"]))
    conn.execute(
        "INSERT INTO crm.invoices (tenant_id, id, customer_id, amount_cents, currency, status, due_date, issued_at)"
        " SELECT t, gen_random_uuid(), gen_random_uuid(), g * 100, 'EUR', 'open', date '2026-01-01' + g %% 300, now()"
        " FROM unnest(%s::text[]) AS t, generate_series(1, %s) AS g", (tenants, unit * SHARE["invoices"]))
    conn.execute(
        "INSERT INTO crm.tickets (tenant_id, id, customer_id, subject, body, status, priority, created_at)"
        " SELECT t, gen_random_uuid(), gen_random_uuid(), 'subject ' || g, repeat('body ', 20), 'open', 'p2', now()"
        " FROM unnest(%s::text[]) AS t, generate_series(1, %s) AS g", (tenants, unit * SHARE["tickets"]))
    conn.execute("ANALYZE")


def commit_deleted(repo: Path, gone: list[str]) -> None:
    for name in gone:
        file = repo / "generated" / "tenants" / f"{name}.json"
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(json.dumps({"tenant": name, "lifecycle": "deleted", "retainUntil": "2026-11-01"}) + "\n")
    for args in (["init", "-q"], ["add", "-A"],
                 ["-c", "user.name=bench", "-c", "user.email=b@example.com", "commit", "-qm", "deleted"]):
        subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def timed(call: Callable[[], Any]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def floor_export(url: str, tenant: str, tables: list[tuple[str, str, tuple[str, ...]]]) -> None:
    with psycopg.connect(url) as conn:
        for schema, table, key in tables:
            query = sql.SQL("COPY (SELECT * FROM {} WHERE tenant_id = {} ORDER BY {}) TO STDOUT").format(
                sql.Identifier(schema, table), sql.Literal(tenant), sql.SQL(", ").join(map(sql.Identifier, key)))
            with conn.cursor().copy(query) as copy:
                for _ in copy:
                    pass


def floor_delete(url: str, tenant: str, tables: list[tuple[str, str, tuple[str, ...]]]) -> None:
    with psycopg.connect(url) as conn, conn.transaction():
        for schema, table, _ in tables:
            conn.execute(sql.SQL("DELETE FROM {} WHERE tenant_id = %s").format(sql.Identifier(schema, table)),
                         (tenant,))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tenants", type=int, default=2000)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--databases", type=int, default=200)
    args = parser.parse_args(argv)
    per_tenant = args.rows // args.tenants
    gone = [f"gone-{i:03d}" for i in range(max(GONE, 2 * args.rounds + 2))]
    with psycopg.connect(DSN, autocommit=True) as conn:
        roles_before = {r[0] for r in conn.execute(r"SELECT rolname FROM pg_roles WHERE rolname LIKE 'paybill\_%'")}
    work = Path(tempfile.mkdtemp(prefix="pbbench-dbops-"))
    status = 0
    try:
        tenants = tenant_names(args.tenants)
        started = time.perf_counter()
        generated = compile_folders(tenants, work)
        commit_deleted(work, gone)
        folder = read_folder(generated / "sql" / POOL)
        print(f"setup: compiled {len(tenants)} tenants in {time.perf_counter() - started:.1f} s", flush=True)
        with scratch("pool") as database:
            url = dsn(database)
            migrate(url, folder)
            started = time.perf_counter()
            with psycopg.connect(url, autocommit=True) as conn:
                seed(conn, tenants + gone, per_tenant)
                total = sum(conn.execute(f"SELECT count(*) FROM crm.{t}").fetchone()[0] for t in SHARE)
            print(f"setup: {total:,} rows ({per_tenant} per tenant) in {time.perf_counter() - started:.1f} s",
                  flush=True)
            tables = [(t.schema, t.name, t.key) for t in folder.catalog.tables if t.tenant_scoped]
            drift_s, export_s, export_floor, erase_s, erase_floor = [], [], [], [], []
            for round_ in range(args.rounds):
                tenant = tenants[(round_ * 997) % len(tenants)]
                export_floor.append(timed(lambda t=tenant: floor_export(url, t, tables)))
                out = work / "exports" / f"{tenant}-{round_}"
                export_s.append(timed(lambda t=tenant, o=out: export(url, folder, t, o)))
                report = check_drift(url, folder)
                assert not report.differences, report.differences[:3]
                drift_s.append(timed(lambda: check_drift(url, folder)))
                victim, other = gone[2 * round_], gone[2 * round_ + 1]
                manifest = work / "exports" / victim
                export(url, folder, victim, manifest)
                erase_floor.append(timed(lambda o=other: floor_delete(url, o, tables)))
                erase_s.append(timed(lambda v=victim, m=manifest: erase(
                    url, folder, v, manifest_path=m / "manifest.json", today=TODAY)))
            drift_best = min(drift_s)
            export_ratio = min(export_s) / min(export_floor)
            erase_ratio = min(erase_s) / min(erase_floor)
            print(f"drift check: best {drift_best:.3f} s, median {statistics.median(drift_s):.3f} s "
                  f"(target <= 2 s): {'ok' if drift_best <= 2 else 'MISSED'}")
            print(f"export of one tenant ({per_tenant} rows): {min(export_s) * 1000:.1f} ms vs COPY floor "
                  f"{min(export_floor) * 1000:.1f} ms: {export_ratio:.2f}x (target <= 2x): "
                  f"{'ok' if export_ratio <= 2 else 'MISSED'}")
            print(f"erase of one tenant ({per_tenant} rows): {min(erase_s) * 1000:.1f} ms vs bare DELETE "
                  f"{min(erase_floor) * 1000:.1f} ms: {erase_ratio:.2f}x (target <= 2x): "
                  f"{'ok' if erase_ratio <= 2 else 'MISSED'}", flush=True)
            if drift_best > 2 or export_ratio > 2 or erase_ratio > 2:
                status = 1
        silo = read_folder(generated / "sql" / SILO)
        per_database = []
        with psycopg.connect(DSN, autocommit=True) as conn:
            names = [f"pbbench_mig_{secrets.token_hex(3)}_{i}" for i in range(args.databases)]
            for name in names:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            try:
                for name in names:
                    per_database.append(timed(lambda n=name: migrate(dsn(n), silo)))
            finally:
                for name in names:
                    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        print(f"migrate of {args.databases} tenant databases in sequence: {sum(per_database):.1f} s, "
              f"per database p50 {statistics.median(per_database) * 1000:.0f} ms, "
              f"max {max(per_database) * 1000:.0f} ms")
    finally:
        shutil.rmtree(work, ignore_errors=True)
        with psycopg.connect(DSN, autocommit=True) as conn:
            created = {r[0] for r in conn.execute(r"SELECT rolname FROM pg_roles WHERE rolname LIKE 'paybill\_%'")}
            for role in sorted(created - roles_before, key=lambda r: r == "paybill_guard"):
                with suppress(psycopg.Error):
                    conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
