"""Every emitted database applies cleanly twice on PostgreSQL 15, ends in exactly the specified
state, and converges when the specs change."""

from __future__ import annotations

import json
import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pg_support import SPECS, apply_folder, dsn_for, emit, folder, scratch_database

from paybill.contract.sql_catalog import DatabasePlan, plan_from_catalog
from paybill.emit.sql.apply import ApplyError

pytestmark = pytest.mark.postgres

ALL_AGENT_ROLES = ("paybill_agent_billing_agent", "paybill_agent_ops_agent", "paybill_agent_support_assistant")


def catalog_plan(files: dict[str, bytes]) -> DatabasePlan:
    return plan_from_catalog(json.loads(files["migrations.json"])["catalog"])


def column_privileges(conn: psycopg.Connection[Any], role: str, schema: str, table: str) -> dict[str, set[str]]:
    """privilege -> columns ``role`` holds it on (directly), as PostgreSQL reports it."""
    rows = conn.execute(
        """SELECT a.attname, p.priv FROM pg_attribute a
             CROSS JOIN (VALUES ('SELECT'), ('INSERT'), ('UPDATE')) AS p(priv)
            WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped
              AND has_column_privilege(%s, a.attrelid, a.attnum, p.priv)""",
        (f"{schema}.{table}", role),
    ).fetchall()
    found: dict[str, set[str]] = {}
    for column, priv in rows:
        found.setdefault(priv, set()).add(column)
    return found


def assert_state(database: str, plan: DatabasePlan) -> None:
    """What PostgreSQL says after applying equals the plan: privileges, RLS, ownership, timeouts."""
    with psycopg.connect(dsn_for(database), autocommit=True) as conn:
        agents = {a.role: a for a in plan.agents}
        for table in plan.tables:
            rls, force, owner = conn.execute(
                "SELECT relrowsecurity, relforcerowsecurity, pg_get_userbyid(relowner) FROM pg_class "
                "WHERE oid = %s::regclass", (f"{table.schema}.{table.name}",)).fetchone()
            assert (rls, force) == (True, True), table.name
            assert owner == plan.owner_role
            for role in ALL_AGENT_ROLES:
                exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
                if not exists:
                    continue
                held = column_privileges(conn, role, table.schema, table.name)
                delete = conn.execute("SELECT has_table_privilege(%s, %s::regclass, 'DELETE')",
                                      (role, f"{table.schema}.{table.name}")).fetchone()[0]
                grant = next((g for g in agents[role].grants if g.table == table.name), None) if role in agents \
                    else None
                expected = {} if grant is None else {
                    p: set(c) for p, c in (("SELECT", grant.read), ("INSERT", grant.insert),
                                           ("UPDATE", grant.update)) if c}
                assert held == expected, (database, role, table.name)
                assert delete == bool(grant and grant.delete)
        for agent in plan.agents:
            settings = conn.execute(
                "SELECT setconfig FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase "
                "WHERE d.datname = current_database() AND s.setrole = %s::regrole", (agent.role,)).fetchone()
            assert settings and f"statement_timeout={agent.statement_timeout_ms}" in settings[0]
        roles = conn.execute("SELECT rolname, rolcanlogin, rolsuper, rolbypassrls FROM pg_roles "
                             "WHERE rolname = ANY(%s)", ([plan.owner_role, plan.app_role, *agents],)).fetchall()
        assert len(roles) == 2 + len(agents) and not any(any(r[1:]) for r in roles)


def test_every_emitted_database_applies_cleanly_twice(pg_server: None) -> None:
    tree = emit(SPECS)
    databases = sorted({p.split("/")[1] for p in tree})
    assert len(databases) == 12
    for database in databases:
        files = folder(tree, database)
        with scratch_database("apply") as name:
            apply_folder(name, files)
            apply_folder(name, files)  # idempotent: the same files again, on the now-populated database
            assert_state(name, catalog_plan(files))


