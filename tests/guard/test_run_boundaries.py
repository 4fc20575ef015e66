"""Exact boundaries of the run's bookkeeping: a limit reached vs exceeded, inputs at their edges.

Written against single-point mutations of ``guard/run.py`` (``tools/mutate.py``): each test pins a
boundary that an off-by-one or a swapped operator would move. ops-agent: maxRowsRead 2000,
maxRowsWritten 500, maxCallsPerMinute 30; incident-response: inspect (read tickets) ->
close-tickets (update tickets, requires approval) -> done.
"""

from __future__ import annotations

import orjson
import pytest

from paybill.guard import Guard, verify_log
from paybill.guard import run as run_module
from paybill.guard.run import MAX_ROWS

COLUMNS = ["id", "status"]


@pytest.fixture
def run(load):
    return load("ops-agent").start(tenant="acme-corp", workflow="incident-response", run_id="edge-1")


def in_close_tickets(run):
    assert run.approve("close-tickets", by="oncall@example.com")
    assert run.advance("close-tickets")
    return run


def test_rows_up_to_2_pow_53_are_well_formed_and_one_more_is_not(run):
    assert MAX_ROWS == 2**53
    at = run.check("read", "tickets", columns=COLUMNS, rows=2**53)
    assert at.violations == ("limit.budgetUnits", "limit.maxRowsRead"), "well-formed: the limits deny it"
    over = run.check("read", "tickets", columns=COLUMNS, rows=2**53 + 1)
    assert over.violations == ("input.invalid",)
    assert over.errors == (f"rows must be an integer from 0 to {2**53}",)


def test_the_valid_input_cache_is_bounded_at_4096_and_never_caches_a_bad_input():
    run_module._valid_inputs.clear()
    for i in range(4200):
        assert run_module._bad_input("read", f"t{i}", (), 0, "acme-corp") is None
        assert len(run_module._valid_inputs) <= 4096
    assert len(run_module._valid_inputs) == 4200 - 4096
    for _ in range(2):
        assert run_module._bad_input("read", "tickets", (), 0, "Bad-Tenant") == "invalid tenant 'Bad-Tenant'"
    assert ("read", "tickets", (), "Bad-Tenant") not in run_module._valid_inputs


@pytest.mark.parametrize(("args", "error"), [
    (("propose", "tenant", ["spec.plan"]), "invalid spec kind 'tenant'"),
    (("propose", 5, ["spec.plan"]), "invalid spec kind 5"),
    (("propose", "Tenant", ["plan"]), "invalid column 'plan'"),
    (("read", "Tickets", []), "invalid table 'Tickets'"),
    (("read", 5, []), "invalid table 5"),
    (("read", "tickets", ["spec.plan"]), "invalid column 'spec.plan'"),
    (("advance", "done", []), "unknown action 'advance'"),
])
def test_each_grammar_rule_names_what_is_wrong(run, args, error):
    action, resource, columns = args
    decision = run.check(action, resource, columns=columns)
    assert not decision and decision.violations == ("input.invalid",) and decision.errors == (error,)


def test_approve_takes_any_resource_string_but_not_another_type(run):
    assert run.check("approve", "Any Thing At All").violations != ("input.invalid",)
    assert run.check("approve", 5).errors == ("invalid table 5",)


def test_a_check_without_rows_spends_no_rows_and_one_budget_unit(run):
    assert run.check("read", "tickets", columns=COLUMNS)
    batch = run.check_many([("read", "tickets", {"columns": COLUMNS})])
    assert all(batch)
    assert (run.rows_read, run.budget_spent) == (0, 2)


def test_charges_count_from_one_per_run_and_zero_rows_charge_nothing(run):
    first = run.check("read", "tickets", columns=COLUMNS, rows=1)
    none = run.check("read", "tickets", columns=COLUMNS, rows=0)
    second = run.check("read", "tickets", columns=COLUMNS, rows=2)
    assert (first.charge, none.charge, second.charge) == (1, 0, 2)
    run.settle(first, 0)
    assert (run.rows_read, run.budget_spent) == (2, 4), "one row given back; the call still costs a unit"


def test_the_read_limit_is_reached_at_2000_and_exceeded_at_2001(run):
    assert run.check("read", "tickets", columns=COLUMNS, rows=1999)
    assert run.check("read", "tickets", columns=COLUMNS, rows=1)
    assert run.check("read", "tickets", columns=COLUMNS, rows=0), "at the limit, a zero-row read still passes"
    assert run.check("read", "tickets", columns=COLUMNS, rows=1).violations == ("limit.maxRowsRead",)


def test_batched_writes_count_towards_later_writes_in_the_batch(load):
    run = in_close_tickets(load("ops-agent").start(tenant="acme-corp", workflow="incident-response"))
    decisions = run.check_many([("update", "tickets", {"columns": ["status"], "rows": 300}),
                                ("update", "tickets", {"columns": ["status"], "rows": 200}),
                                ("update", "tickets", {"columns": ["status"], "rows": 1})])
    assert [d.allowed for d in decisions] == [True, True, False]
    assert decisions[2].violations == ("limit.maxRowsWritten",)
    assert (run.rows_read, run.rows_written) == (0, 500)


