"""The decision cache is exact: cached decisions equal Cedar's for any request, run history and revision."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cedarpy
import pytest
from guard_support import SPECS, compile_bundles
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paybill.guard import Guard, ManualClock
from paybill.guard.cache import (
    DecisionCache,
    NotCompilable,
    Overflow,
    Plan,
    compile_condition,
    condition_source,
)
from paybill.guard.engine import parse_policies

AGENTS = ("billing-agent", "ops-agent", "support-assistant")
TABLES = ("customers", "invoices", "tickets", "currencies", "nope")
COLUMNS = ("id", "name", "email", "status", "due_date", "priority", "assignee", "body", "code", "tenant_id",
           "spec.plan", "created_at")
TENANTS = ("acme-corp", "globex", "initech", "hooli", "bluth", "not-a-tenant")
ROWS = (0, 1, 2, 7, 49, 50, 51, 199, 200, 201, 499, 500, 501, 2000, 5000, 5001, 2**53)
SHARED = DecisionCache(64)
"""One small cache shared by every guard of every revision in the property: eviction and revision
changes happen all the time, and a stale answer would show as a difference."""


def _edit_limits(text: str) -> str:
    return (text.replace("maxRowsRead: 5000", "maxRowsRead: 50").replace("maxCallsPerMinute: 120",
                                                                          "maxCallsPerMinute: 7")
            .replace("read: [id, name, plan_code]", "read: [id, name, plan_code, created_at]"))


@pytest.fixture(scope="module")
def revisions(bundles, tmp_path_factory) -> list[Path]:
    """Bundle folders of two revisions of the example specs (billing-agent's limits and grants differ)."""
    root = tmp_path_factory.mktemp("cache-revisions")
    specs = root / "specs"
    shutil.copytree(SPECS, specs)
    agent = specs / "agents" / "billing-agent.yaml"
    agent.write_text(_edit_limits(agent.read_text()))
    edited = compile_bundles(specs, root / "out")
    return [bundles / a for a in AGENTS] + [edited / a for a in AGENTS]


operation = st.one_of(
    st.tuples(st.just("check"), st.sampled_from(("read", "insert", "update", "delete", "propose", "approve")),
              st.sampled_from((*TABLES, "Tenant")), st.lists(st.sampled_from(COLUMNS), max_size=3),
              st.sampled_from(ROWS), st.sampled_from((None, *TENANTS))),
    st.tuples(st.just("advance"), st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=3)),
    st.tuples(st.just("step"), st.integers(min_value=0, max_value=20)),
    st.tuples(st.just("approve"), st.integers(min_value=0, max_value=20)),
    st.tuples(st.just("wait"), st.sampled_from((0.0, 0.5, 30.0, 61.0, 200.0))),
)


def _apply(run, op, steps):
    kind = op[0]
    if kind == "check":
        _, action, resource, columns, rows, tenant = op
        return run.check(action, resource, columns=columns, rows=rows, tenant=tenant)
    if kind == "advance":
        return run.advance(op[1])
    if kind == "step":
        return run.advance(steps[op[1] % len(steps)])
    if kind == "approve":
        return run.approve(steps[op[1] % len(steps)], by="oncall@example.com")
    return None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(choice=st.integers(min_value=0, max_value=5), tenant=st.sampled_from(TENANTS[:-1]),
       ops=st.lists(operation, min_size=1, max_size=25))
def test_cached_decisions_equal_cedar_decisions(revisions, choice, tenant, ops):
    path = revisions[choice]
    cached_clock, plain_clock = ManualClock(100.0), ManualClock(100.0)
    cached = Guard.load(path, clock=cached_clock, cache=SHARED)
    plain = Guard.load(path, clock=plain_clock, cache=DecisionCache(0))
    assert cached.decider.plan is not None and plain.decider.plan is None
    workflow = sorted(cached.workflows)[0]
    steps = sorted(cached.workflows[workflow]["steps"])
    runs = cached.start(tenant=tenant, workflow=workflow, run_id="p"), plain.start(tenant=tenant, workflow=workflow,
                                                                                   run_id="p")
    for op in ops:
        if op[0] == "wait":
            cached_clock.advance(op[1])
            plain_clock.advance(op[1])
            continue
        got, want = _apply(runs[0], op, steps), _apply(runs[1], op, steps)
        assert got == want, op
        assert (runs[0].step, runs[0].counters(), runs[0].visits) == (runs[1].step, runs[1].counters(),
                                                                      runs[1].visits)


def test_a_new_revision_never_gets_an_old_answer(revisions):
    """Same position, two revisions, one cache: each revision answers with its own policies."""
    cache = DecisionCache()
    old, new = Guard.load(revisions[0], cache=cache), Guard.load(revisions[3], cache=cache)
    assert old.revision != new.revision
    for guard, allowed in ((old, False), (new, True), (old, False), (new, True)):
        decision = guard.evaluate(tenant="acme-corp", workflow="dunning", step="load-customer", action="read",
                                  resource="customers", columns=("created_at",), rows=1)
        assert decision.allowed is allowed
    assert cache.misses == 2 and len(cache) == 2


