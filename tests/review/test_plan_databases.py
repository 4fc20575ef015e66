"""``paybill plan`` shows what a change does to each database: tables and columns, row-level
security policies, grants (role, table, column, privilege, granted or revoked) and PII columns newly
granted, and counts widened grants among the permission findings.

Widening an agent's column grant changes only ``generated/sql/`` (no Terraform stack), which the
plan used to summarise as "0 stacks change". These tests run the CLI on real git repositories.
"""

from __future__ import annotations

import json

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from paybill.contract.sql_catalog import AgentPlan, ColumnPlan, DatabasePlan, GrantPlan, TablePlan
from paybill.emit.sql.migrations import index_json, migrations_for
from paybill.plan.databases import PiiColumns, database_findings, diff_databases

SUPPORT = "specs/agents/support-assistant.yaml"
CRM = "specs/data/crm.yaml"
PLAN = ("plan", "specs", "--base", "HEAD~1", "--head", "HEAD")
EMAIL_GRANT = {"role": "paybill_agent_support_assistant", "agent": "support-assistant", "table": "crm.customers",
               "column": "email", "privilege": "SELECT", "op": "granted", "pii": True}


def test_a_widened_column_grant_is_shown_in_text_markdown_and_json(repo, run, md_snapshot) -> None:
    repo.edit(SUPPORT, "read: [id, name]", "read: [id, name, email]")
    repo.commit("support assistant reads customer emails")

    code, text, _ = run(repo.root, *PLAN)
    assert code == 0
    # No stack changes, but the database change is not hidden behind "0 stacks change".
    assert "Terraform: 0 stacks change" in text
    assert "Databases: 1 database change (1 grant granted (1 on PII columns))\n" \
           "  ~ tenant-acme-corp (changed): 0005_grants.sql\n" \
           "      + grant SELECT (email) on crm.customers to paybill_agent_support_assistant [PII: email]\n" in text
    assert ("warning[PB0991] Agent/support-assistant: database permissions widened for agent 'support-assistant': "
            "1 grant in 1 database, including PII column crm.customers.email "
            "(specs/agents/support-assistant.yaml:17:5)") in text

    code, out, _ = run(repo.root, *PLAN, "--format", "json")
    report = json.loads(out)
    assert [db["database"] for db in report["databases"]] == ["tenant-acme-corp"]
    database = report["databases"][0]
    assert database["op"] == "changed" and database["files"] == ["0005_grants.sql"]
    assert database["grants"] == [EMAIL_GRANT]
    assert database["tables"] == [] and database["policies"] == []
    widened = [f for f in report["findings"] if f["category"] == "permissions"]
    assert [f["code"] for f in widened] == ["PB0930", "PB0991"]  # counted with the permission widening
    assert widened[1]["severity"] == "warning" and widened[1]["subject"] == "Agent/support-assistant"

    code, markdown, _ = run(repo.root, *PLAN, "--format", "markdown")
    assert "| sql | 1 | 0 | 0 | 0 | 1 | 0 | 1 |" in markdown
    assert "<details><summary><code>tenant-acme-corp</code> (changed): 1 change, 1 grant granted ⚠️ PII</summary>" \
           in markdown
    assert "- `+` grant SELECT (email) on crm.customers to paybill_agent_support_assistant \\[PII: email]" in markdown
    assert markdown == md_snapshot


