"""Ordered events and the clock -> the fields a tenant should have. Pure functions, no I/O.

The fold applies one subscription's events in creation order to its :class:`SubscriptionState`;
:func:`target` then reads that state, the tenant as the base commit has it, the BillingPolicy's
dunning deadlines and *now* (injected, so tests move the clock) and returns the tenant's wanted
``spec.billing.status``, ``spec.plan`` and ``spec.lifecycle``. Every lifecycle it returns is one
``paybill plan`` accepts from the tenant's current state, and one its billing status permits (PB0405).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from paybill.billing.events import BillingEvent
from paybill.billing.policy import BillingFacts, TenantView
from paybill.billing.store import SubscriptionState
from paybill.models.billing import Dunning

DAY = 86_400
STATUS = "spec.billing.status"
PLAN = "spec.plan"
LIFECYCLE = "spec.lifecycle"
FIELDS = (STATUS, PLAN, LIFECYCLE)


@dataclass
class Fold:
    state: SubscriptionState
    applied: list[BillingEvent] = field(default_factory=list)
    unknown_prices: list[tuple[BillingEvent, tuple[str, ...]]] = field(default_factory=list)
    ambiguous_prices: list[tuple[BillingEvent, list[str]]] = field(default_factory=list)


def plan_of(event: BillingEvent, facts: BillingFacts) -> tuple[str | None, list[str]]:
    """The plan of a subscription event's prices: (plan, []) or (None, the plans when ambiguous)."""
    plans = sorted({facts.plan_by_price[p] for p in event.price_ids if p in facts.plan_by_price})
    if len(plans) == 1:
        return plans[0], []
    return None, plans


def fold(state: SubscriptionState, events: list[BillingEvent], facts: BillingFacts) -> Fold:
    """Apply ``events`` (already fresh: none older than ``state.last_created``) in (created, id) order."""
    result = Fold(copy.deepcopy(state))
    s = result.state
    for event in sorted(events, key=lambda e: e.order_key):
        if event.price_ids:
            plan, ambiguous = plan_of(event, facts)
            if plan is None and ambiguous:
                result.ambiguous_prices.append((event, ambiguous))
                continue
            if plan is None:
                result.unknown_prices.append((event, event.price_ids))
                continue
            price = next(p for p in event.price_ids if p in facts.plan_by_price)
            if price != s.price:
                s.price, s.price_events = price, [event.id]
        if event.status is not None and event.status != s.status:
            if s.status == "trialing" and event.status in ("past_due", "cancelled"):
                s.trial_unpaid = True
            if event.status in ("active", "trialing"):
                s.trial_unpaid = False
            s.status, s.status_since, s.status_events = event.status, event.created, [event.id]
        if event.paused is not None:
            s.paused = event.paused
        s.last_created = max(s.last_created, event.created)
        result.applied.append(event)
    return result


def _overdue(since: int, days: int, now: int) -> bool:
    return since > 0 and now - since >= days * DAY


def wanted_lifecycle(current: str, status: str, state: SubscriptionState, dunning: Dunning, now: int) -> str:
    """The lifecycle the billing state asks for, never moving a tenant backwards through dunning."""
    if current == "deleted":
        return current
    if state.paused:
        return current if current in ("suspended", "offboarding") else "suspended"
    if status == "cancelled":
        if current == "offboarding" or _overdue(state.status_since, dunning.offboard_after_cancelled_days, now):
            return "offboarding"
        return "suspended"
    if status == "past_due":
        if current in ("suspended", "offboarding"):
            return current
        if state.trial_unpaid and dunning.suspend_on_trial_end_without_payment:
            return "suspended"
        if _overdue(state.status_since, dunning.suspend_after_past_due_days, now):
            return "suspended"
        return "active" if current == "onboarding" else current  # past_due permits active, not onboarding
    # active or trialing: a paid (or trialing) subscription lifts a billing suspension
    if current == "suspended" and (dunning.reactivate_on_payment or status == "trialing"):
        return "active"
    return current


def target(state: SubscriptionState, tenant: TenantView, facts: BillingFacts, now: int) -> dict[str, str]:
    """The tenant's wanted fields (all three; callers keep only those that differ from the tenant)."""
    assert facts.policy is not None
    status = state.status or tenant.status
    plan = facts.plan_by_price.get(state.price or "", tenant.plan)
    lifecycle = wanted_lifecycle(tenant.lifecycle, status, state, facts.policy.dunning, now)
    return {STATUS: status, PLAN: plan, LIFECYCLE: lifecycle}


def classes(before: TenantView, changes: dict[str, str], facts: BillingFacts) -> list[str]:
    """The BillingPolicy change classes of a tenant change (review: auto only when all are auto)."""
    found: list[str] = []
    if STATUS in changes:
        found.append("billing-status")
    if PLAN in changes:
        found.append("upgrade" if facts.tier(changes[PLAN]) > facts.tier(before.plan) else "downgrade")
    lifecycle = changes.get(LIFECYCLE)
    if lifecycle == "suspended":
        found.append("suspend")
    elif lifecycle == "active":
        found.append("reactivate")
    elif lifecycle == "offboarding":
        found.append("offboard")
    return found


def review(change_classes: list[str], facts: BillingFacts) -> str:
    assert facts.policy is not None
    auto = set(facts.policy.review.auto_merge)
    return "auto" if change_classes and all(c in auto for c in change_classes) else "human"
