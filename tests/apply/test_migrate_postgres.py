"""``apply run`` migrates a database right after the stack that creates it, with the real
``paybill db migrate`` on a real PostgreSQL (it fails, not skips, under CI=true without one).

Terraform is still the fake (fake_terraform.py: real Terraform cannot be downloaded here); the
database URL command prints the URL of a scratch database, standing in for reading the stack's
outputs. What is proven: the migration really runs, once, after the stack's apply, and is recorded
in the database's ledger, and a re-run of the shard skips it.
"""

from __future__ import annotations

import dataclasses
import datetime
import sys
from pathlib import Path

import psycopg
import pytest

from paybill.apply.manifest import parse_manifest
from paybill.apply.runner import RunOptions, run_shard
from paybill.apply.schedule import plan_jobs

from .support import make_workspace, manifest, stack

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "db"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dbops"))
from dbops_support import ledger_rows, unique_roles_folder
from pg_support import drop_roles, dsn_for, paybill_roles, require_server, scratch_database

pytestmark = pytest.mark.postgres


def test_the_database_is_migrated_right_after_its_stack(tmp_path: Path) -> None:
    require_server()
    before_roles = paybill_roles()
    ws = make_workspace(tmp_path / "repo")
    folder, _ = unique_roles_folder(tmp_path / "src", "apply")
    document = manifest([stack("pool/aws-use1-shared", resources=59)], sql={"sql/pool-aws-use1-shared": "sha256:1"})
    ws.write(document)
    target = ws.generated / "sql" / "pool-aws-use1-shared"
    for file in folder.iterdir():
        (target / file.name).write_bytes(file.read_bytes())
    plan = plan_jobs(parse_manifest(document, "m"), None, today=datetime.date(2026, 11, 9))
    [phase] = plan.phases
    [shard] = phase.shards
    assert shard.units[0].migrate == "sql/pool-aws-use1-shared"
    try:
        with scratch_database("apply") as database:
            options = RunOptions(generated=ws.generated, results=ws.root / "results", terraform=ws.terraform,
                                 commit="c1", env=ws.env(), database_url_command=f"echo '{dsn_for(database)}'",
                                 by="apply-test", backoff=0, sleep=lambda _s: None)
            outcome = run_shard(shard, options, echo=lambda _l: None)
            assert outcome.ok, outcome.problems
            applied_at = max(c["t1"] for c in ws.calls() if c["args"][0] == "apply")
            with psycopg.connect(dsn_for(database), autocommit=True) as conn:
                rows = ledger_rows(conn)
                assert [r[0] for r in rows] == ["pool-aws-use1-shared"]
                migrated_at = conn.execute("SELECT extract(epoch FROM max(applied_at)) FROM "
                                           "paybill.schema_migrations").fetchone()[0]
            assert float(migrated_at) >= applied_at - 1  # after the stack's apply (clock of one machine)
            again = run_shard(shard, dataclasses.replace(options, results=ws.root / "results2",
                                                         resume=(ws.root / "results",)), echo=lambda _l: None)
            assert [r.status for r in again.records] == ["skipped"]
    finally:
        drop_roles(paybill_roles() - before_roles)
