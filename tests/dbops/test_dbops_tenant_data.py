"""``paybill db export`` and ``paybill db erase`` on a real PostgreSQL pooled database: only the
tenant's rows, counts and hashes that match, every unsafe erase refused, an idempotent re-run."""

from __future__ import annotations

import datetime
import hashlib
import json
import secrets
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from dbops_support import run_cli, unique_roles_folder
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pg_support import dsn_for, scratch_database

from paybill.dbops.erase import erase
from paybill.dbops.errors import DbOpsError
from paybill.dbops.export import export
from paybill.dbops.folder import read_folder
from paybill.dbops.migrate import migrate

pytestmark = pytest.mark.postgres
GONE = "dunder"  # deleted at HEAD, rows still in the pool
TODAY = datetime.date(2026, 12, 1)


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def write_entitlements(repo: Path, tenant: str, lifecycle: str, retain_until: str | None, commit: bool = True) -> None:
    data: dict[str, Any] = {"kind": "TenantEntitlements", "tenant": tenant, "lifecycle": lifecycle}
    if retain_until:
        data["retainUntil"] = retain_until
    file = repo / "generated" / "tenants" / f"{tenant}.json"
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(json.dumps(data, indent=2) + "\n")
    if commit:
        _git(repo, "add", "-A")
        _git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", f"{tenant} {lifecycle}")


class Pool:
    def __init__(self, repo: Path, folder: Path, database: str) -> None:
        self.repo, self.folder, self.database = repo, folder, database
        self.url = dsn_for(database)

    def conn(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.url, autocommit=True)  # the test's superuser: sees every tenant

    def insert_customers(self, tenant: str, names: list[str]) -> list[str]:
        ids = [str(uuid.uuid4()) for _ in names]
        with self.conn() as conn:
            for id_, name in zip(ids, names, strict=True):
                conn.execute("INSERT INTO crm.customers (tenant_id, id, name, email, created_at)"
                             " VALUES (%s, %s, %s, %s, '2026-01-02T03:04:05Z')", (tenant, id_, name, f"{name[:5]}@x"))
                conn.execute("INSERT INTO crm.invoices (tenant_id, id, customer_id, amount_cents, currency, status,"
                             " due_date, issued_at) VALUES (%s, %s, %s, 1250, 'EUR', 'open', '2026-02-01', now())",
                             (tenant, str(uuid.uuid4()), id_))
        return ids

    def all_rows(self) -> dict[str, list[tuple[Any, ...]]]:
        with self.conn() as conn:
            return {t: conn.execute(f"SELECT * FROM crm.{t} ORDER BY 1, 2").fetchall()
                    for t in ("customers", "invoices", "tickets")}

    def rows_of(self, tenant: str) -> dict[str, list[tuple[Any, ...]]]:
        return {t: [r for r in rows if r[0] == tenant] for t, rows in self.all_rows().items()}


@pytest.fixture
def pool(pg_server: None, tmp_path: Path) -> Iterator[Pool]:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    folder, _ = unique_roles_folder(repo, secrets.token_hex(3))
    write_entitlements(repo, GONE, "deleted", "2026-11-01")
    with scratch_database("dbdata") as name:
        assert migrate(dsn_for(name), read_folder(folder)).status == "applied"
        yield Pool(repo, folder, name)


def test_export_holds_exactly_the_tenants_rows_with_counts_and_hashes(pool: Pool, tmp_path: Path) -> None:
    pool.insert_customers("hooli", ["Ann", 'Bo "quoted" \\ back\\slash', "Ünïcode\nnew line\ttab"])
    pool.insert_customers("vandelay", ["Vic"])
    out = tmp_path / "export"
    result = run_cli("db", "export", "--database-url", pool.url, "--tenant", "hooli", "--out", str(out),
                     "--csv", "invoices", str(pool.folder))
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    by_table = {e["table"]: e for e in manifest["tables"]}
    assert set(by_table) == {"customers", "invoices", "tickets"}  # every tenant-scoped table, not currencies
    assert (by_table["customers"]["rows"], by_table["invoices"]["rows"], by_table["tickets"]["rows"]) == (3, 3, 0)
    for entry in manifest["tables"]:
        assert hashlib.sha256((out / entry["file"]).read_bytes()).hexdigest() == entry["sha256"]
    customers = [json.loads(line) for line in (out / "crm.customers.jsonl").read_text().split("\n")[:-1]]
    assert {c["tenant_id"] for c in customers} == {"hooli"}
    assert sorted(c["name"] for c in customers) == sorted(r[2] for r in pool.rows_of("hooli")["customers"])
    assert [c["id"] for c in customers] == sorted(c["id"] for c in customers)  # primary key order
    assert (out / "crm.invoices.csv").read_text().startswith("tenant_id,id,customer_id,")


