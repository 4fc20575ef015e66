"""Settling ties a refund to one decision: no caller can reset the cumulative limits.

The bug this guards against: ``settle("read", 2000, 0)`` after each of five 2,000-row reads let an
agent read 10,000 rows under ``maxRowsRead: 2000``. ops-agent: maxRowsRead 2000, budgetUnits 5000.
"""

from __future__ import annotations

import pytest

from paybill.guard import Decision
from paybill.guard.run import SettleError


@pytest.fixture
def run(load):
    return load("ops-agent").start(tenant="acme-corp", workflow="incident-response", run_id="settle-1")


def test_reads_that_used_their_rows_cannot_be_settled_back_to_zero(run):
    first = run.check("read", "tickets", columns=["id"], rows=2000)
    assert first
    run.settle(first, 2000)
    assert (run.rows_read, run.budget_spent) == (2000, 2000)
    with pytest.raises(SettleError, match="already settled"):
        run.settle(first, 0)
    assert (run.rows_read, run.budget_spent) == (2000, 2000), "a refused settle changes nothing"
    second = run.check("read", "tickets", columns=["id"], rows=1)
    assert not second and second.violations == ("limit.maxRowsRead",)
    assert second.charge == 0


def test_a_decision_settles_once_and_only_what_it_charged(run):
    decision = run.check("read", "tickets", columns=["id"], rows=10)
    run.settle(decision, 4)
    assert (run.rows_read, run.budget_spent) == (4, 4)
    with pytest.raises(SettleError):
        run.settle(decision, 0)
    assert (run.rows_read, run.budget_spent) == (4, 4)


def test_settling_exactly_what_was_charged_changes_nothing_and_closes_the_charge(run):
    decision = run.check("read", "tickets", columns=["id"], rows=10)
    run.settle(decision, 10)
    assert (run.rows_read, run.budget_spent) == (10, 10)
    with pytest.raises(SettleError):
        run.settle(decision, 10)


def test_using_more_than_was_charged_charges_the_difference(run):
    decision = run.check("read", "tickets", columns=["id"], rows=10)
    run.settle(decision, 13)
    assert (run.rows_read, run.budget_spent) == (13, 13)


def test_settling_to_zero_keeps_the_one_budget_unit_of_the_call(run):
    decision = run.check("read", "tickets", columns=["id"], rows=10)
    run.settle(decision, 0)
    assert (run.rows_read, run.budget_spent) == (0, 1)


def test_settling_to_one_row(run):
    decision = run.check("read", "tickets", columns=["id"], rows=10)
    run.settle(decision, 1)
    assert (run.rows_read, run.budget_spent) == (1, 1)


def test_a_zero_row_check_has_no_charge_but_settling_its_real_use_charges_it(run):
    decision = run.check("read", "tickets", columns=["id"], rows=0)
    assert decision and decision.charge == 0
    assert (run.rows_read, run.budget_spent) == (0, 1)
    run.settle(decision, 0)
    assert (run.rows_read, run.budget_spent) == (0, 1)
    run.settle(decision, 1)
    assert (run.rows_read, run.budget_spent) == (1, 1)
    run.settle(decision, 5)
    assert (run.rows_read, run.budget_spent) == (6, 5)


def test_write_settles_count_written_rows_not_read_rows(load):
    run = load("ops-agent").start(tenant="acme-corp", workflow="incident-response")
    assert run.approve("close-tickets", by="oncall@example.com")
    assert run.advance("close-tickets")
    decision = run.check("update", "tickets", columns=["status"], rows=8)
    assert decision, decision.violations
    assert (run.rows_read, run.rows_written, run.budget_spent) == (0, 8, 8)
    run.settle(decision, 2)
    assert (run.rows_read, run.rows_written, run.budget_spent) == (0, 2, 2)


@pytest.mark.parametrize("used", [-1, 1.0, "3", None, True])
def test_used_must_be_a_non_negative_integer(run, used):
    decision = run.check("read", "tickets", columns=["id"], rows=10)
    with pytest.raises(SettleError, match="non-negative integer"):
        run.settle(decision, used)
    assert (run.rows_read, run.budget_spent) == (10, 10)
    run.settle(decision, 0)  # still open: the refused call did not consume it
    assert run.rows_read == 0


def test_denied_and_foreign_decisions_cannot_be_settled(load, run):
    denied = run.check("read", "tickets", columns=["body"], rows=10)
    assert not denied
    allowed = run.check("read", "tickets", columns=["id"], rows=10)
    other = load("ops-agent").start(tenant="acme-corp", workflow="incident-response", run_id="settle-2")
    for bad in (denied, run.approve("close-tickets", by="oncall@example.com")):
        with pytest.raises(SettleError, match="only an allowed check of this run"):
            run.settle(bad, 0)
    with pytest.raises(SettleError, match="only an allowed check of this run"):
        other.settle(allowed, 0)
    with pytest.raises(SettleError):
        run.settle("read", 0)  # the old (action, charged, used) call shape
    assert (run.rows_read, run.budget_spent) == (10, 10)


def test_a_forged_decision_cannot_settle_a_charge_of_another_action(run):
    allowed = run.check("read", "tickets", columns=["id"], rows=10)
    forged = Decision(True, "check", "update", "tickets", "acme-corp", run.step, revision=allowed.revision,
                      run=run.id, charge=allowed.charge)
    with pytest.raises(SettleError, match="already settled"):
        run.settle(forged, 0)
    unknown = Decision(True, "check", "read", "tickets", "acme-corp", run.step, run=run.id, charge=999)
    with pytest.raises(SettleError):
        run.settle(unknown, 0)
    assert (run.rows_read, run.budget_spent) == (10, 10)


def test_batched_checks_each_get_their_own_charge(run):
    decisions = run.check_many([("read", "tickets", {"columns": ["id"], "rows": 5}),
                                ("read", "tickets", {"columns": ["id"], "rows": 7})])
    assert all(decisions) and decisions[0].charge != decisions[1].charge
    run.settle(decisions[1], 0)
    run.settle(decisions[0], 5)
    assert (run.rows_read, run.budget_spent) == (5, 6)


def test_five_full_reads_cannot_read_more_than_the_limit(run):
    """The reported exploit, replayed: only the first 2,000 rows are ever allowed."""
    allowed = 0
    for _ in range(5):
        decision = run.check("read", "tickets", columns=["id"], rows=2000)
        if decision:
            allowed += 2000
            run.settle(decision, 2000)
        with pytest.raises(SettleError):
            run.settle(decision, 0)
    assert allowed == 2000 and run.rows_read == 2000
