"""``paybill db drift`` on a real PostgreSQL: clean right after migrate, and each kind of manual
change found (one test per kind), with what git says and what the database has."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import psycopg
import pytest
from dbops_support import run_cli, unique_roles_folder
from pg_support import admin, dsn_for, scratch_database

from paybill.dbops.drift import check_drift, render_markdown, render_text
from paybill.dbops.folder import read_folder
from paybill.dbops.migrate import migrate

pytestmark = pytest.mark.postgres


@pytest.fixture
def migrated(pg_server: None, tmp_path: Path) -> Iterator[tuple[str, Path, dict[str, str]]]:
    """(database, folder, role renames): a fresh database migrated with roles unique to this test."""
    folder, roles = unique_roles_folder(tmp_path, secrets.token_hex(3))
    with scratch_database("dbdrift") as name:
        assert migrate(dsn_for(name), read_folder(folder)).status == "applied"
        yield name, folder, roles


def _drift(database: str, folder: Path) -> list[tuple[str, str, str, str]]:
    report = check_drift(dsn_for(database), read_folder(folder))
    return [(d.subject, d.kind, d.git, d.database) for d in report.differences]


def test_clean_right_after_migrate(migrated: tuple[str, Path, dict[str, str]]) -> None:
    database, folder, _ = migrated
    result = run_cli("db", "drift", "--database-url", dsn_for(database), str(folder))
    assert result.exit_code == 0, result.output
    assert "no drift" in result.output


AGENT, APP, GUARD, OWNER = ("paybill_agent_billing_agent", "paybill_app_pool_aws_use1_shared", "paybill_guard",
                            "paybill_owner_pool_aws_use1_shared")

CASES = {
    # kind: (SQL a human ran, the difference drift must report)
    "table-grant-added": ("GRANT SELECT ON crm.tickets TO PUBLIC",
                          ("table crm.tickets", "table grant", "not granted", "GRANT SELECT TO PUBLIC")),
    "column-grant-added": (f"GRANT SELECT (email) ON crm.customers TO {{{AGENT}}}",
                           ("table crm.customers", "column grant", "not granted",
                            f"GRANT SELECT (email) TO {{{AGENT}}}")),
    "column-grant-revoked": (f"REVOKE UPDATE (status) ON crm.invoices FROM {{{AGENT}}}",
                             ("table crm.invoices", "column grant", f"GRANT UPDATE (status) TO {{{AGENT}}}",
                              "not granted")),
    "grant-option-added": (f"GRANT SELECT ON crm.currencies TO {{{APP}}} WITH GRANT OPTION",
                           ("table crm.currencies", "table grant", f"GRANT SELECT TO {{{APP}}}",
                            f"GRANT SELECT TO {{{APP}}} WITH GRANT OPTION")),
    "schema-grant-added": ("GRANT USAGE ON SCHEMA crm TO PUBLIC",
                           ("schema crm", "schema grant", "not granted", "GRANT USAGE TO PUBLIC")),
    "policy-edited": ("ALTER POLICY paybill_scope_billing_agent ON crm.invoices USING (true)",
                      ("policy paybill_scope_billing_agent on crm.invoices", "policy", "*", "*USING (true)*")),
    "policy-added": ("CREATE POLICY open_door ON crm.tickets USING (true)",
                     ("policy open_door on crm.tickets", "policy", "not in the specs",
                      "AS PERMISSIVE FOR ALL TO PUBLIC USING (true)")),
    "policy-dropped": ("DROP POLICY paybill_tenant_isolation ON crm.tickets",
                       ("policy paybill_tenant_isolation on crm.tickets", "policy", "*", "missing")),
    "force-off": ("ALTER TABLE crm.invoices NO FORCE ROW LEVEL SECURITY",
                  ("table crm.invoices", "row-level security", "FORCE ROW LEVEL SECURITY", "not forced")),
    "rls-disabled": ("ALTER TABLE crm.customers DISABLE ROW LEVEL SECURITY",
                     ("table crm.customers", "row-level security", "ENABLE ROW LEVEL SECURITY", "disabled")),
    "role-login": (f"ALTER ROLE {{{AGENT}}} LOGIN",
                   (f"role {{{AGENT}}}", "role attribute", "NOLOGIN", "LOGIN")),
    "role-bypassrls": (f"ALTER ROLE {{{APP}}} BYPASSRLS",
                       (f"role {{{APP}}}", "role attribute", "NOBYPASSRLS", "BYPASSRLS")),
    "membership": (f"GRANT {{{AGENT}}} TO {{{OWNER}}}",
                   (f"role {{{AGENT}}}", "membership", f"{{{OWNER}}} is not a member", f"{{{OWNER}}} is a member")),
    "setting": (f"ALTER ROLE {{{AGENT}}} IN DATABASE {{database}} SET statement_timeout = 0",
                (f"role {{{AGENT}}}", "setting", "statement_timeout=600000 (in this database)",
                 "statement_timeout=0 (in this database)")),
    "setting-reset": (f"ALTER ROLE {{{AGENT}}} IN DATABASE {{database}} RESET statement_timeout",
                      (f"role {{{AGENT}}}", "setting", "statement_timeout=600000 (in this database)", "not set")),
    "setting-added": (f"ALTER ROLE {{{AGENT}}} IN DATABASE {{database}} SET work_mem = '64MB'",
                      (f"role {{{AGENT}}}", "setting", "not set", "work_mem=64MB (in this database)")),
    "column-type": ("ALTER TABLE crm.customers ALTER COLUMN plan_code TYPE varchar(8)",
                    ("column crm.customers.plan_code", "column", "text", "character varying(8)")),
    "column-nullable": ("ALTER TABLE crm.customers ALTER COLUMN name DROP NOT NULL",
                        ("column crm.customers.name", "column", "text NOT NULL", "text")),
    "primary-key": ("ALTER TABLE crm.tickets DROP CONSTRAINT tickets_pkey, ADD PRIMARY KEY (id, tenant_id)",
                    ("table crm.tickets", "primary key", "(tenant_id, id)", "(id, tenant_id)")),
    "column-added": ("ALTER TABLE crm.tickets ADD COLUMN note text",
                     ("column crm.tickets.note", "column", "not in the specs", "text")),
    "table-owner": ("ALTER TABLE crm.currencies OWNER TO postgres",
                    ("table crm.currencies", "owner", f"{{{OWNER}}}", "postgres")),
    "ledger-revision": ("DELETE FROM paybill.schema_migrations",
                        ("ledger", "revision", "*", "no paybill db migrate recorded")),
}


MANY = {"ledger-revision"}
"""Manual changes that are reported with more than one difference (checked below: exactly one otherwise)."""


def _matches(expected: str, actual: str) -> bool:
    if expected == "*":
        return True
    if expected.startswith("*") and expected.endswith("*"):
        return expected[1:-1] in actual
    return expected == actual


@pytest.mark.parametrize("kind", sorted(CASES))
def test_each_kind_of_manual_change_is_reported(kind: str, migrated: tuple[str, Path, dict[str, str]]) -> None:
    database, folder, roles = migrated
    names = {old: f'"{new}"' for old, new in roles.items()} | {"database": f'"{database}"'}
    statement, difference = CASES[kind]
    with psycopg.connect(dsn_for(database), autocommit=True) as conn:
        conn.execute(statement.format(**names))
    plain = {old: new for old, new in roles.items()}
    wanted = tuple(part.format(**plain) for part in difference)
    try:
        text = run_cli("db", "drift", "--database-url", dsn_for(database), str(folder)).output
        assert "error[PB1107]" in text and "\n  hint: " in text  # every diagnostic says what to do
        if kind in {"column-type", "column-added"}:
            assert "by hand after checking its data" in text  # reapply neither drops nor retypes columns
        if kind.startswith("role-"):
            assert "ALTER ROLE" in text and "--reapply' refuses" in text  # reapply would not fix it
        found = _drift(database, folder)
        assert any(all(_matches(w, a) for w, a in zip(wanted, d, strict=True)) for d in found), found
        assert len(found) == 1 or kind in MANY, found  # one manual change, one difference
        result = run_cli("db", "drift", "--database-url", dsn_for(database), "--format", "json", str(folder))
        assert result.exit_code == 1 and json.loads(result.output)["drift"] is True
    finally:
        with admin() as conn, suppress(psycopg.Error):  # a role given LOGIN is a real login: take it back
            conn.execute(f'ALTER ROLE "{roles[AGENT]}" NOLOGIN')


def test_drift_output(migrated: tuple[str, Path, dict[str, str]], snapshot) -> None:
    database, folder, roles = migrated
    with psycopg.connect(dsn_for(database), autocommit=True) as conn:
        conn.execute("GRANT SELECT ON crm.tickets TO PUBLIC")
        conn.execute("ALTER TABLE crm.invoices NO FORCE ROW LEVEL SECURITY")
        conn.execute(f'ALTER POLICY paybill_scope_billing_agent ON crm.invoices TO "{roles[APP]}"')
    report = check_drift(dsn_for(database), read_folder(folder))

    def stable(text: str) -> str:
        for old, new in roles.items():
            text = text.replace(new, old)
        return text.replace(report.revision[:12], "<revision>")

    assert stable(render_text(report, "generated/sql/pool-aws-use1-shared/migrations.json")) == snapshot(name="text")
    assert stable(render_markdown(report)) == snapshot(name="markdown")


def test_migrate_reapply_repairs_drift(migrated: tuple[str, Path, dict[str, str]]) -> None:
    database, folder, _ = migrated
    with psycopg.connect(dsn_for(database), autocommit=True) as conn:
        conn.execute("GRANT SELECT ON crm.tickets TO PUBLIC")
        conn.execute("ALTER TABLE crm.invoices NO FORCE ROW LEVEL SECURITY")
        conn.execute("ALTER POLICY paybill_scope_billing_agent ON crm.invoices USING (true)")
    assert run_cli("db", "migrate", "--database-url", dsn_for(database), str(folder)).output.count("already at") == 1
    assert _drift(database, folder)  # a plain re-run is a no-op: the drift stays
    repaired = run_cli("db", "migrate", "--reapply", "--database-url", dsn_for(database), str(folder))
    assert repaired.exit_code == 0 and "applied revision" in repaired.output
    assert _drift(database, folder) == []


def test_reapply_leaves_a_column_added_by_hand_as_its_hint_says(migrated: tuple[str, Path, dict[str, str]]) -> None:
    database, folder, _ = migrated
    with psycopg.connect(dsn_for(database), autocommit=True) as conn:
        conn.execute("ALTER TABLE crm.customers ADD COLUMN notes text")
    assert run_cli("db", "migrate", "--reapply", "--database-url", dsn_for(database), str(folder)).exit_code == 0
    assert _drift(database, folder) == [("column crm.customers.notes", "column", "not in the specs", "text")]
    text = run_cli("db", "drift", "--database-url", dsn_for(database), str(folder)).output
    assert "hint: drop it by hand" in text and "hint: run 'paybill db migrate --reapply'" not in text


def test_reapply_restores_a_column_s_nullability_as_its_hint_says(migrated: tuple[str, Path, dict[str, str]]) -> None:
    """Nullability converges (SET NOT NULL changes no data), so drift points at --reapply, which fixes it;
    before, 0003 never touched an existing column and --reapply left the column nullable."""
    database, folder, _ = migrated
    with psycopg.connect(dsn_for(database), autocommit=True) as conn:
        conn.execute("ALTER TABLE crm.customers ALTER COLUMN name DROP NOT NULL")
    text = run_cli("db", "drift", "--database-url", dsn_for(database), str(folder)).output
    assert "hint: run 'paybill db migrate --reapply' to set it as git says" in text, text
    assert run_cli("db", "migrate", "--reapply", "--database-url", dsn_for(database), str(folder)).exit_code == 0
    assert _drift(database, folder) == []


def test_migrate_refuses_a_column_of_another_type_and_says_what_to_do(
        migrated: tuple[str, Path, dict[str, str]]) -> None:
    """A column whose type differs from git stops the migration, named, with the remedy; before, the files
    ran, left the type alone and the ledger recorded the revision as applied (a spec type change too)."""
    database, folder, _ = migrated
    with psycopg.connect(dsn_for(database), autocommit=True) as conn:
        conn.execute("ALTER TABLE crm.invoices ALTER COLUMN amount_cents TYPE numeric(14, 2)")
        conn.execute("ALTER TABLE crm.customers ALTER COLUMN name DROP NOT NULL")
        before = conn.execute("SELECT count(*) FROM paybill.schema_migrations").fetchone()
    result = run_cli("db", "migrate", "--reapply", "--database-url", dsn_for(database), str(folder))
    assert result.exit_code == 1, result.output
    assert ("0003_tables.sql failed and was rolled back: column types differ from the specs, and paybill never "
            "changes a column's type: crm.invoices.amount_cents is numeric(14,2), the specs say bigint"
            ) in result.output
    assert "hint: nothing was changed; convert each column by hand after checking its data" in result.output
    assert "Traceback" not in result.output
    with psycopg.connect(dsn_for(database), autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM paybill.schema_migrations").fetchone() == before
        # one transaction: the nullability 0003 sets before the check was rolled back with it
        assert conn.execute("SELECT attnotnull FROM pg_attribute WHERE attrelid = 'crm.customers'::regclass"
                            " AND attname = 'name'").fetchone() == (False,)
        conn.execute("ALTER TABLE crm.invoices ALTER COLUMN amount_cents TYPE bigint")
    assert run_cli("db", "migrate", "--reapply", "--database-url", dsn_for(database), str(folder)).exit_code == 0
    assert _drift(database, folder) == []


def test_dry_run_says_the_migration_would_stop_and_why(migrated: tuple[str, Path, dict[str, str]]) -> None:
    """--dry-run said 'would apply' for a folder whose apply was certain to stop in 0003; it now reads
    the tables' types and keys (no row, no lock a query waits on) and names what a human must change."""
    database, folder, _ = migrated
    with psycopg.connect(dsn_for(database), autocommit=True) as conn:
        conn.execute("ALTER TABLE crm.invoices ALTER COLUMN amount_cents TYPE numeric")
        conn.execute("ALTER TABLE crm.tickets DROP CONSTRAINT tickets_pkey, ADD PRIMARY KEY (id, tenant_id)")
        conn.execute("ALTER TABLE crm.currencies ADD COLUMN tenant_id text")
    result = run_cli("db", "migrate", "--dry-run", "--reapply", "--database-url", dsn_for(database), str(folder))
    assert result.exit_code == 1, result.output
    assert "error[PB1114]: pool-aws-use1-shared: the migration would stop in 0003_tables.sql: crm.invoices." \
           "amount_cents is numeric, the specs say bigint" in result.output
    assert "crm.tickets has primary key (id, tenant_id), the specs say (tenant_id, id)" in result.output
    assert "hint: paybill never changes a column's type or a primary key" in result.output
    assert "crm.currencies is global in the specs but still has a tenant_id column" in result.output
    real = run_cli("db", "migrate", "--reapply", "--database-url", dsn_for(database), str(folder))
    assert real.exit_code == 1 and "0003_tables.sql failed and was rolled back" in real.output  # as announced
    unchanged = run_cli("db", "migrate", "--dry-run", "--database-url", dsn_for(database), str(folder))
    assert unchanged.exit_code == 0 and "nothing to do" in unchanged.output  # nothing would run: nothing to stop


def test_drift_text_reads_as_english_for_what_exists_or_is_missing(
        migrated: tuple[str, Path, dict[str, str]]) -> None:
    """It said 'the database has exists' and 'the database has missing'."""
    database, folder, _ = migrated
    with psycopg.connect(dsn_for(database), autocommit=True) as conn:
        conn.execute("CREATE TABLE crm.scratch (id int)")
        conn.execute("DROP POLICY paybill_tenant_isolation ON crm.tickets")
    text = run_cli("db", "drift", "--database-url", dsn_for(database), str(folder)).output
    assert "table crm.scratch: table: git says not in the specs; the database has it\n" in text, text
    assert "policy paybill_tenant_isolation on crm.tickets: policy: git says " in text
    assert "; the database has none\n" in text
    assert "has exists" not in text and "has missing" not in text