def test_scope_and_data_model_changes_show_tables_policies_and_new_grants(repo, run) -> None:
    repo.edit(SUPPORT, "    selector:\n      matchLabels:\n        support-tier: premium\n", "    all: true\n")
    repo.edit(CRM, "        - {name: subject, type: text, nullable: false}\n",
              "        - {name: subject, type: text, nullable: false}\n        - {name: sentiment, type: integer}\n")
    repo.commit("support assistant for every tenant; ticket sentiment")
    code, out, _ = run(repo.root, *PLAN, "--format", "json")
    assert code == 0
    databases = {db["database"]: db for db in json.loads(out)["databases"]}
    pool = databases["pool-aws-use1-shared"]
    assert {"table": "crm.tickets", "op": "changed", "columnsAdded": ["sentiment integer"], "columnsRemoved": [],
            "changes": []} in pool["tables"]
    policies = {(p["table"], p["policy"]): p for p in pool["policies"]}
    scope = policies[("crm.tickets", "paybill_scope_support_assistant")]
    assert (scope["op"], scope["role"], scope["restrictive"]) == ("added", "paybill_agent_support_assistant", True)
    assert scope["after"] == "\"tenant_id\" IN ('hooli', 'vandelay')"
    assert scope["tenantsAdded"] == ["hooli", "vandelay"] and scope["agent"] == "support-assistant"
    assert {"role": "paybill_agent_support_assistant", "agent": "support-assistant", "table": "crm.tickets",
            "column": "subject", "privilege": "SELECT", "op": "granted", "pii": False} in pool["grants"]
    # A silo tenant the agent already served only gets the new column.
    assert [t["table"] for t in databases["tenant-acme-corp"]["tables"]] == ["crm.tickets"]
    assert databases["tenant-acme-corp"]["grants"] == []
    text = run(repo.root, *PLAN)[1]
    assert ("  ~ pool-aws-use1-shared (changed): 0001_roles.sql, 0003_tables.sql, 0004_row_level_security.sql, "
            "0005_grants.sql\n"
            "      ~ table crm.tickets: + columns sentiment integer\n"
            "      + policy paybill_scope_support_assistant on crm.customers (restrictive, to "
            "paybill_agent_support_assistant): tenants hooli, vandelay\n") in text


def test_narrowing_revokes_without_a_widening_flag_and_a_grown_scope_is_a_policy_change(repo, run) -> None:
    # Agents act only for tenants on a plan with ai-agents (PB0451): hooli and initech are on growth.
    repo.edit("specs/tenants/hooli.yaml", "plan: starter", "plan: growth")
    hooli = repo.read("specs/tenants/hooli.yaml")
    repo.write("specs/tenants/initech.yaml",
               hooli.replace("name: hooli", "name: initech").replace("displayName: Hooli", "displayName: Initech"))
    repo.edit(SUPPORT, "    selector:\n      matchLabels:\n        support-tier: premium\n",
              "    tenants: [acme-corp, hooli]\n")
    repo.commit("support assistant serves hooli too")
    repo.edit(SUPPORT, "read: [id, name]", "read: [id]")
    repo.edit(SUPPORT, "    tenants: [acme-corp, hooli]\n", "    tenants: [acme-corp, hooli, initech]\n")
    repo.commit("support assistant: no customer names, and initech")
    code, out, _ = run(repo.root, *PLAN, "--format", "json")
    assert code == 0
    report = json.loads(out)
    pool = next(db for db in report["databases"] if db["database"] == "pool-aws-use1-shared")
    revoked = [g for g in pool["grants"] if g["op"] == "revoked"]
    assert revoked == [{"role": "paybill_agent_support_assistant", "agent": "support-assistant",
                        "table": "crm.customers", "column": "name", "privilege": "SELECT", "op": "revoked",
                        "pii": False}]
    scope = next(p for p in pool["policies"] if p["table"] == "crm.tickets")
    assert (scope["op"], scope["tenantsAdded"], scope["tenantsRemoved"]) == ("changed", ["initech"], [])
    finding = next(f for f in report["findings"] if f["code"] == "PB0991")
    assert finding["message"] == ("database permissions widened for agent 'support-assistant': 2 row policies "
                                  "admitting more tenants in 1 database")
    assert not any("revoke" in d for d in finding["details"])
    text = run(repo.root, *PLAN)[1]
    assert "      - revoke SELECT (name) on crm.customers from paybill_agent_support_assistant\n" in text
    assert ("      ~ policy paybill_scope_support_assistant on crm.tickets (restrictive, to "
            "paybill_agent_support_assistant): tenants + initech\n") in text


