"""The Guard object's own rules: usage errors, the position cache bound, the start record."""

from __future__ import annotations

import orjson
import pytest

from paybill.guard import GuardUsageError
from paybill.guard import guard as guard_module


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"tenant": "acme-corp", "workflow": "dunning"}, "agent 'ops-agent' does not run workflow 'dunning' "
                                                     "(runs: incident-response)"),
    ({"tenant": "Acme", "workflow": "incident-response"}, "invalid tenant name 'Acme'"),
    ({"tenant": 5, "workflow": "incident-response"}, "invalid tenant name 5"),
    ({"tenant": "acme-corp", "workflow": "incident-response", "run_id": "../etc"}, "invalid run id '../etc'"),
    ({"tenant": "acme-corp", "workflow": "incident-response", "run_id": 7}, "invalid run id 7"),
    ({"tenant": "acme-corp", "workflow": "incident-response", "run_id": "r" * 129}, "invalid run id"),
])
def test_start_refuses_misuse(load, kwargs, words):
    with pytest.raises(GuardUsageError) as raised:
        load("ops-agent").start(**kwargs)
    assert str(raised.value).startswith(words)


def test_run_ids_up_to_128_characters_and_generated_ids(load):
    guard = load("ops-agent")
    assert guard.start(tenant="acme-corp", workflow="incident-response", run_id="r" * 128).id == "r" * 128
    generated = guard.start(tenant="acme-corp", workflow="incident-response")
    assert len(generated.id) == 32 and generated.id != guard.start(tenant="acme-corp",
                                                                   workflow="incident-response").id


def test_evaluate_refuses_an_unknown_step_and_names_the_steps(load):
    with pytest.raises(GuardUsageError, match=r"has no step 'nope' \(steps: inspect, close-tickets, done\)"):
        load("ops-agent").evaluate(tenant="acme-corp", workflow="incident-response", step="nope", action="read",
                                   resource="tickets")


def test_evaluate_places_a_throwaway_run_at_the_step(load):
    guard = load("ops-agent")
    decision = guard.evaluate(tenant="acme-corp", workflow="incident-response", step="close-tickets",
                              action="update", resource="tickets", columns=("status",), rows=2)
    assert decision.allowed and decision.step == "close-tickets" and decision.run == "what-if"
    moved = guard.evaluate(tenant="acme-corp", workflow="incident-response", step="close-tickets",
                           action="advance", resource="done")
    assert moved.allowed and moved.op == "advance"


def test_the_position_cache_is_bounded_at_4096(load, monkeypatch):
    guard = load("ops-agent")
    assert guard_module.POSITIONS_MAX == 4096
    monkeypatch.setattr(guard_module, "POSITIONS_MAX", 3)
    first = guard.position("acme-corp", "incident-response", "inspect")
    assert guard.position("acme-corp", "incident-response", "inspect") is first, "cached"
    guard.position("acme-corp", "incident-response", "done")
    guard.position("globex", "incident-response", "done")
    assert len(guard._positions) == 3
    guard.position("initech", "incident-response", "done")
    assert len(guard._positions) == 1, "cleared when full, then the new position added"
    again = guard.position("acme-corp", "incident-response", "inspect")
    assert again is not first and again[0] == {"type": "Paybill::Run", "id": "incident-response/inspect@acme-corp"}


def test_start_is_logged_with_its_position(load, tmp_path):
    guard = load("ops-agent", log=tmp_path / "decisions.jsonl")
    guard.start(tenant="acme-corp", workflow="incident-response", run_id="run-9")
    guard.log.close()
    record = orjson.loads((tmp_path / "decisions.jsonl").read_bytes())
    assert {k: record[k] for k in ("op", "run", "agent", "input", "decision", "t")} == {
        "op": "start", "run": "run-9", "agent": "ops-agent",
        "input": {"tenant": "acme-corp", "workflow": "incident-response"},
        "decision": {"allowed": True, "reasons": [], "violations": []}, "t": 1000.0}


def test_limits_are_read_from_the_bundle(load):
    assert load("ops-agent").limits == {"budgetUnits": 5000, "maxCallsPerMinute": 30, "maxRowsRead": 2000,
                                        "maxRowsWritten": 500, "maxSteps": 10, "maxWallTimeSeconds": 300}
