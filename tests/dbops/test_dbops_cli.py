"""``paybill db`` at the process boundary: exit statuses and messages without a database to hand,
hostile arguments, and a dedicated (silo) database migrated and checked clean."""

from __future__ import annotations

import json
import subprocess
import sys

import psycopg
import pytest
from dbops_support import GENERATED, POOL, run_cli
from pg_support import dsn_for, scratch_database

FOLDER = str(GENERATED / "sql" / POOL)


def test_unreachable_server_exits_3_without_traceback() -> None:
    result = subprocess.run([sys.executable, "-m", "paybill", "db", "migrate", "--database-url",
                             "host=127.0.0.1 port=1 user=nobody dbname=nowhere", FOLDER],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 3
    assert "error[PB1103]: cannot connect to host=127.0.0.1 port=1 user=nobody dbname=nowhere" in result.stderr
    assert "Traceback" not in result.stderr and "password" not in result.stderr


def test_json_failure_is_one_document() -> None:
    result = run_cli("db", "drift", "--format", "json", "--database-url", "host=127.0.0.1 port=1 dbname=x", FOLDER)
    data = json.loads(result.output)
    assert result.exit_code == 3 and data["ok"] is False and data["problems"][0]["code"] == "PB1103"


@pytest.mark.parametrize("args", [["--lock-timeout", "10 seconds"], ["--statement-timeout", "1;DROP"]])
def test_bad_timeouts_are_usage_errors(args: list[str]) -> None:
    result = run_cli("db", "migrate", "--database-url", "dbname=x", *args, FOLDER)
    assert result.exit_code == 2


def test_missing_url_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PAYBILL_DATABASE_URL", raising=False)
    result = run_cli("db", "migrate", FOLDER)
    assert result.exit_code == 2
    assert "PAYBILL_DATABASE_URL" in result.output  # the documented alternative to --database-url


def test_hostile_tenant_names_are_refused_before_connecting(tmp_path) -> None:
    for tenant in ("../../etc/passwd", "x'; DROP TABLE crm.tickets; --", "HOOLI"):
        result = run_cli("db", "erase", "--database-url", "host=127.0.0.1 port=1 dbname=x", "--tenant", tenant,
                         "--no-export", FOLDER)
        assert result.exit_code == 1 and "error[PB1108]" in result.output and "PB1103" not in result.output
        exported = run_cli("db", "export", "--database-url", "host=127.0.0.1 port=1 dbname=x", "--tenant", tenant,
                           "--out", str(tmp_path / "out"), FOLDER)
        assert exported.exit_code == 1 and "error[PB1108]" in exported.output


def test_not_a_compiled_folder(tmp_path) -> None:
    result = run_cli("db", "migrate", "--database-url", "dbname=x", str(tmp_path))
    assert result.exit_code == 1 and "error[PB1101]" in result.output


@pytest.mark.postgres
def test_a_dedicated_database_is_migrated_and_clean(pg_server: None) -> None:
    silo = str(GENERATED / "sql" / "tenant-globex")
    with scratch_database("dbsilo") as name:
        assert run_cli("db", "migrate", "--database-url", dsn_for(name), silo).exit_code == 0
        result = run_cli("db", "drift", "--database-url", dsn_for(name), "--format", "json", silo)
        assert result.exit_code == 0, result.output
        assert json.loads(result.output)["differences"] == []
        with psycopg.connect(dsn_for(name), autocommit=True) as conn:
            conn.execute("ALTER POLICY paybill_all_rows ON crm.currencies USING (false)")
        assert run_cli("db", "drift", "--database-url", dsn_for(name), silo).exit_code == 1


@pytest.mark.parametrize("where", ["index", "migration", "export-manifest"])
def test_a_fifo_or_device_in_a_compiled_folder_is_refused_not_waited_on(tmp_path, where: str) -> None:
    # a FIFO as a listed migration (or the index a link to /dev/zero) hung `db migrate`/`drift` forever;
    # so did a FIFO as the export manifest of `db erase`
    import os
    import shutil

    folder = tmp_path / POOL
    shutil.copytree(FOLDER, folder)
    if where == "index":
        (folder / "migrations.json").unlink()
        (folder / "migrations.json").symlink_to("/dev/zero")
        args = ["db", "migrate", str(folder)]
        expected = "migrations.json is a device, not a regular file"
    elif where == "migration":
        (folder / "0003_tables.sql").unlink()
        os.mkfifo(folder / "0003_tables.sql")
        args = ["db", "drift", str(folder)]
        expected = "'0003_tables.sql' cannot be read:"
    else:
        os.mkfifo(tmp_path / "manifest.json")
        args = ["db", "erase", "--tenant", "acme-corp", "--export-manifest", str(tmp_path / "manifest.json"),
                str(folder)]
        expected = "is not a readable export manifest"
    result = subprocess.run([sys.executable, "-m", "paybill", *args, "--database-url",
                             "host=127.0.0.1 port=1 user=nobody dbname=nowhere connect_timeout=2"],
                            capture_output=True, text=True, check=False, timeout=60)
    assert result.returncode == 1, result.stderr
    assert expected in result.stderr and "Traceback" not in result.stderr, result.stderr
