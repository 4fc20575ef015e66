"""A fast, conservative check of a tenant's identity fields, so the delta compile need not load pydantic.

The delta compile only sees documents equal to one the last compile validated, except for the
identity fields and the billing status (:data:`paybill.delta.state.PATCHED_FIELDS`). Whether such a
document is a valid Tenant therefore depends on those fields alone (the status is checked apart,
:func:`patchable_status`, with the one rule that reads it beside another field). Building the Tenant
model costs more than the rest of a delta compile (pydantic and ~20 model classes: ~0.25 s), so the
values are checked here first against a *stricter* rule than the model's: when :func:`surely_valid`
says True, the model accepts the document; when it says False the model decides
(:mod:`paybill.delta.patch`), so a value this check is unsure of costs time, never a wrong answer.
``tests/compile/test_compile_delta.py`` checks that the patterns below are the model's and, with
random values, that True implies the model accepts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

TEXT_MAX = 256  # paybill.models.base.TEXT_MAX
EMAIL_PATTERN = r"^[^@\s\"'`$]+@[a-z0-9.-]+\.[a-z]{2,}$"  # paybill.models.base.Email
EMAIL_MAX = 254
CUSTOMER_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"  # paybill.models.tenant.Billing.customer_id
LABEL_KEY_PATTERN = r"^[a-z](?:[a-z0-9_-]{0,61}[a-z0-9])?$"  # paybill.models.base.LABEL_KEY_PATTERN
LABEL_VALUE_PATTERN = r"^(?:[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?)?$"  # paybill.models.base.LABEL_VALUE_PATTERN
CONTACT_ROLES = frozenset({"technical", "billing", "security", "executive"})  # paybill.models.tenant.Contact.role
TRIALING = "trialing"
ALLOWED_LIFECYCLES: dict[str, frozenset[str]] = {  # paybill.validate.rules.billing_lifecycle (PB0405)
    "trialing": frozenset({"onboarding", "active"}),
    "active": frozenset({"onboarding", "active", "suspended", "offboarding"}),
    "past_due": frozenset({"active", "suspended", "offboarding"}),
    "cancelled": frozenset({"suspended", "offboarding", "deleted"}),
}
"""Copied, not imported: importing the rule would load the validate stage on the delta path."""

_EMAIL = re.compile(EMAIL_PATTERN.removeprefix("^").removesuffix("$"))
_CUSTOMER_ID = re.compile(CUSTOMER_ID_PATTERN.removeprefix("^").removesuffix("$"))
_LABEL_KEY = re.compile(LABEL_KEY_PATTERN.removeprefix("^").removesuffix("$"))
_LABEL_VALUE = re.compile(LABEL_VALUE_PATTERN.removeprefix("^").removesuffix("$"))


def surely_valid(document: Mapping[str, Any]) -> bool:
    """True when the document's identity fields and labels are certainly what the Tenant model accepts.

    Stricter than the model on purpose: text must be printable (the model also allows a tab, and
    characters Python does not call printable), an email ASCII (the model's pattern runs on Rust's
    regex engine, whose classes agree with Python's on ASCII), both matched whole (Python's ``$``
    also matches before a final newline).
    """
    spec, metadata = document.get("spec"), document.get("metadata")
    if not (isinstance(spec, dict) and isinstance(metadata, dict) and surely_valid_labels(metadata.get("labels", {}))):
        return False
    billing = spec.get("billing")
    if not (_text(spec.get("displayName")) and isinstance(billing, dict)):
        return False
    customer_id = billing.get("customerId")
    if type(customer_id) is not str or not customer_id.isascii() or _CUSTOMER_ID.fullmatch(customer_id) is None:
        return False
    contacts = spec.get("contacts", [])
    return type(contacts) is list and all(_contact(contact) for contact in contacts)


def surely_valid_labels(labels: object) -> bool:
    """True when ``labels`` is certainly a valid ``metadata.labels`` (text keys and values, each matched
    whole by the model's ASCII-only pattern)."""
    return type(labels) is dict and all(
        type(key) is str and type(value) is str and key.isascii() and value.isascii()
        and _LABEL_KEY.fullmatch(key) is not None and _LABEL_VALUE.fullmatch(value) is not None
        for key, value in labels.items())


def patchable_status(document: Mapping[str, Any]) -> str | None:
    """The document's billing status when it is one of the model's (``paybill.models.tenant.BillingStatus``)
    and rule PB0405 accepts it beside the document's lifecycle; None: the full compile decides (and
    reports whatever is wrong). Whether a *change* of status may be patched is the caller's to decide
    (not into or out of ``trialing``: :mod:`paybill.delta.patch`)."""
    spec = document.get("spec")
    billing = spec.get("billing") if isinstance(spec, dict) else None
    status = billing.get("status") if isinstance(billing, dict) else None
    if type(status) is not str or status not in ALLOWED_LIFECYCLES:
        return None
    lifecycle = spec.get("lifecycle") if isinstance(spec, dict) else None
    return status if type(lifecycle) is str and lifecycle in ALLOWED_LIFECYCLES[status] else None


def _text(value: object) -> bool:
    return type(value) is str and 1 <= len(value) <= TEXT_MAX and value.isprintable()


def _contact(value: object) -> bool:
    if type(value) is not dict or set(value) != {"name", "email", "role"}:
        return False
    email, role = value["email"], value["role"]
    return (_text(value["name"]) and type(email) is str and email.isascii() and len(email) <= EMAIL_MAX
            and _EMAIL.fullmatch(email) is not None and type(role) is str and role in CONTACT_ROLES)
