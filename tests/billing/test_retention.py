"""Processed events are forgotten 35 days after their creation: the store stays bounded, and a
replay of a forgotten event changes nothing (it is older than what was applied for its subscription).

Both stores: the JSON file store and PostgreSQL (fails under CI=true when PostgreSQL is absent)."""

from __future__ import annotations

from paybill.billing.engine import run_pass
from paybill.billing.events import parse_event
from paybill.billing.store import RETENTION_SECONDS

from .conftest import CUSTOMERS, DAY, T0, Billing, subscription
from .test_postgres_store import pg_store  # noqa: F401 - the fixture, reused

VANDELAY = CUSTOMERS["vandelay"]


def upgrade(evt: str, created: int) -> dict:
    return subscription(evt, "customer.subscription.updated", created, VANDELAY, price="price_starter_monthly")


def test_processed_events_are_forgotten_after_retention_and_a_replay_is_stale(billing: Billing) -> None:
    first = billing.sync([upgrade("evt_first", T0)], T0 + 60)
    assert len(first.proposals) == 1  # vandelay free -> starter
    billing.sync([upgrade("evt_later", T0 + 30 * DAY)], T0 + 30 * DAY + 60)
    assert sorted(billing.store.records()) == ["evt_first", "evt_later"]

    billing.sync([], T0 + RETENTION_SECONDS + DAY)
    assert sorted(billing.store.records()) == ["evt_later"], "evt_first is older than the retention"

    branches = billing.branches()
    replay = billing.sync([upgrade("evt_first", T0)], T0 + RETENTION_SECONDS + 2 * DAY)
    assert replay.proposals == [] and billing.branches() == branches
    assert replay.outcomes["evt_first"].startswith("stale"), replay.outcomes
    assert "evt_first" not in billing.store.records(), "processed and forgotten again in the same pass"


def test_a_dry_run_forgets_nothing(billing: Billing) -> None:
    billing.sync([upgrade("evt_first", T0)], T0 + 60)
    run_pass(billing.store, billing.ctx, T0 + RETENTION_SECONDS + DAY, dry_run=True)
    assert "evt_first" in billing.store.records()


def test_postgres_store_forgets_processed_events_after_retention(pg_store, billing: Billing) -> None:  # noqa: F811
    pg_store.enqueue([parse_event(upgrade("evt_first", T0))])
    run_pass(pg_store, billing.ctx, T0 + 60)
    pg_store.enqueue([parse_event(upgrade("evt_later", T0 + 30 * DAY))])
    run_pass(pg_store, billing.ctx, T0 + 30 * DAY + 60)
    assert sorted(pg_store.records()) == ["evt_first", "evt_later"]
    run_pass(pg_store, billing.ctx, T0 + RETENTION_SECONDS + DAY)
    assert sorted(pg_store.records()) == ["evt_later"]
