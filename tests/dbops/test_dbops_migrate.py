"""``paybill db migrate`` on a real PostgreSQL: ledger, no-op re-run, tampering, ledger mismatch, the
lock between two migrates, and a client killed mid-transaction."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest
from dbops_support import GENERATED, POOL, copy_folder, ledger_rows, rehash, run_cli, slow_folder
from pg_support import dsn_for, scratch_database

from paybill.dbops.errors import EXIT_LOCKED, DbOpsError
from paybill.dbops.folder import read_folder
from paybill.dbops.migrate import migrate

pytestmark = pytest.mark.postgres
FOLDER = GENERATED / "sql" / POOL


@pytest.fixture
def database(pg_server: None) -> str:
    with scratch_database("dbmig") as name:
        yield name


def test_fresh_database_is_migrated_and_recorded(database: str) -> None:
    result = run_cli("db", "migrate", "--database-url", dsn_for(database), "--by", "ci run 7", str(FOLDER))
    assert result.exit_code == 0, result.output
    revision = json.loads((FOLDER / "migrations.json").read_text())["revision"]
    # not "(no revision recorded)", which read as if this migration had not been recorded
    assert f"{POOL}: applied revision {revision[:12]} (the first revision of this database): 0001_roles.sql" \
        in result.output, result.output
    with psycopg.connect(dsn_for(database)) as conn:
        assert ledger_rows(conn) == [(POOL, revision)]
        files, by = conn.execute("SELECT files, applied_by FROM paybill.schema_migrations").fetchone()
        assert files["0004_row_level_security.sql"] == read_folder(FOLDER).hashes()["0004_row_level_security.sql"]
        assert by == "ci run 7 as postgres"
        forced = conn.execute("SELECT relforcerowsecurity FROM pg_class WHERE oid = 'crm.tickets'::regclass").fetchone()
        assert forced == (True,)
        public = conn.execute("SELECT has_schema_privilege('public', 'paybill', 'USAGE')").fetchone()
        assert public == (False,)  # the ledger is closed to PUBLIC


def test_rerun_is_a_noop_that_says_so(database: str) -> None:
    assert run_cli("db", "migrate", "--database-url", dsn_for(database), str(FOLDER)).exit_code == 0
    again = run_cli("db", "migrate", "--database-url", dsn_for(database), "--format", "json", str(FOLDER))
    assert again.exit_code == 0
    assert json.loads(again.output)["status"] == "unchanged"
    with psycopg.connect(dsn_for(database)) as conn:
        assert len(ledger_rows(conn)) == 1


def test_dry_run_changes_nothing(database: str) -> None:
    result = run_cli("db", "migrate", "--dry-run", "--database-url", dsn_for(database), str(FOLDER))
    assert result.exit_code == 0 and "would apply" in result.output
    with psycopg.connect(dsn_for(database)) as conn:
        assert conn.execute("SELECT to_regnamespace('paybill'), to_regnamespace('crm')").fetchone() == (None, None)


def test_tampered_file_is_refused_before_connecting(database: str, tmp_path: Path) -> None:
    folder = copy_folder(tmp_path)
    grants = folder / "0005_grants.sql"
    grants.write_text(grants.read_text() + "\nGRANT ALL ON ALL TABLES IN SCHEMA crm TO PUBLIC;\n")
    result = run_cli("db", "migrate", "--database-url", dsn_for(database), str(folder))
    assert result.exit_code == 1
    assert "error[PB1101]: '0005_grants.sql' does not match its sha256" in result.output
    assert "Traceback" not in result.output
    with psycopg.connect(dsn_for(database)) as conn:
        assert conn.execute("SELECT to_regnamespace('crm')").fetchone() == (None,)


def test_revision_recorded_with_other_files_is_an_error_not_a_reapply(database: str) -> None:
    assert run_cli("db", "migrate", "--database-url", dsn_for(database), str(FOLDER)).exit_code == 0
    with psycopg.connect(dsn_for(database)) as conn:
        conn.execute("UPDATE paybill.schema_migrations SET files = files || '{\"0005_grants.sql\": \"00\"}'")
    result = run_cli("db", "migrate", "--database-url", dsn_for(database), str(FOLDER))
    assert result.exit_code == 1
    assert "error[PB1106]" in result.output and "0005_grants.sql" in result.output
    with psycopg.connect(dsn_for(database)) as conn:
        assert len(ledger_rows(conn)) == 1


def test_a_folder_of_another_database_is_refused(database: str) -> None:
    assert run_cli("db", "migrate", "--database-url", dsn_for(database), str(FOLDER)).exit_code == 0
    other = GENERATED / "sql" / "pool-gcp-usc1-shared"
    result = run_cli("db", "migrate", "--database-url", dsn_for(database), str(other))
    assert result.exit_code == 1 and "ledger records pool-aws-use1-shared" in result.output


def test_a_new_revision_is_applied_and_recorded_after_the_old(database: str, tmp_path: Path) -> None:
    assert run_cli("db", "migrate", "--database-url", dsn_for(database), str(FOLDER)).exit_code == 0
    folder = copy_folder(tmp_path)
    tables = folder / "0003_tables.sql"
    tables.write_text(tables.read_text() + '\nALTER TABLE "crm"."tickets" ADD COLUMN IF NOT EXISTS "note" text;\n')
    rehash(folder)
    result = run_cli("db", "migrate", "--database-url", dsn_for(database), str(folder))
    assert result.exit_code == 0 and f"(was {read_folder(FOLDER).revision[:12]})" in result.output
    with psycopg.connect(dsn_for(database)) as conn:
        assert [r[1] for r in ledger_rows(conn)] == [read_folder(FOLDER).revision, read_folder(folder).revision]


def _advisory_lock_held(database: str) -> bool:
    with psycopg.connect(dsn_for(database), autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database"
                           " WHERE l.locktype = 'advisory' AND l.granted AND d.datname = %s", (database,)).fetchone()
        return bool(row[0])


def _wait_for(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.05)


def test_two_concurrent_migrates_never_both_apply(database: str, tmp_path: Path) -> None:
    folder = read_folder(slow_folder(tmp_path, 1.5))
    outcomes: dict[str, object] = {}

    def first() -> None:
        outcomes["first"] = migrate(dsn_for(database), folder).status

    thread = threading.Thread(target=first)
    thread.start()
    _wait_for(lambda: _advisory_lock_held(database))
    with pytest.raises(DbOpsError) as impatient:  # gives up cleanly on the lock
        migrate(dsn_for(database), folder, lock_timeout="100ms")
    assert impatient.value.exit_code == EXIT_LOCKED and impatient.value.problems[0].code == "PB1104"
    waiting = migrate(dsn_for(database), folder, lock_timeout="30s")  # waits, then finds it done
    thread.join()
    assert outcomes["first"] == "applied" and waiting.status == "unchanged"
    with psycopg.connect(dsn_for(database)) as conn:
        assert len(ledger_rows(conn)) == 1


def test_a_killed_client_leaves_the_previous_state(database: str, tmp_path: Path) -> None:
    assert run_cli("db", "migrate", "--database-url", dsn_for(database), str(FOLDER)).exit_code == 0
    slow = slow_folder(tmp_path, 60)
    process = subprocess.Popen(
        [sys.executable, "-m", "paybill", "db", "migrate", "--database-url", dsn_for(database), str(slow)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"})

    def sleeping() -> bool:
        with psycopg.connect(dsn_for(database), autocommit=True) as conn:
            return bool(conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND"
                                     " application_name = 'paybill db migrate' AND wait_event = 'PgSleep'",
                                     (database,)).fetchone()[0])

    try:
        _wait_for(sleeping)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)

        def backend_gone() -> bool:
            with psycopg.connect(dsn_for(database), autocommit=True) as conn:
                return not conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND"
                                        " application_name = 'paybill db migrate'", (database,)).fetchone()[0]

        _wait_for(backend_gone, timeout=15)  # client_connection_check_interval: well before the 60 s sleep ends
    finally:
        if process.poll() is None:
            process.kill()
    with psycopg.connect(dsn_for(database)) as conn:
        assert ledger_rows(conn) == [(POOL, read_folder(FOLDER).revision)]
