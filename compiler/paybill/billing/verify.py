"""``Stripe-Signature`` verification with the official ``stripe`` library, and nothing hand-rolled.

``stripe.Webhook.construct_event`` checks the HMAC-SHA256 signature over ``"<t>.<body>"`` with the
endpoint's signing secret (``whsec_...``) in constant time and refuses a timestamp older than the
tolerance (replay protection); we only translate its refusals into a reason for a 400.
"""

from __future__ import annotations

import stripe

from paybill.billing.events import BillingEvent, EventError, parse_event

DEFAULT_TOLERANCE = 300


class Rejected(ValueError):
    """The request is not a verified Stripe event; the message is safe to send back in the 400."""


def verify(payload: bytes, header: str | None, secret: str, tolerance: int = DEFAULT_TOLERANCE) -> BillingEvent:
    if not header:
        raise Rejected("unsigned: no Stripe-Signature header")
    try:
        event = stripe.Webhook.construct_event(payload, header, secret, tolerance=tolerance)
    except stripe.SignatureVerificationError as error:
        text = str(error)
        if "tolerance" in text:
            raise Rejected(f"stale: the signature's timestamp is older than {tolerance} s (replayed?)") from None
        raise Rejected(f"mis-signed: {text}") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise Rejected(f"signed but not a Stripe event: {error}") from None
    try:
        return parse_event(event.to_dict())
    except EventError as error:
        raise Rejected(f"signed but unusable: {error}") from None
