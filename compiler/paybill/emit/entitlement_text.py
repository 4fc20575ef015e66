"""The bytes of a ``tenants/<tenant>.json`` entitlement file, and the fields a tenant's identity edit changes.

Kept apart from :mod:`paybill.emit.entitlements` (which needs the resolved model) so that the delta
compile (:mod:`paybill.delta`) can patch one tenant's file without importing the resolve stage: both
render through :func:`entitlement_bytes` and set the identity fields through :func:`identity_fields`,
so a patched file is byte for byte the file a full compile renders.
"""

from __future__ import annotations

from typing import Any

import orjson

OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2


def entitlement_bytes(document: dict[str, Any]) -> bytes:
    """The file's bytes: sorted keys, two-space indent, UTF-8, final newline."""
    return orjson.dumps(document, option=OPTIONS) + b"\n"


def identity_fields(display_name: str, customer_id: str) -> dict[str, Any]:
    """The entitlement fields that come from the tenant's display name and Stripe customer id, and
    nothing else of the specs (``billing`` is completed by the caller: status and trial days)."""
    return {"displayName": display_name, "billing": {"customerId": customer_id}}
