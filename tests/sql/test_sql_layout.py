"""Which databases exist, which files each holds, and what migrations.json says about them."""

from __future__ import annotations

import hashlib
import json
import re

import pytest
from sql_support import SPECS, Emitted, databases, emit_from, folder

from paybill.contract.sql_catalog import CatalogError, plan_from_catalog
from paybill.diagnostics import DiagnosticSink
from paybill.emit.registered import REGISTERED
from paybill.emit.sql.apply import ApplyError, verify
from paybill.emit.sql.catalog import catalog_json
from paybill.emit.sql.plan import plan_databases
from paybill.validate import validate_repository

POOLS = ["pool-aws-use1-shared", "pool-azure-weu-shared", "pool-gcp-usc1-shared", "pool-ibm-dal-shared",
         "pool-oci-fra-shared"]
SILOS = ["tenant-acme-corp", "tenant-globex", "tenant-massive-dynamic", "tenant-nakatomi",
         "tenant-stark-industries", "tenant-umbrella-health", "tenant-wayne-enterprises"]


def index_of(tree: dict[str, bytes], database: str) -> dict:
    return json.loads(folder(tree, database)["migrations.json"])


def test_registered_as_sql_emitter() -> None:
    assert [e.name for e in REGISTERED].count("sql") == 1


def test_one_database_per_pool_and_per_live_silo_tenant(example: Emitted) -> None:
    tree, diagnostics = example
    assert diagnostics == []
    # cyberdyne is deleted; bridge tenants globex, stark-industries and wayne-enterprises have a silo
    # database layer even though they name a pool for other layers.
    assert databases(tree) == POOLS + SILOS


def test_every_database_has_the_five_migrations_and_only_pools_have_tenant_id(example: Emitted) -> None:
    tree, _ = example
    files = ["0001_roles.sql", "0002_schemas.sql", "0003_tables.sql", "0004_row_level_security.sql",
             "0005_grants.sql", "migrations.json"]
    for database in POOLS + SILOS:
        assert sorted(folder(tree, database)) == files
        has_tenant_id = b'"tenant_id"' in folder(tree, database)["0003_tables.sql"]
        assert has_tenant_id == database.startswith("pool-")


def test_file_names_follow_the_layout(example: Emitted) -> None:
    tree, _ = example
    pattern = re.compile(r"^sql/(pool|tenant)-[a-z0-9-]+/(\d{4}_[a-z_]+\.sql|migrations\.json)$")
    assert all(pattern.match(path) for path in tree), [p for p in tree if not pattern.match(p)]


def test_deleted_tenants_appear_nowhere(example: Emitted) -> None:
    tree, _ = example
    for database in databases(tree):
        index = index_of(tree, database)
        assert "cyberdyne" not in index["catalog"]["tenants"]
        for agent in index["catalog"]["agents"].values():
            assert "cyberdyne" not in agent["tenants"]


def test_index_hashes_match_the_files(example: Emitted) -> None:
    tree, _ = example
    for database in databases(tree):
        files = folder(tree, database)
        index = json.loads(files["migrations.json"])
        assert [m["id"] for m in index["migrations"]] == sorted(m["id"] for m in index["migrations"])
        for entry in index["migrations"]:
            assert hashlib.sha256(files[entry["file"]]).hexdigest() == entry["sha256"]
        assert verify(files).revision == index["revision"]


def test_verify_refuses_an_edited_missing_or_extra_file(example: Emitted) -> None:
    files = folder(example[0], "pool-gcp-usc1-shared")
    edited = dict(files, **{"0005_grants.sql": files["0005_grants.sql"] + b"GRANT ALL ON SCHEMA crm TO PUBLIC;\n"})
    with pytest.raises(ApplyError, match="sha256"):
        verify(edited)
    with pytest.raises(ApplyError, match="missing"):
        verify({k: v for k, v in files.items() if k != "0003_tables.sql"})
    with pytest.raises(ApplyError, match="not listed"):
        verify(dict(files, **{"0006_extra.sql": b"SELECT 1;"}))


def test_agents_are_placed_only_where_their_scope_has_tenants(example: Emitted) -> None:
    tree, _ = example
    placed = {db: sorted(index_of(tree, db)["catalog"]["agents"]) for db in databases(tree)}
    # support-assistant selects support-tier=premium: all of those tenants are silo.
    assert all("support-assistant" not in placed[db] for db in POOLS)
    assert placed["tenant-acme-corp"] == ["billing-agent", "ops-agent", "support-assistant"]
    assert placed["tenant-nakatomi"] == ["billing-agent"]
    # ops-agent lists acme-corp, globex, initech, wayne-enterprises; initech is pooled in gcp.
    assert placed["pool-gcp-usc1-shared"] == ["billing-agent", "ops-agent"]
    ops = index_of(tree, "pool-gcp-usc1-shared")["catalog"]["agents"]["ops-agent"]
    assert ops["tenants"] == ["initech"] and ops["allTenants"] is False