def test_export_is_byte_stable_and_never_overwrites(pool: Pool, tmp_path: Path) -> None:
    pool.insert_customers("hooli", ["a", "b", "c"])
    first = export(pool.url, read_folder(pool.folder), "hooli", tmp_path / "one")
    second = export(pool.url, read_folder(pool.folder), "hooli", tmp_path / "two")
    assert first.manifest_sha256 == second.manifest_sha256
    with pytest.raises(DbOpsError) as refused:
        export(pool.url, read_folder(pool.folder), "hooli", tmp_path / "one")
    assert refused.value.problems[0].code == "PB1108"


def _export_and_erase(pool: Pool, out: Path, **options: Any) -> Any:
    export(pool.url, read_folder(pool.folder), GONE, out)
    return erase(pool.url, read_folder(pool.folder), GONE, manifest_path=out / "manifest.json", today=TODAY,
                 **options)


def test_erase_deletes_the_tenant_records_it_and_rerun_is_a_noop(pool: Pool, tmp_path: Path) -> None:
    pool.insert_customers(GONE, ["x", "y"])
    pool.insert_customers("hooli", ["h"])
    others = pool.rows_of("hooli")
    result = _export_and_erase(pool, tmp_path / "out", by="ticket OPS-1")
    assert result.status == "erased" and result.rows == {"crm.customers": 2, "crm.invoices": 2, "crm.tickets": 0}
    assert pool.rows_of(GONE) == {"customers": [], "invoices": [], "tickets": []}
    assert pool.rows_of("hooli") == others
    manifest_sha = hashlib.sha256((tmp_path / "out" / "manifest.json").read_bytes()).hexdigest()
    with pool.conn() as conn:
        row = conn.execute("SELECT tenant, row_counts, export_manifest_sha256, retention_override, erased_by"
                           " FROM paybill.tenant_erasures").fetchall()
    assert row == [(GONE, result.rows, manifest_sha, False, "ticket OPS-1 as postgres")]
    again = run_cli("db", "erase", "--database-url", pool.url, "--tenant", GONE, "--export-manifest",
                    str(tmp_path / "out" / "manifest.json"), str(pool.folder))
    assert again.exit_code == 0 and "already erased" in again.output


def _refusal(pool: Pool, **options: Any) -> list[str]:
    before = pool.all_rows()
    with pytest.raises(DbOpsError) as refused:
        erase(pool.url, read_folder(pool.folder), options.pop("tenant", GONE), today=options.pop("today", TODAY),
              **options)
    assert pool.all_rows() == before  # a refusal changes nothing
    return [p.code for p in refused.value.problems]


def test_erase_refuses_a_tenant_not_deleted_at_head(pool: Pool) -> None:
    pool.insert_customers("initech", ["i"])
    write_entitlements(pool.repo, "initech", "offboarding", "2026-01-01")
    assert _refusal(pool, tenant="initech", no_export=True) == ["PB1109"]