def test_reapplying_converges_after_the_specs_change(pg_server: None, tmp_path: Path) -> None:
    """v1 -> v2: ops-agent loses initech (so its grants, policy and settings leave the gcp pool), a
    column is added to tickets, and existing rows survive."""
    before = folder(emit(SPECS), "pool-gcp-usc1-shared")
    shutil.copytree(SPECS, tmp_path / "specs")
    ops = tmp_path / "specs" / "agents" / "ops-agent.yaml"
    ops.write_text(ops.read_text().replace("initech, ", ""))
    crm = tmp_path / "specs" / "data" / "crm.yaml"
    crm.write_text(crm.read_text().replace(
        "        - {name: updated_at, type: timestamptz}\n",
        "        - {name: updated_at, type: timestamptz}\n        - {name: labels, type: jsonb}\n"))
    after = folder(emit(tmp_path / "specs"), "pool-gcp-usc1-shared")
    with scratch_database("converge") as name:
        apply_folder(name, before)
        assert_state(name, catalog_plan(before))
        with psycopg.connect(dsn_for(name), autocommit=True) as conn:
            conn.execute("INSERT INTO crm.tickets (tenant_id, id, customer_id, subject, status, priority, created_at)"
                         " VALUES ('initech', gen_random_uuid(), gen_random_uuid(), 's', 'open', 'p1', now())")
        apply_folder(name, after)
        assert_state(name, catalog_plan(after))
        with psycopg.connect(dsn_for(name), autocommit=True) as conn:
            assert conn.execute("SELECT count(*) FROM crm.tickets").fetchone()[0] == 1
            assert conn.execute("SELECT count(*) FROM information_schema.columns WHERE table_name = 'tickets' "
                                "AND column_name = 'labels'").fetchone()[0] == 1
            policies = {r[0] for r in conn.execute("SELECT policyname FROM pg_policies WHERE tablename = 'tickets'")}
            assert policies == {"paybill_tenant_isolation"}  # the stale paybill_scope_ops_agent is gone
            assert not conn.execute("SELECT 1 FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase"
                                    " WHERE d.datname = current_database() AND s.setrole = "
                                    "'paybill_agent_ops_agent'::regrole").fetchone()


def _retyped(tmp_path: Path, old: str, new: str) -> dict[str, bytes]:
    """The gcp pool's folder after one edit of specs/data/crm.yaml."""
    root = tmp_path / secrets.token_hex(3) / "specs"
    shutil.copytree(SPECS, root)
    crm = root / "data" / "crm.yaml"
    assert old in crm.read_text()
    crm.write_text(crm.read_text().replace(old, new))
    return folder(emit(root), "pool-gcp-usc1-shared")


def _not_null(name: str, table: str, column: str) -> bool:
    with psycopg.connect(dsn_for(name), autocommit=True) as conn:
        return bool(conn.execute("SELECT attnotnull FROM pg_attribute WHERE attrelid = %s::regclass AND attname = %s",
                                 (f"crm.{table}", column)).fetchone()[0])


