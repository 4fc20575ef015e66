"""Replay details: a check recorded without rows replays and reads as zero rows."""

from __future__ import annotations

import dataclasses

import orjson
import pytest

from paybill.guard import Guard, ManualClock
from paybill.guard.replay import Difference, replay


def test_a_check_without_rows_replays_as_zero_rows(bundles):
    clock = ManualClock(0.0)
    guard = Guard.load(bundles / "ops-agent", clock=clock)
    start = {"op": "start", "run": "r", "input": {"tenant": "acme-corp", "workflow": "incident-response"}}
    check = {"op": "check", "run": "r", "input": {"action": "read", "resource": "tickets", "columns": ["id"]},
             "decision": {"allowed": False}}
    result = replay(guard, [orjson.dumps(start), orjson.dumps(check)], clock=clock)
    assert result.differences[0].describe() == "check read tickets [id] rows=0 tenant=None: recorded deny, now allow"
    assert result.differences[0].replayed["allowed"] is True


def test_zero_row_replays_spend_no_rows(bundles):
    clock = ManualClock(0.0)
    guard = Guard.load(bundles / "ops-agent", clock=clock)
    start = {"op": "start", "run": "r", "input": {"tenant": "acme-corp", "workflow": "incident-response"}}
    reads = [{"op": "check", "run": "r", "input": {"action": "read", "resource": "tickets", "columns": ["id"],
                                                   "rows": 2000 if i == 0 else None},
              "decision": {"allowed": True, "reasons": []}} for i in range(2)]
    reads[1]["input"].pop("rows")
    result = replay(guard, [orjson.dumps(e) for e in (start, *reads)], clock=clock)
    assert result.ok, [d.describe() for d in result.differences]


def test_differences_are_immutable():
    difference = Difference(1, "check", {}, {}, {})
    with pytest.raises(dataclasses.FrozenInstanceError):
        difference.line = 2  # type: ignore[misc]