def _moved(pool: Pool, tenant: str, database: str, pool_name: str | None, phase: str | None) -> None:
    """Commit ``tenant`` live at HEAD with its database layer (and pool), mid-migration when ``phase``."""
    isolation: dict[str, Any] = {"model": "bridge", "layers": {"database": database}}
    if phase:
        isolation["migration"] = {"phase": phase, "from": {"model": "pooled"}}
    data = {"kind": "TenantEntitlements", "tenant": tenant, "lifecycle": "active", "isolation": isolation,
            "placement": {"cloud": "aws-prod", "pool": pool_name}}
    file = pool.repo / "generated" / "tenants" / f"{tenant}.json"
    file.write_text(json.dumps(data, indent=2) + "\n")
    _git(pool.repo, "add", "-A")
    _git(pool.repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", f"{tenant} {phase}")


def test_erase_removes_the_old_rows_of_a_tenant_whose_database_moved_out_of_the_pool(
        pool: Pool, tmp_path: Path) -> None:
    """After an isolation migration's decommission (pooled -> silo database), the runbook says to remove
    the tenant's rows from the pool: erase refused them as 'not deleted', leaving an unchecked DELETE as
    superuser. Now they are erased like a deleted tenant's (export, lock, RLS, ledger), with no retention
    to wait for (the tenant's data lives on in its own database), and only once the move is done."""
    pool.insert_customers("initech", ["i", "j"])
    pool.insert_customers("hooli", ["h"])
    others = pool.rows_of("hooli")
    for phase in ("provision", "copy", "cutover"):  # the pool's rows are the copy source or the rollback
        _moved(pool, "initech", "silo", "aws-use1-shared", phase)
        assert _refusal(pool, tenant="initech", no_export=True) == ["PB1109"]
    _moved(pool, "initech", "pooled", "aws-use1-shared", None)  # still stored here (the catalog aside)
    assert _refusal(pool, tenant="initech", no_export=True) == ["PB1109"]
    _moved(pool, "initech", "silo", "aws-use1-shared", "decommission")
    out = tmp_path / "initech"
    export(pool.url, read_folder(pool.folder), "initech", out)
    result = run_cli("db", "erase", "--database-url", pool.url, "--tenant", "initech", "--export-manifest",
                     str(out / "manifest.json"), str(pool.folder))
    assert result.exit_code == 0, result.output
    assert "initech: erased 4 rows" in result.output
    assert pool.rows_of("initech") == {"customers": [], "invoices": [], "tickets": []}
    assert pool.rows_of("hooli") == others


def test_erase_removes_the_rows_a_tenant_left_in_its_former_pool(pool: Pool) -> None:
    pool.insert_customers("initech", ["i"])
    _moved(pool, "initech", "pooled", "aws-use2-shared", None)
    assert erase(pool.url, read_folder(pool.folder), "initech", no_export=True, today=TODAY).status == "erased"
    assert pool.rows_of("initech") == {"customers": [], "invoices": [], "tickets": []}


def test_erase_reads_head_not_the_work_tree(pool: Pool) -> None:
    write_entitlements(pool.repo, "initech", "active", None)
    write_entitlements(pool.repo, "initech", "deleted", "2026-01-01", commit=False)  # not merged yet
    assert _refusal(pool, tenant="initech", no_export=True) == ["PB1109"]


def test_erase_refuses_a_tenant_unknown_at_head(pool: Pool) -> None:
    assert _refusal(pool, tenant="nobody", no_export=True) == ["PB1109"]


def test_erase_refuses_before_retain_until_unless_told(pool: Pool, tmp_path: Path) -> None:
    pool.insert_customers(GONE, ["x"])
    assert _refusal(pool, no_export=True, today=datetime.date(2026, 10, 31)) == ["PB1110"]
    result = erase(pool.url, read_folder(pool.folder), GONE, no_export=True, ignore_retention=True,
                   today=datetime.date(2026, 10, 31))
    assert result.status == "erased"
    with pool.conn() as conn:
        assert conn.execute("SELECT retention_override, export_manifest_sha256 FROM paybill.tenant_erasures"
                            ).fetchall() == [(True, None)]


def test_erase_refuses_without_retain_until(pool: Pool) -> None:
    write_entitlements(pool.repo, GONE, "deleted", None)
    assert _refusal(pool, no_export=True) == ["PB1110"]


def test_erase_refuses_without_an_export(pool: Pool) -> None:
    assert _refusal(pool) == ["PB1111"]


def test_erase_refuses_an_altered_export(pool: Pool, tmp_path: Path) -> None:
    pool.insert_customers(GONE, ["x"])
    export(pool.url, read_folder(pool.folder), GONE, tmp_path / "out")
    (tmp_path / "out" / "crm.customers.jsonl").write_text("{}\n")
    assert _refusal(pool, manifest_path=tmp_path / "out" / "manifest.json") == ["PB1111"]


def test_erase_refuses_an_export_of_another_tenant(pool: Pool, tmp_path: Path) -> None:
    export(pool.url, read_folder(pool.folder), "hooli", tmp_path / "out")
    assert _refusal(pool, manifest_path=tmp_path / "out" / "manifest.json") == ["PB1111"]


def test_erase_refuses_when_rows_changed_since_the_export(pool: Pool, tmp_path: Path) -> None:
    pool.insert_customers(GONE, ["x"])
    export(pool.url, read_folder(pool.folder), GONE, tmp_path / "out")
    pool.insert_customers(GONE, ["late"])
    assert _refusal(pool, manifest_path=tmp_path / "out" / "manifest.json") == ["PB1111"]


def test_erase_refuses_a_tenant_the_catalog_still_stores_here(pool: Pool) -> None:
    write_entitlements(pool.repo, "hooli", "deleted", "2026-01-01")  # HEAD says deleted, but not yet compiled
    assert _refusal(pool, tenant="hooli", no_export=True) == ["PB1112"]


@pytest.mark.parametrize("ledger_edit", ["UPDATE paybill.schema_migrations SET revision = repeat('0', 64)",
                                         "DELETE FROM paybill.schema_migrations"])
def test_erase_refuses_a_database_not_migrated_to_the_folder(pool: Pool, ledger_edit: str) -> None:
    # The deletion is compiled and merged, but the database still runs an older catalog (which may
    # still store the tenant, its scope policies naming it): erase waits for `paybill db migrate`.
    pool.insert_customers(GONE, ["x"])
    with pool.conn() as conn:
        conn.execute(ledger_edit)
    assert _refusal(pool, no_export=True) == ["PB1112"]
    result = run_cli("db", "erase", "--tenant", GONE, "--no-export", "--database-url", pool.url, str(pool.folder))
    assert result.exit_code == 1 and "error[PB1112]" in result.output and "paybill db migrate" in result.output
    assert "Traceback" not in result.output


def test_erase_refuses_when_row_level_security_was_turned_off(pool: Pool) -> None:
    pool.insert_customers(GONE, ["x"])
    with pool.conn() as conn:
        conn.execute("ALTER TABLE crm.invoices DISABLE ROW LEVEL SECURITY")
    assert _refusal(pool, no_export=True) == ["PB1113"]


def test_erase_and_export_refuse_a_dedicated_database(pg_server: None) -> None:
    silo = read_folder(Path(__file__).resolve().parents[2] / "generated" / "sql" / "tenant-globex")
    with pytest.raises(DbOpsError) as refused:
        erase("dbname=unused", silo, "globex", no_export=True, ignore_retention=True)
    assert "PB1108" in [p.code for p in refused.value.problems]


NAMES = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), min_size=1, max_size=30)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.dictionaries(st.sampled_from([GONE, "hooli", "vandelay", "globex"]),
                            st.lists(NAMES, max_size=6), min_size=1))
def test_other_tenants_rows_are_untouched(pool: Pool, tmp_path_factory: pytest.TempPathFactory,
                                          data: dict[str, list[str]]) -> None:
    with pool.conn() as conn:
        conn.execute("TRUNCATE crm.customers, crm.invoices, crm.tickets")
    for tenant, names in sorted(data.items()):
        pool.insert_customers(tenant, names)
    before = pool.all_rows()
    out = tmp_path_factory.mktemp("export") / "out"
    export(pool.url, read_folder(pool.folder), GONE, out)
    exported = [json.loads(line) for line in (out / "crm.customers.jsonl").read_text(encoding="utf-8").split("\n")[:-1]]
    assert sorted(c["name"] for c in exported) == sorted(data.get(GONE, []))  # values round-trip exactly
    erase(pool.url, read_folder(pool.folder), GONE, manifest_path=out / "manifest.json", today=TODAY)
    after = pool.all_rows()
    assert {t: [r for r in rows if r[0] != GONE] for t, rows in before.items()} == after
