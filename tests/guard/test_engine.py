"""The Cedar engine wrapper: policy text rules and fail-closed verdicts."""

from __future__ import annotations

import pytest

from paybill.guard.engine import Engine, PolicyFormatError


@pytest.fixture
def texts(bundles):
    folder = bundles / "ops-agent"
    return (folder / "schema.cedarschema").read_text(), (folder / "policies.cedar").read_text(), \
        (folder / "entities.json").read_text()


@pytest.mark.parametrize(("extra", "words"), [
    ("permit(principal, action, resource);", "has no @id annotation"),
    ('@id("specs/agents/ops-agent.yaml#permissions.tables.tickets.read")\npermit(principal, action, resource);',
     "is used by two policies"),
    ('@id("t")\npermit(principal == ?principal, action, resource);', "bundles contain no policy templates"),
    ("permit(", "policies do not parse"),
])
def test_policy_text_rules(texts, extra, words):
    schema, policies, entities = texts
    with pytest.raises(PolicyFormatError, match=words):
        Engine(schema, policies + "\n" + extra + "\n", entities)


def test_a_schema_with_action_groups_is_refused(texts):
    schema, policies, entities = texts
    grouped = schema.replace('action "read"', 'action "reading";\n  action "read" in ["reading"]', 1)
    assert grouped != schema
    with pytest.raises(PolicyFormatError, match="declare no action groups"):
        Engine(grouped, policies, entities)


def test_forbids_name_their_violations_and_reasons_are_sorted(texts):
    schema, policies, entities = texts
    engine = Engine(schema, policies, entities)
    assert engine.violation_of["specs/agents/ops-agent.yaml#limits.budgetUnits"] == "limit.budgetUnits"
    assert all(not pid.endswith(".read") for pid in engine.violation_of), "permits carry no violation"