def test_the_committed_base_catalogs_are_used_only_when_they_match_the_manifest(repo, run) -> None:
    code, out, err = run(repo.root, "compile", "specs")
    assert code == 0, out + err
    repo.commit("generated/")
    repo.edit(SUPPORT, "read: [id, name]", "read: [id, name, email]")
    report = json.loads(run(repo.root, "plan", "specs", "--format", "json")[1])
    assert report["terraform"]["base"] == "base: committed generated/ of the base commit (fresh)"
    compiled = json.loads(run(repo.root, "plan", "specs", "--format", "json", "--compile-base")[1])
    assert compiled["terraform"]["base"] == "base: compiled"
    assert report["databases"] == compiled["databases"] and report["databases"][0]["grants"] == [EMAIL_GRANT]
    # A hand-edited catalog is not trusted: the base side is compiled instead.
    repo.git("stash")
    index = repo.path("generated/sql/tenant-acme-corp/migrations.json")
    index.write_text(index.read_text().replace('"name"', '"email", "name"', 1))
    repo.commit("hand edit")
    repo.git("stash", "pop")
    report = json.loads(run(repo.root, "plan", "specs", "--format", "json")[1])
    assert report["terraform"]["base"] == ("base: compiled (generated/sql/tenant-acme-corp/migrations.json does not "
                                           "match its manifest hash)")
    assert report["databases"][0]["grants"] == [EMAIL_GRANT]


# --- the comparison itself, on hand-built catalogs -------------------------------------------------


def _database(*, tenant_scoped: bool = True, read: tuple[str, ...] = ("id",), tenants: tuple[str, ...] = ("a",),
              columns: tuple[str, ...] = ("id", "body")) -> DatabasePlan:
    table = TablePlan("notes", "crm", "tenant" if tenant_scoped else "global", tenant_scoped, ("id",),
                      tuple(ColumnPlan(c, "uuid" if c == "id" else "text", c != "id") for c in columns))
    grant = GrantPlan("notes", read, (), (), False, tenants)  # the emitter admits the agent's tenants on the table
    agent = AgentPlan("bot", "paybill_agent_bot", False, tenants, 60_000, (grant,))
    return DatabasePlan("pool-p", "pool", "p", True, tenants, "paybill_owner_pool_p", "paybill_app_pool_p",
                        ("crm",), (table,), (agent,), ())


def _tree(plan: DatabasePlan) -> dict[str, bytes]:
    return {"sql/pool-p/migrations.json": orjson.dumps(index_json(plan, migrations_for(plan)))}


PII = PiiColumns(frozenset({("notes", "body")}))


def test_identical_databases_and_spec_hash_only_changes_are_no_change() -> None:
    plan = _database()
    assert diff_databases(_tree(plan), _tree(plan), PII) == []
    moved = {"sql/pool-p/migrations.json": orjson.dumps({**index_json(plan, migrations_for(plan)),
                                                         "sources": [{"path": "x", "sha256": "y"}]})}
    assert diff_databases(_tree(plan), moved, PII) == []


def test_a_table_losing_its_tenant_isolation_is_flagged() -> None:
    changes = diff_databases(_tree(_database()), _tree(_database(tenant_scoped=False)), PII)
    assert [t.changes for t in changes[0].tables] == [("scope: tenant -> global", "tenant isolation: on -> off")]
    assert {(p.policy, p.op) for p in changes[0].policies} == {("paybill_tenant_isolation", "removed"),
                                                              ("paybill_all_rows", "added"),
                                                              ("paybill_scope_bot", "changed")}
    findings = database_findings(changes)
    assert [(f.code, f.subject, f.details) for f in findings] == [
        ("PB0992", "table:crm.notes", ("in pool-p",))]


def test_created_and_destroyed_databases_list_everything_and_pii_is_flagged() -> None:
    plan = _database(read=("id", "body"))
    created = diff_databases({}, _tree(plan), PII)[0]
    assert created.op == "created"
    assert [(g.column, g.op, g.pii) for g in created.grants] == [("body", "granted", True), ("id", "granted", False)]
    assert created.lines()[-1] == "+ grant SELECT (body, id) on crm.notes to paybill_agent_bot [PII: body]"
    finding = database_findings([created])[0]
    assert finding.message.endswith("2 grants in 1 database, including PII column crm.notes.body")
    destroyed = diff_databases(_tree(plan), {}, PII)[0]
    assert destroyed.op == "destroyed" and {g.op for g in destroyed.grants} == {"revoked"}
    assert database_findings([destroyed]) == []


