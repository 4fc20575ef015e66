"""Stripe event payloads as typed events: only the facts the billing pass needs, checked once here.

A payload is a Stripe *snapshot* event (``{"id": "evt_...", "object": "event", "type": ..., "created":
..., "data": {"object": {...}}}``), as the webhook delivers it and as ``stripe events list`` /
the dashboard export write it (one per line). Anything malformed is a :class:`EventError` naming the
event, never a crash: bad input is expected input.

Handled types (everything else is acknowledged and recorded as ignored):

=========================================  ============================================================
``customer.created``, ``customer.updated``  remember name, email, country, metadata (onboarding reads them)
``customer.subscription.created``           a known customer: status and plan; an unknown one: onboarding
``customer.subscription.updated``           status and plan (the price of the first item)
``customer.subscription.deleted``           billing status ``cancelled`` (dunning offboards later)
``customer.subscription.paused``            lifecycle ``suspended``
``customer.subscription.resumed``           lifecycle back to ``active``
``customer.subscription.trial_will_end``    recorded; no change (the trial's end decides, not the notice)
``invoice.paid``, ``invoice.payment_succeeded``  billing status ``active`` (and reactivation)
``invoice.payment_failed``                  billing status ``past_due`` (dunning suspends later)
=========================================  ============================================================
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

SUBSCRIPTION_TYPES = frozenset({
    "customer.subscription.created", "customer.subscription.updated", "customer.subscription.deleted",
    "customer.subscription.paused", "customer.subscription.resumed", "customer.subscription.trial_will_end",
})
INVOICE_TYPES = frozenset({"invoice.paid", "invoice.payment_succeeded", "invoice.payment_failed"})
CUSTOMER_TYPES = frozenset({"customer.created", "customer.updated"})
HANDLED_TYPES = SUBSCRIPTION_TYPES | INVOICE_TYPES | CUSTOMER_TYPES

STRIPE_STATUS: dict[str, str | None] = {
    "trialing": "trialing",
    "active": "active",
    "past_due": "past_due",
    "unpaid": "past_due",
    "canceled": "cancelled",
    "incomplete_expired": "cancelled",
    "incomplete": None,   # the first payment is still being attempted: nothing to provision yet
    "paused": None,       # status kept; the pause itself suspends (see ``paused``)
}
"""Stripe's subscription status -> the spec's ``billing.status`` (None: no change)."""

_ID = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
MAX_EVENT_BYTES = 1 << 20


class EventError(ValueError):
    """A payload that is not a usable Stripe event; ``event_id`` when it got that far."""

    def __init__(self, message: str, event_id: str | None = None) -> None:
        super().__init__(message)
        self.event_id = event_id


@dataclass(frozen=True, slots=True)
class CustomerInfo:
    """What onboarding may use from a Stripe customer; absent facts stay None (never guessed)."""

    id: str
    name: str | None = None
    email: str | None = None
    country: str | None = None
    metadata: tuple[tuple[str, str], ...] = ()

    def meta(self, key: str) -> str | None:
        return dict(self.metadata).get(key)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "email": self.email, "country": self.country,
                "metadata": dict(self.metadata)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CustomerInfo:
        return cls(data["id"], data.get("name"), data.get("email"), data.get("country"),
                   tuple(sorted((data.get("metadata") or {}).items())))


@dataclass(frozen=True, slots=True)
class BillingEvent:
    """One Stripe event, reduced to what decides a tenant change."""

    id: str
    type: str
    created: int
    """The event's own creation time (Unix seconds): the order within a subscription."""
    customer: str | None = None
    subscription: str | None = None
    status: str | None = None
    """The spec's billing status this event states (already mapped from Stripe's), or None."""
    stripe_status: str | None = None
    price_ids: tuple[str, ...] = ()
    paused: bool | None = None
    """True for a pause, False for a resume, None when the event says nothing about it."""
    customer_info: CustomerInfo | None = None
    payload: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def handled(self) -> bool:
        return self.type in HANDLED_TYPES

    @property
    def order_key(self) -> tuple[int, str]:
        """Creation time, then id: Stripe's ``created`` has one-second resolution."""
        return (self.created, self.id)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _id_of(value: Any) -> str | None:
    """A Stripe reference is an id string or, when expanded, an object with ``id``."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and _ID.fullmatch(value) else None


def _customer_info(obj: dict[str, Any]) -> CustomerInfo | None:
    cid = _id_of(obj)
    if cid is None:
        return None
    address = obj.get("address")
    address = address if isinstance(address, dict) else {}
    metadata = obj.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    country = _text(address.get("country")) or _text(metadata.get("paybill_country"))
    # ISO 3166 codes are upper case (Stripe's address.country is); metadata is typed by a person ("de")
    if country is not None:
        country = country.strip().upper() or None
    return CustomerInfo(cid, _text(obj.get("name")), _text(obj.get("email")), country,
                        tuple(sorted((str(k), str(v)) for k, v in metadata.items() if isinstance(v, str))))


def _prices(subscription: dict[str, Any]) -> tuple[str, ...]:
    items = subscription.get("items")
    data = items.get("data") if isinstance(items, dict) else None
    found: list[str] = []
    for item in data if isinstance(data, list) else []:
        if not isinstance(item, dict):
            continue
        price = item.get("price") if isinstance(item.get("price"), dict) else item.get("plan")
        pid = _id_of(price)
        if pid is not None and pid not in found:
            found.append(pid)
    return tuple(found)


def _invoice_subscription(invoice: dict[str, Any]) -> str | None:
    """Older API versions put ``subscription`` on the invoice; newer ones under ``parent``."""
    direct = _id_of(invoice.get("subscription"))
    if direct is not None:
        return direct
    parent = invoice.get("parent")
    details = parent.get("subscription_details") if isinstance(parent, dict) else None
    return _id_of(details.get("subscription")) if isinstance(details, dict) else None


def parse_event(payload: object) -> BillingEvent:
    """A Stripe event dictionary (or ``stripe.Event``, which is one) -> :class:`BillingEvent`."""
    if not isinstance(payload, dict):
        raise EventError("an event must be a JSON object")
    event_id = payload.get("id")
    if not isinstance(event_id, str) or not event_id.startswith("evt_") or not _ID.fullmatch(event_id):
        raise EventError("the event has no valid 'id' (evt_...)")
    if payload.get("object") not in (None, "event"):
        raise EventError(f"object is '{payload.get('object')}', not an event (thin events are not supported)",
                         event_id)
    kind = payload.get("type")
    created = payload.get("created")
    if not isinstance(kind, str) or not kind:
        raise EventError("the event has no 'type'", event_id)
    if not isinstance(created, int) or isinstance(created, bool) or created <= 0:
        raise EventError("the event has no valid 'created' time", event_id)
    if kind not in HANDLED_TYPES:
        return BillingEvent(event_id, kind, created, payload=dict(payload))
    data = payload.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(obj, dict):
        raise EventError(f"{kind} without data.object", event_id)
    if kind in CUSTOMER_TYPES:
        info = _customer_info(obj)
        if info is None:
            raise EventError(f"{kind}: the customer has no valid id", event_id)
        return BillingEvent(event_id, kind, created, customer=info.id, customer_info=info, payload=dict(payload))
    if kind in SUBSCRIPTION_TYPES:
        sub = _id_of(obj)
        customer = _id_of(obj.get("customer"))
        if sub is None or customer is None:
            raise EventError(f"{kind}: the subscription has no valid id or customer", event_id)
        stripe_status = _text(obj.get("status"))
        if stripe_status is not None and stripe_status not in STRIPE_STATUS:
            raise EventError(f"{kind}: unknown subscription status '{stripe_status}'", event_id)
        status = STRIPE_STATUS.get(stripe_status) if stripe_status else None
        paused = {"customer.subscription.paused": True, "customer.subscription.resumed": False}.get(kind)
        if kind == "customer.subscription.deleted":
            status = "cancelled"
        if kind == "customer.subscription.trial_will_end":
            status = None  # a notice: the trial's actual end arrives as an update
        info = _customer_info(obj["customer"]) if isinstance(obj.get("customer"), dict) else None
        return BillingEvent(event_id, kind, created, customer, sub, status, stripe_status, _prices(obj), paused,
                            info, payload=dict(payload))
    customer = _id_of(obj.get("customer"))
    if customer is None:
        raise EventError(f"{kind}: the invoice has no valid customer", event_id)
    status = "past_due" if kind == "invoice.payment_failed" else "active"
    return BillingEvent(event_id, kind, created, customer, _invoice_subscription(obj), status,
                        payload=dict(payload))


def parse_json(text: bytes | str) -> BillingEvent:
    if len(text) > MAX_EVENT_BYTES:
        raise EventError(f"event is {len(text)} bytes, over the limit of {MAX_EVENT_BYTES}")
    try:
        payload = json.loads(text)
    except (ValueError, UnicodeDecodeError) as error:
        raise EventError(f"not JSON: {error}") from None
    return parse_event(payload)
