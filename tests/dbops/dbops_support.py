"""Helpers for the ``paybill db`` tests on a real PostgreSQL (server and scratch databases come from
tests/db/pg_support.py): compiled folders to work on, altered copies, and the CLI in-process."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from paybill.cli.main import cli
from paybill.dbops.folder import revision_of

ROOT = Path(__file__).resolve().parents[2]
GENERATED = ROOT / "generated"
POOL = "pool-aws-use1-shared"  # hooli and vandelay live here (committed example output)


def copy_folder(tmp: Path, database: str = POOL) -> Path:
    target = tmp / "generated" / "sql" / database
    shutil.copytree(GENERATED / "sql" / database, target)
    return target


def rehash(folder: Path) -> None:
    """Make migrations.json describe the files as they now are (a *reviewed* change, not tampering)."""
    index = json.loads((folder / "migrations.json").read_text())
    for entry in index["migrations"]:
        entry["sha256"] = hashlib.sha256((folder / entry["file"]).read_bytes()).hexdigest()
    index["revision"] = revision_of([(e["file"], e["sha256"]) for e in index["migrations"]])
    (folder / "migrations.json").write_text(json.dumps(index, indent=2) + "\n")


def slow_folder(tmp: Path, seconds: float) -> Path:
    """The pool's folder plus a pg_sleep at the end of 0005: a migration that is still running when
    the tests act (a second migrate, a killed client)."""
    folder = copy_folder(tmp)
    with (folder / "0005_grants.sql").open("a") as handle:
        handle.write(f"\nSELECT pg_catalog.pg_sleep({seconds});\n")
    rehash(folder)
    return folder


def run_cli(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def ledger_rows(conn: Any) -> list[tuple[str, str]]:
    if conn.execute("SELECT to_regclass('paybill.schema_migrations')").fetchone()[0] is None:
        return []
    return [tuple(r) for r in conn.execute("SELECT database, revision FROM paybill.schema_migrations ORDER BY id")]


def unique_roles_folder(tmp: Path, suffix: str) -> tuple[Path, dict[str, str]]:
    """The pool's folder with every role renamed ``<role>_<suffix>``: a test may change a role's
    attributes (LOGIN, BYPASSRLS) without touching the roles other tests on this server share."""
    folder = copy_folder(tmp)
    renames = {name: f"{name}_{suffix}" for name in (
        "paybill_owner_pool_aws_use1_shared", "paybill_app_pool_aws_use1_shared", "paybill_agent_billing_agent",
        "paybill_guard")}
    for file in folder.iterdir():
        text = file.read_text()
        for old, new in renames.items():
            text = text.replace(old, new)
        file.write_text(text)
    rehash(folder)
    return folder, renames
