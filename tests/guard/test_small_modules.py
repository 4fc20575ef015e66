"""Small guard modules: the manual clock and the shared request shapes."""

from __future__ import annotations

import pytest

from paybill.contract.requests import counters, operation_context, resource_id, transition_context
from paybill.guard import ManualClock


def test_the_manual_clock_moves_only_forward_when_told():
    clock = ManualClock()
    assert clock() == 0.0
    clock.advance(0)
    clock.advance(1.5)
    assert clock() == 1.5
    with pytest.raises(ValueError, match="does not go backwards"):
        clock.advance(-0.001)
    clock.set(10)
    assert clock() == 10.0 and isinstance(clock(), float)


def test_request_shapes():
    assert counters({"steps": 2}) == {"steps": 2, "rowsRead": 0, "rowsWritten": 0, "callsLastMinute": 0,
                                      "elapsedMillis": 0, "budgetSpent": 0}
    context = operation_context("read", "acme-corp", ["b", "a", "b"], 3, {"rowsRead": 7})
    assert context["columns"] == ["a", "b"] and context["rows"] == 3 and context["rowsRead"] == 7
    assert transition_context(2, True) == {"visits": 2, "approved": True,
                                           **{k: 0 for k in transition_context() if k not in ("visits", "approved")}}
    assert resource_id("advance", "done", "w") == "w/done"
    assert resource_id("approve", "anything", "w") == "w"
    assert resource_id("read", "tickets", "w") == "tickets"