def test_an_unreadable_catalog_is_listed_with_a_note_not_dropped() -> None:
    plan = _database()
    broken = {"sql/pool-p/migrations.json": b'{"migrations": [], "catalog": {"format": 99}}'}
    change = diff_databases(_tree(plan), broken, PII)[0]
    assert change.note == "head: its catalog cannot be read (unsupported catalog format 99)"
    assert change.lines()[-1] == "! head: its catalog cannot be read (unsupported catalog format 99)"
    assert diff_databases(_tree(plan), {"sql/pool-p/migrations.json": b"not json"}, PII)[0].note.startswith(
        "head: migrations.json is not JSON")
    # An unreadable side is not compared with "nothing": no grant is reported as new, nothing is flagged.
    widened = _tree(_database(read=("id", "body")))
    change = diff_databases(broken, widened, PII)[0]
    assert (change.grants, change.tables, change.policies) == ((), (), ())
    assert change.note == "base: its catalog cannot be read (unsupported catalog format 99)"
    assert database_findings([change]) == []


def test_markdown_keeps_many_different_database_changes_within_the_comment_budget() -> None:
    from paybill.changes.database_model import DatabaseChange, GrantChange
    from paybill.changes.model import PlanReport
    from paybill.plan.render.markdown import BUDGET, render_markdown
    from paybill.plan.render.text import render_text

    databases = [DatabaseChange(f"tenant-t{i:04d}", "changed", ("0005_grants.sql",), grants=tuple(
        GrantChange(f"paybill_agent_a{i}", "crm.customers", f"column_{j}", "SELECT", "granted", f"a{i}")
        for j in range(80))) for i in range(500)]
    report = PlanReport("base", "head", None, None, stacks=[], databases=databases)
    markdown = render_markdown(report)
    assert len(markdown) < BUDGET
    assert "| sql | 500 | 0 | 0 | 0 | 40000 | 0 | 0 |" in markdown
    assert "more groups of databases not shown to keep this comment under GitHub's size limit" in markdown
    # The terminal report keeps everything.
    assert render_text(report).count("column_79") == 500



COLUMNS = ("id", "body", "title", "owner")
TENANT_SETS = st.frozensets(st.sampled_from(("a", "b", "c")), min_size=1)
COLUMN_SETS = st.frozensets(st.sampled_from(COLUMNS))


def _effective(read: frozenset[str]) -> tuple[str, ...]:
    return tuple(c for c in COLUMNS if c in read) or ("id",)


@settings(max_examples=60, deadline=None)
@given(COLUMN_SETS, TENANT_SETS, COLUMN_SETS, TENANT_SETS)
def test_the_comparison_is_the_mirror_image_of_itself(read_a, tenants_a, read_b, tenants_b) -> None:
    before = _tree(_database(read=_effective(read_a), tenants=tuple(sorted(tenants_a)), columns=COLUMNS))
    after = _tree(_database(read=_effective(read_b), tenants=tuple(sorted(tenants_b)), columns=COLUMNS))
    forward, backward = diff_databases(before, after, PII), diff_databases(after, before, PII)
    assert bool(forward) == bool(backward) == ((_effective(read_a), tenants_a) != (_effective(read_b), tenants_b))
    if not forward:
        return
    flip = {"granted": "revoked", "revoked": "granted"}
    assert sorted((g.column, flip[g.op]) for g in forward[0].grants) == \
           sorted((g.column, g.op) for g in backward[0].grants)
    assert {g.column for g in forward[0].granted()} == set(_effective(read_b)) - set(_effective(read_a))
    assert all(g.pii == (g.column == "body") for g in forward[0].grants)
    for f, b in zip(forward[0].policies, backward[0].policies, strict=True):
        assert (f.tenants_added, f.tenants_removed) == (b.tenants_removed, b.tenants_added)
        assert set(f.tenants_added) == tenants_b - tenants_a
