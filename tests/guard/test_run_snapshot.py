"""``Run.snapshot`` / ``Run.restore``: a run continued from its stored books decides exactly as the
run that kept going in memory (what lets several servers share one run through PostgreSQL).
ops-agent: maxCallsPerMinute 30, maxRowsRead 2000, close-tickets requires approval."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paybill.guard.run import Run

OPS = [("check", "read", 5), ("check", "read", 700), ("check", "update", 1), ("advance", "close-tickets", 0),
       ("advance", "done", 0), ("approve", "close-tickets", 0), ("tick", "", 7), ("tick", "", 61)]


def _apply(run: Run, clock, op: tuple[str, str, int]):
    kind, what, n = op
    if kind == "check":
        return run.check(what, "tickets", columns=["status"] if what == "update" else ["id"], rows=n)
    if kind == "advance":
        return run.advance(what)
    if kind == "approve":
        return run.approve(what, by="oncall@example.com")
    clock.advance(n)
    return None


# The guard and its manual clock are shared by the examples on purpose: each example starts its own
# runs at the clock's current time, and only time differences matter.
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(OPS), max_size=40), st.integers(min_value=0, max_value=40))
def test_a_restored_run_decides_as_the_original(load, clock, ops, cut):
    guard = load("ops-agent")
    kept = guard.start(tenant="acme-corp", workflow="incident-response", run_id="kept")
    moved = guard.start(tenant="acme-corp", workflow="incident-response", run_id="moved")
    for i, op in enumerate(ops):
        if i == min(cut, len(ops)):  # store the books as JSON and continue from them
            moved = Run.restore(guard, "moved", "acme-corp", "incident-response",
                                json.loads(json.dumps(moved.snapshot())))
        a, b = _apply(kept, clock, op), _apply(moved, clock, op)
        if a is not None:
            assert (a.allowed, a.violations, a.reasons) == (b.allowed, b.violations, b.reasons), (i, op)
    assert kept.counters() == moved.counters()


def test_snapshot_keeps_only_the_calls_a_decision_can_need(load, clock):
    run = load("ops-agent").start(tenant="acme-corp", workflow="incident-response")
    for _ in range(100):
        run.check("read", "tickets", columns=["id"], rows=0)
    assert len(run.snapshot()["calls"]) == 31  # maxCallsPerMinute + 1
    clock.advance(61)
    assert run.snapshot()["calls"] == []


@pytest.mark.parametrize("damage", [
    {"step": "nowhere"}, {"rowsRead": -1}, {"visits": {"inspect": "1"}}, {"calls": "x"}, {"steps": 1.5},
])
def test_a_damaged_snapshot_is_refused_not_reset(load, damage):
    guard = load("ops-agent")
    state = {**guard.start(tenant="acme-corp", workflow="incident-response").snapshot(), **damage}
    with pytest.raises(ValueError):
        Run.restore(guard, "r", "acme-corp", "incident-response", state)
    missing = guard.start(tenant="acme-corp", workflow="incident-response").snapshot()
    del missing["budgetSpent"]
    with pytest.raises(ValueError, match="not a run snapshot"):
        Run.restore(guard, "r", "acme-corp", "incident-response", missing)
