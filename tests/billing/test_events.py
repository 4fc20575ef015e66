"""Stripe payloads -> typed events: each handled type, the stripe library's own objects, bad input."""

from __future__ import annotations

import pytest
import stripe

from paybill.billing.events import EventError, parse_event, parse_json

from .conftest import T0, customer, event, invoice, subscription


def test_subscription_update_maps_status_and_price() -> None:
    e = parse_event(subscription("evt_1", "customer.subscription.updated", T0, "cus_1", status="unpaid",
                                 price="price_growth_monthly"))
    assert (e.subscription, e.customer, e.status, e.stripe_status, e.price_ids) == \
        ("sub_cus_1", "cus_1", "past_due", "unpaid", ("price_growth_monthly",))


@pytest.mark.parametrize(("kind", "status", "paused"), [
    ("customer.subscription.deleted", "cancelled", None),
    ("customer.subscription.paused", "active", True),
    ("customer.subscription.resumed", "active", False),
    ("customer.subscription.trial_will_end", None, None),
])
def test_subscription_event_types(kind, status, paused) -> None:
    e = parse_event(subscription("evt_1", kind, T0, "cus_1", status="active"))
    assert (e.status, e.paused) == (status, paused)


@pytest.mark.parametrize(("kind", "status"), [("invoice.paid", "active"), ("invoice.payment_succeeded", "active"),
                                              ("invoice.payment_failed", "past_due")])
def test_invoice_events_name_their_subscription(kind, status) -> None:
    e = parse_event(invoice("evt_1", kind, T0, "cus_1", sub="sub_9"))
    assert (e.status, e.subscription) == (status, "sub_9")
    legacy = event("evt_2", kind, T0, {"id": "in_2", "customer": "cus_1", "subscription": "sub_8"})
    assert parse_event(legacy).subscription == "sub_8"   # older API versions


def test_customer_details_and_stripe_objects() -> None:
    payload = customer("evt_1", T0, "cus_1", name="Initrode", country=None, metadata={"paybill_country": "DE"})
    e = parse_event(stripe.Event.construct_from(payload, "sk_test_none").to_dict())  # the library's own object
    assert e.customer_info is not None and (e.customer_info.name, e.customer_info.country) == ("Initrode", "DE")


def test_unhandled_types_are_events_that_do_nothing() -> None:
    e = parse_event(event("evt_1", "charge.refunded", T0, {"id": "ch_1"}))
    assert not e.handled


@pytest.mark.parametrize(("payload", "message"), [
    ([], "JSON object"),
    ({"id": "nope"}, "valid 'id'"),
    ({"id": "evt_1", "type": "invoice.paid"}, "'created'"),
    ({"id": "evt_1", "type": "invoice.paid", "created": True}, "'created'"),
    ({"id": "evt_1", "object": "v2.core.event", "type": "x", "created": 1}, "thin events"),
    (event("evt_1", "invoice.paid", T0, {"id": "in_1"}), "no valid customer"),
    (event("evt_1", "customer.subscription.updated", T0, {"id": "sub_1", "customer": "cus_1", "status": "weird"}),
     "unknown subscription status"),
    (event("evt_1", "customer.subscription.updated", T0, {"id": "sub_1", "customer": "cus_1\n"}),
     "no valid id or customer"),
])
def test_bad_payloads_are_errors_not_crashes(payload, message) -> None:
    with pytest.raises(EventError, match=message):
        parse_event(payload)


def test_oversized_and_non_json_text() -> None:
    with pytest.raises(EventError, match="over the limit"):
        parse_json(b" " * (1 << 20 + 1))
    with pytest.raises(EventError, match="not JSON"):
        parse_json(b"\xff")
