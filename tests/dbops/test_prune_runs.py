"""`paybill db prune-runs`: the admin deletes the run state of long-expired `paybill serve` runs; the
server's own login cannot (no DELETE through paybill_guard), and live or recently expired runs stay.

Real PostgreSQL (fails under CI=true when absent); the command runs as a user runs it (subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import psycopg
import pytest
from pg_support import admin, dsn_for, scratch_database, unique
from psycopg import sql

from paybill.contract.run_state import DDL, GRANTS

pytestmark = pytest.mark.postgres
DAY = 86_400


def prune(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "paybill", "db", "prune-runs", "--database-url", url, *args],
                          capture_output=True, text=True, check=False, timeout=120)


def seed(url: str, expiries: dict[str, float]) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = 'paybill_guard'").fetchone() is None:
            conn.execute("CREATE ROLE paybill_guard NOLOGIN")
        for statement in (*DDL, *GRANTS):
            conn.execute(statement)  # type: ignore[arg-type]
        for run_id, expires_at in expiries.items():
            conn.execute("INSERT INTO paybill.runs (id, agent, tenant, workflow, revision, state, expires_at) "
                         "VALUES (%s, 'ops-agent', 'acme', 'incident-response', 'r1', '{}', %s)", (run_id, expires_at))


def run_ids(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute("SELECT id FROM paybill.runs ORDER BY id")]


def test_prunes_only_runs_expired_longer_than_the_window(pg_server: None) -> None:
    now = time.time()
    with scratch_database("prune") as database:
        url = dsn_for(database)
        seed(url, {"old": now - 40 * DAY, "recent": now - 2 * DAY, "live": now + 3600})

        counted = prune(url, "--dry-run", "--format", "json")
        assert counted.returncode == 0, counted.stderr
        assert json.loads(counted.stdout) | {"cutoff": 0} == {"ok": True, "pruned": 1, "remaining": 2, "cutoff": 0,
                                                               "dryRun": True, "table": True}
        assert run_ids(url) == ["live", "old", "recent"], "a dry run deletes nothing"

        done = prune(url)
        assert done.returncode == 0 and done.stdout.strip() == "pruned 1 expired run; 2 kept", done
        assert run_ids(url) == ["live", "recent"]
        assert prune(url, "--older-than-days", "1").stdout.strip() == "pruned 1 expired run; 1 kept"
        assert run_ids(url) == ["live"]


def test_the_servers_login_cannot_prune(pg_server: None) -> None:
    now = time.time()
    with scratch_database("prune") as database:
        url = dsn_for(database)
        seed(url, {"old": now - 40 * DAY})
        login = unique("server")
        with admin() as conn:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN IN ROLE paybill_guard").format(sql.Identifier(login)))
        try:
            refused = prune(dsn_for(database, user=login))
            assert refused.returncode == 1, refused
            assert "error[PB1105]" in refused.stderr and "permission denied" in refused.stderr, refused.stderr
            assert "Traceback" not in refused.stderr
            assert run_ids(url) == ["old"]
        finally:
            with admin() as conn:
                conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(login)))


def test_a_database_without_run_state_has_nothing_to_prune(pg_server: None) -> None:
    with scratch_database("prune") as database:
        done = prune(dsn_for(database))
        assert done.returncode == 0 and "nothing to prune" in done.stdout, done
