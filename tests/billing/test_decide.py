"""The billing state machine: every lifecycle it asks for is a move ``paybill plan`` accepts."""

from __future__ import annotations

import itertools

import pytest

from paybill.billing.decide import DAY, wanted_lifecycle
from paybill.billing.store import SubscriptionState
from paybill.changes.lifecycle import STATES, allowed
from paybill.models.billing import Dunning

DUNNING = Dunning.model_validate({"suspendAfterPastDueDays": 14, "offboardAfterCancelledDays": 30})


@pytest.mark.parametrize(("current", "status", "paused", "trial_unpaid", "age"), list(itertools.product(
    STATES, ["trialing", "active", "past_due", "cancelled"], [False, True], [False, True], [0, 14, 30])))
def test_never_a_lifecycle_jump_plan_blocks(current, status, paused, trial_unpaid, age) -> None:
    state = SubscriptionState("sub_1", "cus_1", status=status, status_since=1_000_000, paused=paused,
                              trial_unpaid=trial_unpaid)
    wanted = wanted_lifecycle(current, status, state, DUNNING, 1_000_000 + age * DAY)
    assert allowed(current, wanted), (current, wanted)


@pytest.mark.parametrize(("status", "days", "expected"), [
    ("past_due", 13, "active"), ("past_due", 14, "suspended"),
    ("cancelled", 0, "suspended"), ("cancelled", 29, "suspended"), ("cancelled", 30, "offboarding"),
])
def test_dunning_deadlines(status, days, expected) -> None:
    state = SubscriptionState("sub_1", "cus_1", status=status, status_since=1_000_000)
    assert wanted_lifecycle("active", status, state, DUNNING, 1_000_000 + days * DAY) == expected


def test_a_trial_ending_unpaid_suspends_at_once_unless_the_policy_says_otherwise() -> None:
    state = SubscriptionState("sub_1", "cus_1", status="past_due", status_since=1, trial_unpaid=True)
    assert wanted_lifecycle("active", "past_due", state, DUNNING, 2) == "suspended"
    lenient = DUNNING.model_copy(update={"suspend_on_trial_end_without_payment": False})
    assert wanted_lifecycle("active", "past_due", state, lenient, 2) == "active"