def test_a_column_tightened_in_the_specs_is_set_not_null_once_its_nulls_are_filled(
        pg_server: None, tmp_path: Path) -> None:
    """The documented way to add a NOT NULL column to a table with rows: add it nullable, backfill, tighten.
    Before, re-applying never touched an existing column, so the tightening was recorded as applied while
    the column stayed nullable; now it is set (and loosened back) as the specs say, and while a NULL is
    left the whole apply fails and changes nothing."""
    line = "        - {name: updated_at, type: timestamptz}\n"
    nullable = folder(emit(SPECS), "pool-gcp-usc1-shared")
    tightened = _retyped(tmp_path, line, line.replace("timestamptz}", "timestamptz, nullable: false}"))
    with scratch_database("tighten") as name:
        apply_folder(name, nullable)
        with psycopg.connect(dsn_for(name), autocommit=True) as conn:
            conn.execute("INSERT INTO crm.tickets (tenant_id, id, customer_id, subject, status, priority, created_at)"
                         " VALUES ('initech', gen_random_uuid(), gen_random_uuid(), 's', 'open', 'p1', now())")
        with pytest.raises(ApplyError, match=r'column "updated_at" of relation "tickets" contains null values'):
            apply_folder(name, tightened)
        assert not _not_null(name, "tickets", "updated_at")
        with psycopg.connect(dsn_for(name), autocommit=True) as conn:
            conn.execute("UPDATE crm.tickets SET updated_at = created_at")
        apply_folder(name, tightened)
        assert _not_null(name, "tickets", "updated_at")
        apply_folder(name, nullable)
        assert not _not_null(name, "tickets", "updated_at")
        with psycopg.connect(dsn_for(name), autocommit=True) as conn:
            assert conn.execute("SELECT count(*) FROM crm.tickets").fetchone()[0] == 1


def test_a_type_changed_in_the_specs_stops_the_apply_until_a_human_converts_it(
        pg_server: None, tmp_path: Path) -> None:
    """paybill never retypes a column (a conversion may lose data); before, the apply succeeded and left
    the old type under a catalog that claims the new one."""
    before = folder(emit(SPECS), "pool-gcp-usc1-shared")
    after = _retyped(tmp_path, "{name: amount_cents, type: bigint, nullable: false}",
                     "{name: amount_cents, type: numeric, nullable: false}")
    with scratch_database("retype") as name:
        apply_folder(name, before)
        with pytest.raises(ApplyError, match=r"crm\.invoices\.amount_cents is bigint, the specs say numeric"):
            apply_folder(name, after)
        with psycopg.connect(dsn_for(name), autocommit=True) as conn:
            conn.execute("ALTER TABLE crm.invoices ALTER COLUMN amount_cents TYPE numeric")
        apply_folder(name, after)
        assert_state(name, catalog_plan(after))


def test_a_primary_key_changed_in_the_specs_stops_the_apply_until_a_human_changes_it(
        pg_server: None, tmp_path: Path) -> None:
    """CREATE TABLE IF NOT EXISTS left the old key, the apply succeeded and drift saw nothing, while the
    catalog (and the guard's one-row write cap) assumed the new one."""
    before = folder(emit(SPECS), "pool-gcp-usc1-shared")
    after = _retyped(tmp_path, "    - name: tickets\n      primaryKey: [id]",
                     "    - name: tickets\n      primaryKey: [customer_id, id]")
    with scratch_database("rekey") as name:
        apply_folder(name, before)
        with pytest.raises(ApplyError, match=r"primary keys differ from the specs, and paybill never changes a primary "
                                             r"key: crm\.tickets has \(tenant_id, id\), the specs say "
                                             r"\(tenant_id, customer_id, id\)"):
            apply_folder(name, after)
        with psycopg.connect(dsn_for(name), autocommit=True) as conn:
            conn.execute("ALTER TABLE crm.tickets DROP CONSTRAINT tickets_pkey,"
                         " ADD PRIMARY KEY (tenant_id, customer_id, id)")
        apply_folder(name, after)
        assert_state(name, catalog_plan(after))


def test_a_global_table_made_tenant_scoped_stops_the_apply_with_its_cause(pg_server: None, tmp_path: Path) -> None:
    """Its rows name no tenant, so paybill cannot add tenant_id; before, the apply failed in 0004 with
    'column "tenant_id" does not exist', which said neither why nor what to do."""
    before = folder(emit(SPECS), "pool-gcp-usc1-shared")
    after = _retyped(tmp_path, "      scope: global\n", "")
    with scratch_database("rescope") as name:
        apply_folder(name, before)
        with pytest.raises(ApplyError, match=r"0003_tables\.sql: tables the specs make tenant-scoped have no "
                                             r"tenant_id column \(created while global\): crm\.currencies"):
            apply_folder(name, after)
        with psycopg.connect(dsn_for(name), autocommit=True) as conn:  # what the hint says, by hand
            conn.execute("ALTER TABLE crm.currencies ADD COLUMN tenant_id text NOT NULL DEFAULT 'initech'")
            conn.execute("ALTER TABLE crm.currencies ALTER COLUMN tenant_id DROP DEFAULT")
            conn.execute("ALTER TABLE crm.currencies DROP CONSTRAINT currencies_pkey,"
                         " ADD PRIMARY KEY (tenant_id, code)")
        apply_folder(name, after)
        assert_state(name, catalog_plan(after))