@pytest.fixture
def budget_of_3(edited_bundles, clock):
    folder = edited_bundles({"agents/ops-agent.yaml": lambda t: t.replace("budgetUnits: 5000", "budgetUnits: 3")})
    return Guard.load(folder / "ops-agent", clock=clock)


def test_zero_row_calls_cost_one_unit_each_in_a_batch(budget_of_3):
    run = budget_of_3.start(tenant="acme-corp", workflow="incident-response")
    decisions = run.check_many([("read", "tickets", {"columns": COLUMNS})] * 4)
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert decisions[3].violations == ("limit.budgetUnits",) and run.budget_spent == 3


def test_zero_row_calls_cost_one_unit_each_one_by_one(budget_of_3):
    run = budget_of_3.start(tenant="acme-corp", workflow="incident-response")
    assert [bool(run.check("read", "tickets", columns=COLUMNS)) for _ in range(4)] == [True, True, True, False]
    assert run.budget_spent == 3


def test_one_row_costs_exactly_one_unit(budget_of_3):
    run = budget_of_3.start(tenant="acme-corp", workflow="incident-response")
    assert [bool(run.check("read", "tickets", columns=COLUMNS, rows=1)) for _ in range(4)] == [True, True, True, False]
    assert (run.rows_read, run.budget_spent) == (3, 3)


def test_a_call_exactly_one_window_ago_no_longer_counts(run, clock):
    assert run.check("read", "tickets", columns=COLUMNS)
    assert run.counters(now=clock() + 59.999)["callsLastMinute"] == 1
    assert run.counters(now=clock() + 60)["callsLastMinute"] == 0
    assert run.counters()["callsLastMinute"] == 1


@pytest.mark.parametrize("step", [None, 5, "Done", "close tickets", ""])
def test_advance_with_a_malformed_step_is_denied_as_input(run, step):
    decision = run.advance(step)
    assert not decision.allowed and decision.violations == ("input.invalid",)
    assert run.step == "inspect" and run.steps == 1


def test_the_first_visit_of_a_step_is_visit_zero(edited_bundles, clock):
    once = "next: [fetch-ticket, done]\n      maxVisits: 5"
    folder = edited_bundles({"workflows/triage-ticket.yaml": lambda t: t.replace(
        once, "next: [fetch-ticket, done]\n      maxVisits: 1")})
    run = Guard.load(folder / "support-assistant", clock=clock).start(tenant="stark-industries",
                                                                       workflow="triage-ticket")
    assert run.advance("lookup-customer"), "a step never visited may be entered under maxVisits: 1"
    assert run.advance("fetch-ticket")
    assert run.advance("lookup-customer").violations == ("workflow.max-visits",)


def test_an_approver_of_256_characters_is_accepted_and_257_is_not(run):
    ok = run.approve("close-tickets", by="a" * 256)
    assert ok.allowed and ok.violations == () and ok.errors == () and run.approvals == {"close-tickets": "a" * 256}
    refused = run.approve("close-tickets", by="a" * 257)
    assert not refused and refused.violations == ("input.invalid",)
    assert refused.errors == ("an approval needs a human approver (not empty, not the agent itself)",)


@pytest.mark.parametrize("by", ["ops-agent", " ops-agent ", "edge-1", "", "   ", None, 5])
def test_the_agent_its_run_or_no_one_cannot_approve(run, by):
    decision = run.approve("close-tickets", by=by)
    assert not decision and decision.violations == ("input.invalid",) and run.approvals == {}


@pytest.mark.parametrize("step", ["inspect", "nope", None, 5])
def test_only_a_step_that_requires_approval_can_be_approved(run, step):
    decision = run.approve(step, by="oncall@example.com")
    assert not decision and decision.errors == (
        f"step {step!r} of workflow 'incident-response' does not require approval",)


def test_what_if_decisions_are_never_logged(load, tmp_path):
    guard = load("ops-agent", log=tmp_path / "decisions.jsonl")
    guard.evaluate(tenant="acme-corp", workflow="incident-response", step="inspect", action="read",
                   resource="tickets", columns=("id",))
    guard.log.close()
    assert (tmp_path / "decisions.jsonl").read_bytes() == b""


def test_unloggable_inputs_are_recorded_as_text(load, tmp_path):
    guard = load("ops-agent", log=tmp_path / "decisions.jsonl")
    run = guard.start(tenant="acme-corp", workflow="incident-response", run_id="edge-2")
    run.check("read", object.__new__(type("Odd", (), {"__str__": lambda self: "odd"})), rows=2**70)
    run.advance(("a", "b"))
    guard.log.close()
    records = [orjson.loads(line) for line in (tmp_path / "decisions.jsonl").read_bytes().splitlines()]
    assert records[1]["input"]["resource"] == "odd" and records[1]["input"]["rows"] == str(2**70)
    assert records[2]["input"]["step"] == ["a", "b"]
    assert verify_log(tmp_path / "decisions.jsonl").ok
