"""Replaying traces: every malformed line is a TraceError naming its line; differences are exact."""

from __future__ import annotations

import orjson
import pytest

from paybill.guard import Guard, ManualClock
from paybill.guard.replay import TraceError, replay


@pytest.fixture
def clock():
    return ManualClock(0.0)


@pytest.fixture
def guard(bundles, clock):
    return Guard.load(bundles / "ops-agent", clock=clock)


START = {"op": "start", "run": "r", "input": {"tenant": "acme-corp", "workflow": "incident-response"}}
ALLOW = {"allowed": True, "reasons": ["specs/agents/ops-agent.yaml#permissions.tables.tickets.read"],
         "violations": []}


def lines(*events):
    return [orjson.dumps(e) for e in events]


def check(decision, **data):
    return {"op": "check", "run": "r", "input": {"action": "read", "resource": "tickets", "columns": ["id"],
                                                  "rows": 1, **data}, "decision": decision}


@pytest.mark.parametrize(("raw", "words"), [
    (b"{nope", "line 2: not JSON"),
    (b"[1]", "line 2: a trace line is an object with 'op', 'run' and 'input'"),
    (b'{"op": "check", "run": "r", "input": 5}', "line 2: a trace line is an object"),
    (b'{"op": "dance", "run": "r", "input": {}}', "line 2: unknown op 'dance' (start, check, advance, approve)"),
    (b'{"op": "check", "run": "q", "input": {}}', "line 2: run 'q' was not started earlier in the trace"),
    (b'{"op": "start", "run": "q", "input": {"tenant": "Bad", "workflow": "incident-response"}}',
     "line 2: invalid tenant name 'Bad'"),
    (orjson.dumps(check(None)), "line 2: a recorded 'decision' with a boolean 'allowed' is required"),
    (orjson.dumps(check({"allowed": 1})), "line 2: a recorded 'decision' with a boolean 'allowed'"),
])
def test_malformed_lines_name_their_line(guard, clock, raw, words):
    with pytest.raises(TraceError) as raised:
        replay(guard, [orjson.dumps(START), raw], clock=clock)
    assert str(raised.value).startswith(words) and raised.value.line == 2


def test_blank_lines_are_skipped_and_an_overlong_line_is_an_error(guard, clock):
    result = replay(guard, [b"  \n", *lines(START, check(ALLOW))], clock=clock)
    assert result.ok and result.decisions == 1
    with pytest.raises(TraceError, match="line 2: line longer than"):
        replay(guard, [orjson.dumps(START), None], clock=clock)


def test_recorded_time_drives_the_clock(guard, clock):
    late = {**check(ALLOW), "t": 301.0}
    result = replay(guard, lines({**START, "t": 0}, late), clock=clock)
    assert clock() == 301.0
    assert [d.replayed["violations"] for d in result.differences] == [["limit.maxWallTimeSeconds"]]
    assert replay(guard, lines({**START, "t": 0}, {**late, "t": "301"}), clock=clock).ok, "a non-number t is ignored"


def test_strict_also_compares_reasons_and_violations_compare_as_sets(guard, clock):
    other = {**ALLOW, "reasons": ["elsewhere#rule"]}
    assert replay(guard, lines(START, check(other)), clock=clock).ok
    assert not replay(guard, lines(START, check(other)), clock=clock, strict=True).ok
    assert replay(guard, lines(START, check(ALLOW)), clock=clock, strict=True).ok
    denied = {"allowed": False, "violations": ["acl.pii-column"]}
    assert replay(guard, lines(START, check(denied, columns=["id", "body"])), clock=clock).ok
    assert not replay(guard, lines(START, check({**denied, "violations": []}, columns=["body"])), clock=clock).ok


def test_advance_and_approve_replay_and_describe(guard, clock):
    events = [START, {"op": "approve", "run": "r", "input": {"step": "close-tickets", "by": "a@b"},
                      "decision": {"allowed": True}},
              {"op": "advance", "run": "r", "input": {"step": "close-tickets"}, "decision": {"allowed": False}}]
    result = replay(guard, lines(*events), clock=clock)
    assert result.decisions == 2 and len(result.differences) == 1
    difference = result.differences[0]
    assert (difference.line, difference.op) == (3, "advance")
    assert difference.describe() == "advance step=close-tickets: recorded deny, now allow"
    no_columns = replay(guard, lines(START, check({"allowed": False}, columns=[])), clock=clock)
    assert no_columns.differences[0].describe() == ("check read tickets rows=1 tenant=None: recorded deny, "
                                                    "now allow")
