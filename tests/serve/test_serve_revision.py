"""`paybill serve` refuses to start on a database migrated to another revision than its catalog's
(PB1312): the ledger `paybill db migrate` records is compared at start, on a real PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from serve_support import PAYBILL, ROOT

from paybill.dbops.folder import revision_of
from paybill.dbops.ledger import Revisions
from paybill.serve.revision import check_revision

pytestmark = pytest.mark.postgres

POOL = "pool-aws-use1-shared"
FOLDER = ROOT / "generated" / "sql" / POOL
BUNDLE = ROOT / "generated" / "bundles" / "billing-agent"


@pytest.fixture
def database() -> Iterator[tuple[str, str]]:
    """A scratch database and a login that is only a member of paybill_guard (like a server's)."""
    from pg_support import dsn_for, require_server, scratch_database, unique

    require_server()
    login = unique("rev")
    try:
        with scratch_database("rev") as name:
            yield name, login
    finally:  # the login owns nothing and holds no grant of its own: once the database is gone it can go
        with psycopg.connect(dsn_for("test"), autocommit=True) as admin:
            admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(login)))


def _migrate(url: str, folder: Path) -> None:
    done = subprocess.run([*PAYBILL, "db", "migrate", "--database-url", url, str(folder)], capture_output=True,
                          text=True, cwd=ROOT, timeout=120, check=False)
    assert done.returncode == 0, done.stderr


def _serve(url: str, catalog: Path) -> subprocess.CompletedProcess[str]:
    """A stdio server whose client hangs up at once: it starts (exit 0) or refuses to (exit 1)."""
    environment = {k: v for k, v in os.environ.items() if k != "PAYBILL_SERVE_TOKEN"}
    return subprocess.run([*PAYBILL, "serve", "--bundle", str(BUNDLE), "--catalog", str(catalog), "--database-url",
                           url], capture_output=True, text=True, cwd=ROOT, timeout=120, env=environment, check=False,
                          stdin=subprocess.DEVNULL)


def _other_revision(tmp: Path) -> Path:
    """The pool's folder one reviewed change later (a statement more in 0005, index rehashed)."""
    folder = tmp / "sql" / POOL
    shutil.copytree(FOLDER, folder)
    with (folder / "0005_grants.sql").open("a") as handle:
        handle.write("\nSELECT 1;\n")
    index = json.loads((folder / "migrations.json").read_text())
    for entry in index["migrations"]:
        entry["sha256"] = hashlib.sha256((folder / entry["file"]).read_bytes()).hexdigest()
    index["revision"] = revision_of([(e["file"], e["sha256"]) for e in index["migrations"]])
    (folder / "migrations.json").write_text(json.dumps(index, indent=2) + "\n")
    return folder


def test_serve_starts_only_on_the_catalogs_revision(database: tuple[str, str], tmp_path: Path) -> None:
    """The server read no ledger: with the database migrated to one revision and a catalog of another (a
    merge whose migrate has not run, or a server started from an old checkout), it served statements built
    for tables and grants the database may not have."""
    from pg_support import dsn_for

    name, login = database
    admin_url = dsn_for(name)
    _migrate(admin_url, FOLDER)
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN IN ROLE paybill_guard").format(sql.Identifier(login)))
    url = dsn_for(name, user=login)
    revision = json.loads((FOLDER / "migrations.json").read_text())["revision"]

    same = _serve(url, FOLDER)
    assert same.returncode == 0 and "error[" not in same.stderr and "warning" not in same.stderr, same.stderr

    newer = _other_revision(tmp_path)
    other = json.loads((newer / "migrations.json").read_text())["revision"]
    refused = _serve(url, newer)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr, refused.stderr
    assert f"error[PB1312]: {POOL} is migrated to revision {revision[:12]}, the catalog is revision {other[:12]}" \
        in refused.stderr
    assert "hint: serve the catalog and bundle of the commit the database was migrated to" in refused.stderr

    _migrate(admin_url, newer)  # the database moves on; the old catalog is now the stale one
    assert "error[PB1312]" in _serve(url, FOLDER).stderr
    assert _serve(url, newer).returncode == 0

    # a database migrated before the server's role could read the ledger: refused, until a migrate grants it
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute("REVOKE SELECT (id, database, revision) ON paybill.schema_migrations FROM paybill_guard")
    unreadable = _serve(url, newer)
    assert unreadable.returncode == 1 and "error[PB1312]: cannot read which revision" in unreadable.stderr
    _migrate(admin_url, newer)  # already at this revision: nothing applied, the grant given
    assert _serve(url, newer).returncode == 0


def test_a_database_paybill_never_migrated_is_served_with_a_warning() -> None:
    checked = check_revision(Revisions("absent"), POOL, "a" * 64, "generated/sql/" + POOL)
    assert checked.error is None and checked.warning is not None and "not compared" in checked.warning
    wrong = check_revision(Revisions("read", {"tenant-acme-corp": "b" * 64}), POOL, "a" * 64, "f")
    assert wrong.error is not None and wrong.error[0] == f"the database's ledger records tenant-acme-corp, not {POOL}"
    empty = check_revision(Revisions("read", {}), POOL, "a" * 64, "f")
    assert empty.error is not None and "no `paybill db migrate`" in empty.error[0]