def test_grants_are_exactly_the_acl(example: Emitted) -> None:
    sql = folder(example[0], "tenant-acme-corp")["0005_grants.sql"].decode()
    support = [line for line in sql.splitlines() if line.startswith("GRANT") and "support_assistant" in line]
    assert support == [
        'GRANT USAGE ON SCHEMA "crm" TO "paybill_agent_support_assistant";',
        'GRANT SELECT ("id", "customer_id", "subject", "status", "priority", "created_at") ON "crm"."tickets" '
        'TO "paybill_agent_support_assistant";',
        'GRANT SELECT ("id", "name") ON "crm"."customers" TO "paybill_agent_support_assistant";',
    ]
    assert "GRANT ALL" not in sql and "WITH GRANT OPTION" not in sql


def test_scope_policies_list_exactly_the_agents_tenants_in_that_database(example: Emitted) -> None:
    sql = folder(example[0], "pool-gcp-usc1-shared")["0004_row_level_security.sql"].decode()
    assert 'CREATE POLICY "paybill_scope_ops_agent" ON "crm"."tickets"' in sql
    assert "\"tenant_id\" IN ('initech')" in sql
    # tenantScope all: still only the tenants whose rows live here
    assert "\"tenant_id\" IN ('initech', 'pied-piper')" in sql
    assert sql.count("FORCE ROW LEVEL SECURITY") == 4
    silo = folder(example[0], "tenant-nakatomi")["0004_row_level_security.sql"].decode()
    assert 'CREATE POLICY "paybill_all_rows" ON "crm"."invoices"' in silo
    assert "IN ('nakatomi')" in silo and "tenant_id\" IN" not in silo


def test_grants_no_workflow_step_uses_are_left_out_like_in_the_bundle(edited_specs) -> None:
    """A grant of read on currencies that no dunning step uses (PB0705 in the bundle) is not granted either."""
    specs = edited_specs({"agents/billing-agent.yaml": lambda t: t.replace(
        "    proposals:\n", "      - table: currencies\n        read: [code, minor_units]\n    proposals:\n")})
    tree, _ = emit_from(specs)
    assert tree
    for database in databases(tree):
        grants = index_of(tree, database)["catalog"]["agents"].get("billing-agent", {}).get("grants", {})
        assert "currencies" not in grants
        assert b'ON "crm"."currencies" TO "paybill_agent_billing_agent"' not in folder(tree, database)[
            "0005_grants.sql"]


def test_catalog_round_trips_and_rejects_hostile_names(example: Emitted) -> None:
    plans, ok = plan_databases(validate_repository(SPECS).index, DiagnosticSink())
    assert ok
    for plan in plans:
        rebuilt = plan_from_catalog(catalog_json(plan))
        assert rebuilt.tables == plan.tables and rebuilt.agents == plan.agents and rebuilt.key == plan.key
    data = catalog_json(plans[0])
    data["tables"]["tickets"]["schema"] = 'crm"; DROP TABLE x; --'
    with pytest.raises(CatalogError, match="identifier"):
        plan_from_catalog(data)
    data = catalog_json(plans[0])
    data["agents"]["billing-agent"]["grants"]["invoices"]["read"].append("body")
    with pytest.raises(CatalogError, match="unknown column"):
        plan_from_catalog(data)


@pytest.mark.parametrize("repository", ["specs", "generated"])
def test_plan_keys_spell_each_plan_as_its_repr(repository: str, tmp_path) -> None:
    """The SQL folders' unit-store keys hash ``repr(plan)``; :class:`PlanText` writes that text with
    each shared table's repr computed once (and is reused across the plans of one run, as the emitter
    does), for ``specs/`` and a generated repository (pooled and silo databases, several agents)."""
    import subprocess
    import sys
    from pathlib import Path

    from paybill.emit.sql.plan_text import PlanText

    root = SPECS
    if repository == "generated":
        root = tmp_path / "repo"
        generate = Path(__file__).resolve().parents[2] / "benchmarks" / "generate.py"
        subprocess.run([sys.executable, str(generate), "300", str(root)], check=True, capture_output=True)
    plans, ok = plan_databases(validate_repository(root).index, DiagnosticSink())
    assert ok and len(plans) > 3
    text = PlanText()
    for _ in range(2):
        for plan in plans:
            assert text(plan) == repr(plan)
    assert len({id(table) for plan in plans for table in plan.tables}) < sum(len(plan.tables) for plan in plans)
