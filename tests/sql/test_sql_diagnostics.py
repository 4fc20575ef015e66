"""PB08xx: SQL problems are diagnostics at spec positions, never tracebacks or silently bad SQL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sql_support import emit_from

from paybill.contract import sql_names as names
from paybill.diagnostics.render import render_text

EditSpecs = Callable[[dict[str, Callable[[str], str] | str]], Path]


def test_reserved_schema_name_is_an_error_and_nothing_is_emitted(edited_specs: EditSpecs) -> None:
    specs = edited_specs({"data/crm.yaml": lambda t: t.replace("  name: crm\n", "  name: pg-crm\n")})
    tree, diagnostics = emit_from(specs)
    assert tree == {}
    text = render_text(diagnostics, 1)
    assert "specs/data/crm.yaml:7:9: error[PB0802]: schema name 'pg_crm' starts with 'pg_'" in text
    assert "hint: rename the data model" in text


def test_public_schema_is_reserved(edited_specs: EditSpecs) -> None:
    specs = edited_specs({"data/crm.yaml": lambda t: t.replace("  name: crm\n", "  name: public\n")})
    tree, diagnostics = emit_from(specs)
    assert tree == {} and [d.code for d in diagnostics] == ["PB0802"]


def test_identifier_over_63_bytes_is_an_error_at_the_agent_name(
    edited_specs: EditSpecs, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Spec names are at most 40 characters, so today's prefixes always fit; a longer prefix (as a
    # future naming scheme might use) must be caught here rather than truncated by PostgreSQL.
    monkeypatch.setattr(names, "AGENT_ROLE_PREFIX", "paybill_agent_with_a_much_much_much_longer_prefix_than_now_")
    tree, diagnostics = emit_from(edited_specs({}))
    assert tree == {}
    errors = {(d.code, d.path, d.position.line) for d in diagnostics}
    assert ("PB0801", "specs/agents/support-assistant.yaml", 6) in errors
    assert any("PostgreSQL truncates identifiers over 63" in d.message for d in diagnostics)


def test_update_without_readable_primary_key_warns(edited_specs: EditSpecs) -> None:
    specs = edited_specs({"agents/ops-agent.yaml": lambda t: t.replace(
        "read: [id, subject, status, priority, assignee]", "read: [subject, status, priority, assignee]")})
    tree, diagnostics = emit_from(specs)
    assert tree  # a warning does not stop emission
    assert [(d.code, d.severity.value, d.position.line) for d in diagnostics] == [("PB0803", "warning", 16)]
    assert "may not read its primary key (id)" in diagnostics[0].message


def test_writing_a_global_table_in_a_pool_warns_once(edited_specs: EditSpecs) -> None:
    specs = edited_specs({
        "agents/billing-agent.yaml": lambda t: t.replace(
            "    proposals:\n",
            "      - table: currencies\n        read: [code, minor_units]\n        update: [minor_units]\n"
            "    proposals:\n"),
        "workflows/dunning.yaml": lambda t: t.replace(
            "      next: [load-customer]\n",
            "      next: [load-customer, fix-currency]\n"
            "    - id: fix-currency\n      action: update\n      resource: currencies\n      next: [done]\n"),
    })
    tree, diagnostics = emit_from(specs)
    assert tree
    # the key (code) is granted for reading, but no step reads currencies, so it is not effective
    assert [(d.code, d.path) for d in diagnostics] == [("PB0803", "specs/agents/billing-agent.yaml"),
                                                        ("PB0804", "specs/agents/billing-agent.yaml")]
    assert b'GRANT UPDATE ("minor_units") ON "crm"."currencies"' in tree["sql/pool-aws-use1-shared/0005_grants.sql"]
