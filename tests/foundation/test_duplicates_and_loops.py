"""Duplicates are reported on the later declaration (file path order) with the earlier location in
the message, and an unbounded workflow loop is shown as the actual cycle, in walking order."""

from __future__ import annotations

from pathlib import Path

from paybill.validate import validate_repository

from .support import BASE, build_repo

CRM = (BASE / "data" / "crm.yaml").read_text(encoding="utf-8")
TRIAGE = (BASE / "workflows" / "triage.yaml").read_text(encoding="utf-8")


def _diagnostics(root: Path, code: str) -> list[tuple[str, int, int, str, str | None]]:
    result = validate_repository(root)
    return [(d.path, d.position.line, d.position.col, d.message, d.hint) for d in result.diagnostics
            if d.code == code]


def test_duplicate_table_is_reported_in_the_later_file_even_when_its_model_name_sorts_first(tmp_path) -> None:
    # DataModel 'aaa' sorts before 'crm' by name, but its file comes after crm.yaml: it introduced the clash.
    copy = CRM.replace("name: crm", "name: aaa").replace("    - name: tickets", "    - name: notes")
    root = build_repo(tmp_path, files={"data/zz-copy.yaml": copy})
    assert _diagnostics(root, "PB0310") == [(
        "specs/data/zz-copy.yaml", 7, 13,
        "table 'customers' is already declared in DataModel/crm at specs/data/crm.yaml:7:13",
        "agents name tables without their model, so table names are unique across models; "
        "rename this table (or the earlier one)")]
    # The winner agents and the SQL emitter see is the same earlier declaration.
    result = validate_repository(root)
    assert result.index.tables["customers"].document.path == "specs/data/crm.yaml"


def test_duplicate_document_names_point_at_each_other(tmp_path) -> None:
    bluth = (BASE / "tenants" / "bluth.yaml").read_text(encoding="utf-8")
    root = build_repo(tmp_path, files={"tenants/zz-bluth.yaml": bluth})
    assert _diagnostics(root, "PB0301") == [(
        "specs/tenants/zz-bluth.yaml", 4, 9, "Tenant 'bluth' is already defined at specs/tenants/bluth.yaml:4:9",
        "names are unique per kind; rename one of them")]


def test_duplicate_step_id_and_column_name_the_first_declaration(tmp_path) -> None:
    workflow = TRIAGE.replace("    - id: done\n", "    - id: read-ticket\n      action: none\n    - id: done\n")
    crm = CRM.replace("        - {name: email, type: text, pii: true}\n",
                      "        - {name: email, type: text, pii: true}\n        - {name: name, type: text}\n")
    root = build_repo(tmp_path, files={"workflows/triage.yaml": workflow, "data/crm.yaml": crm})
    assert _diagnostics(root, "PB0501") == [(
        "specs/workflows/triage.yaml", 18, 11,
        "step id 'read-ticket' is used twice (first at specs/workflows/triage.yaml:9:11)",
        "step ids are unique within a workflow; rename this step")]
    assert [d[:4] for d in _diagnostics(root, "PB0310")] == [(
        "specs/data/crm.yaml", 13, 18,
        "column 'name' declared twice in table 'customers' (first at specs/data/crm.yaml:11:18)")]


def test_workflow_claimed_by_a_second_agent_is_reported_on_the_later_file(tmp_path) -> None:
    agent = (BASE / "agents" / "support-bot.yaml").read_text(encoding="utf-8")
    # 'aa-bot' sorts first by name, but its file comes later.
    root = build_repo(tmp_path, files={"agents/zz-bot.yaml": agent.replace("name: support-bot", "name: aa-bot")})
    assert [d[:4] for d in _diagnostics(root, "PB0307")] == [(
        "specs/agents/zz-bot.yaml", 24, 15,
        "workflow 'triage' is already run by agent 'support-bot' at specs/agents/support-bot.yaml:24:15")]


LOOP = """apiVersion: paybill.dev/v1alpha1
kind: Workflow
metadata:
  name: triage
spec:
  start: inspect
  terminal: [done]
  steps:
    - {id: inspect, action: read, resource: tickets, next: [notify, done]}
    - {id: notify, action: none, next: [escalate]}
    - {id: escalate, action: read, resource: tickets, maxVisits: 3, next: [inspect, done]}
    - {id: done, action: none}
"""


def test_loop_diagnostic_shows_the_cycle_in_walking_order(tmp_path) -> None:
    root = build_repo(tmp_path, files={"workflows/triage.yaml": LOOP})
    # Sorted, the steps would read "escalate -> inspect -> notify", which is no path of the workflow.
    assert [(d[1], d[3]) for d in _diagnostics(root, "PB0504")] == [
        (9, "step 'inspect' is on a loop (inspect -> notify -> escalate -> inspect) without maxVisits"),
        (10, "step 'notify' is on a loop (notify -> escalate -> inspect -> notify) without maxVisits"),
    ]


def test_self_loop_and_shortest_cycle_are_chosen_deterministically(tmp_path) -> None:
    workflow = LOOP.replace("next: [notify, done]}", "next: [inspect, notify, done]}")
    root = build_repo(tmp_path, files={"workflows/triage.yaml": workflow})
    messages = [d[3] for d in _diagnostics(root, "PB0504")]
    assert messages[0] == "step 'inspect' is on a loop (inspect -> inspect) without maxVisits"


def test_a_selector_is_not_called_empty_when_the_tenant_it_matches_failed_its_schema(tmp_path) -> None:
    """Found through `paybill propose --set Tenant/acme-corp:spec.displayName=123`: the schema error of the
    only matching tenant came with "label selector matches no tenant" (PB0309) on the agent."""
    agent = (BASE / "agents" / "support-bot.yaml").read_text(encoding="utf-8").replace(
        "    tenants: [acme]\n", "    selector:\n      matchLabels: {support-tier: premium}\n")
    acme = (BASE / "tenants" / "acme.yaml").read_text(encoding="utf-8")
    root = build_repo(tmp_path, files={"agents/support-bot.yaml": agent})
    assert _diagnostics(root, "PB0309") == []
    broken = acme.replace("  displayName: ", "  displayName: 123\n  x-old-name: ", 1)
    root = build_repo(tmp_path / "broken", files={"agents/support-bot.yaml": agent, "tenants/acme.yaml": broken})
    codes = {d.code for d in validate_repository(root).diagnostics}
    assert codes and "PB0309" not in codes, codes