def test_a_tenant_table_made_global_stops_the_apply_until_a_human_decides_what_is_shared(
        pg_server: None, tmp_path: Path) -> None:
    """Before, the apply succeeded: every tenant's rows became visible to every role, tenant_id stayed
    NOT NULL (an insert with no tenant set failed) under a key the spec no longer had."""
    before = folder(emit(SPECS), "pool-gcp-usc1-shared")
    after = _retyped(tmp_path, "    - name: tickets\n", "    - name: tickets\n      scope: global\n")
    with scratch_database("unscope") as name:
        apply_folder(name, before)
        with pytest.raises(ApplyError, match=r"tables the specs make global still have a tenant_id column \(created "
                                             r"while tenant-scoped\): crm\.tickets"):
            apply_folder(name, after)
        with psycopg.connect(dsn_for(name), autocommit=True) as conn:
            assert conn.execute("SELECT count(*) FROM pg_policies WHERE tablename = 'tickets'"
                                " AND policyname = 'paybill_tenant_isolation'").fetchone()[0] == 1  # still isolated
            conn.execute("ALTER TABLE crm.tickets DROP COLUMN tenant_id CASCADE")  # its key and policies go too
            conn.execute("ALTER TABLE crm.tickets ADD PRIMARY KEY (id)")
        apply_folder(name, after)
        assert_state(name, catalog_plan(after))


@pytest.mark.parametrize("attribute", ["BYPASSRLS", "LOGIN"])
def test_a_paybill_role_that_could_bypass_isolation_stops_the_whole_apply(
    pg_server: None, edited_agent: Callable[[str], tuple[str, dict[str, bytes]]], attribute: str
) -> None:
    role, files = edited_agent(attribute.lower())
    with psycopg.connect(dsn_for("test"), autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{role}" NOLOGIN')
        conn.execute(f'ALTER ROLE "{role}" {attribute}')
    with scratch_database("unsafe") as name:
        with pytest.raises(ApplyError, match="must be NOLOGIN, NOSUPERUSER and NOBYPASSRLS"):
            apply_folder(name, files)
        with psycopg.connect(dsn_for(name), autocommit=True) as conn:  # one transaction: nothing was applied
            assert conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname = 'crm'").fetchone()[0] == 0


@pytest.fixture
def edited_agent(tmp_path: Path) -> Iterator[Callable[[str], tuple[str, dict[str, bytes]]]]:
    """An extra agent with a name unique to this test (roles are cluster-wide), in the silo acme-corp."""
    created: list[str] = []

    def make(tag: str) -> tuple[str, dict[str, bytes]]:
        name = f"rogue-{tag}-{secrets.token_hex(3)}"
        root = tmp_path / tag / "specs"
        shutil.copytree(SPECS, root)
        original = root / "agents" / "support-assistant.yaml"  # a workflow has one agent: replace it
        (root / "agents" / f"{name}.yaml").write_text(
            original.read_text().replace("name: support-assistant", f"name: {name}"))
        original.unlink()
        role = "paybill_agent_" + name.replace("-", "_")
        created.append(role)
        return role, folder(emit(root), "tenant-acme-corp")

    yield make
    with psycopg.connect(dsn_for("test"), autocommit=True) as conn:
        for role in created:
            conn.execute(f'DROP ROLE IF EXISTS "{role}"')