def test_limits_stay_exact_on_cached_positions(revisions):
    """The edited revision allows 7 calls a minute and 50 rows: the 8th call and the 51st row are denied
    although the position's static verdict is cached."""
    clock = ManualClock(0.0)
    guard = Guard.load(revisions[3], clock=clock)
    run = guard.start(tenant="acme-corp", workflow="dunning")
    decisions = [run.check("read", "invoices", columns=["id"], rows=6) for _ in range(8)]
    assert [d.allowed for d in decisions] == [True] * 7 + [False]
    assert decisions[-1].violations == ("limit.maxCallsPerMinute",)
    clock.advance(61)
    assert not run.check("read", "invoices", columns=["id"], rows=9).allowed  # 42 + 9 > 50
    assert run.check("read", "invoices", columns=["id"], rows=8).allowed     # 42 + 8 = 50
    assert guard.cache.misses == 1  # one Cedar call for the position; every limit was evaluated anyway


def test_the_cache_is_bounded(revisions):
    cache = DecisionCache(3)
    guard = Guard.load(revisions[0], cache=cache)
    for step in ("list-invoices", "load-customer", "mark-overdue", "propose-plan-change", "done"):
        guard.evaluate(tenant="globex", workflow="dunning", step=step, action="read", resource="invoices")
    assert len(cache) == 3
    cache.clear()
    assert len(cache) == 0
    with pytest.raises(ValueError):
        DecisionCache(-1)
    assert not DecisionCache(0).enabled


def _est(text: str):
    return parse_policies(text)


def test_plan_refuses_what_it_cannot_decide_exactly():
    base = '@id("a") permit (principal, action, resource);\n'
    assert Plan.of(_est(base + '@id("f") forbid (principal, action, resource) when { context.rows > 3 };'),
                   "x") is not None
    refused = [
        '@id("p") permit (principal, action, resource) when { context.rows > 3 };',  # a permit reads a counter
        '@id("f") forbid (principal == Paybill::Run::"r", action, resource) when { context.rows > 3 };',
        '@id("f") forbid (principal, action, resource in Paybill::Workflow::"w") when { context.rows > 3 };',
        '@id("f") forbid (principal, action in Paybill::Action::"read", resource) when { context.rows > 3 };',
        '@id("f") forbid (principal, action, resource) when { context.rows * 2 > 3 };',
        '@id("f") forbid (principal, action, resource) when { principal.steps > context.rows };',
        '@id("f") forbid (principal, action, resource) when { context has rows };',
        '@id("f") forbid (principal, action, resource) when { context.rows > 3 && context.columns.isEmpty() };',
    ]
    for text in refused:
        assert Plan.of(_est(base + text), "x") is None, text
    agent = '@id("f") forbid (principal in Paybill::Agent::"x", action, resource) when { context.steps >= 2 };'
    assert Plan.of(_est(base + agent), "x") is not None
    assert Plan.of(_est(base + agent), "y") is None


def _conditions(text: str):
    (policy,) = _est(text)["staticPolicies"].values()
    return policy["conditions"]


def test_the_interpreter_agrees_with_cedar_on_its_operators():
    expressions = [
        "context.rows < 0 || context.budgetSpent < 0 || (if context.rows < 1 then 1 else context.rows) > "
        "10 - context.budgetSpent",
        "!(context.rows <= 3) && context.steps >= 2",
        "context.rows + context.steps == 5 || context.rows != context.steps",
        "context.approved == false",
    ]
    schema = None
    for expression in expressions:
        for kind in ("when", "unless"):
            text = f'@id("f") forbid (principal, action, resource) {kind} {{ {expression} }};'
            predicate = compile_condition(_conditions(text))
            policies = cedarpy.PolicySet.from_str(text + '\n@id("a") permit (principal, action, resource);')
            for rows in (-1, 0, 1, 3, 4, 9, 11):
                for steps in (0, 2, 5):
                    for approved in (False, True):
                        values = {"rows": rows, "budgetSpent": 1, "steps": steps, "approved": approved}
                        request = {"principal": {"type": "A", "id": "a"}, "action": {"type": "Act", "id": "x"},
                                   "resource": {"type": "R", "id": "r"}, "context": json.dumps(values)}
                        cedar = cedarpy.is_authorized(request, policies, cedarpy.Entities.from_json_str("[]", schema))
                        assert predicate(values) is (cedar.decision == cedarpy.Decision.Deny), (text, values)


def test_overflow_goes_to_cedar():
    predicate = compile_condition(_conditions(
        '@id("f") forbid (principal, action, resource) when { 9223372036854775807 - context.rows > 0 };'))
    assert predicate({"rows": 0}) is True
    with pytest.raises(Overflow):
        predicate({"rows": -1})


def test_unsupported_expressions_are_named():
    for text in ('when { context.rows }', 'when { context.rows < true }', 'when { context.rows == true }',
                 'when { if context.rows < 1 then 1 else false }', 'when { context.tenant == "a" }'):
        with pytest.raises(NotCompilable):
            condition_source(_conditions(f'@id("f") forbid (principal, action, resource) {text};'))
    with pytest.raises(NotCompilable):
        condition_source("not a list")
    assert condition_source([]) == "True"
