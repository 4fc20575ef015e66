"""Stripe-Signature verification by the official library: good, bad, stale, unsigned."""

from __future__ import annotations

import json
import time

import pytest

from paybill.billing.verify import Rejected, verify

from .conftest import SECRET, T0, invoice, signed


def test_a_good_signature_gives_the_event() -> None:
    body, header = signed(invoice("evt_1", "invoice.paid", T0, "cus_1"))
    assert verify(body, header, SECRET).id == "evt_1"


def test_a_signature_with_another_secret_is_refused() -> None:
    body, header = signed(invoice("evt_1", "invoice.paid", T0, "cus_1"), secret="whsec_other")
    with pytest.raises(Rejected, match="mis-signed"):
        verify(body, header, SECRET)


def test_a_tampered_body_is_refused() -> None:
    body, header = signed(invoice("evt_1", "invoice.paid", T0, "cus_1"))
    with pytest.raises(Rejected, match="mis-signed"):
        verify(body.replace(b"invoice.paid", b"invoice.payment_failed"), header, SECRET)


def test_a_stale_signature_is_refused() -> None:
    body, header = signed(invoice("evt_1", "invoice.paid", T0, "cus_1"), timestamp=int(time.time()) - 301)
    with pytest.raises(Rejected, match="stale"):
        verify(body, header, SECRET, tolerance=300)


@pytest.mark.parametrize("header", [None, "", "garbage", "t=1"])
def test_unsigned_or_malformed_headers_are_refused(header) -> None:
    body = json.dumps(invoice("evt_1", "invoice.paid", T0, "cus_1")).encode()
    with pytest.raises(Rejected):
        verify(body, header, SECRET)


def test_signed_garbage_is_refused() -> None:
    body, header = signed({"id": "evt_1"})
    with pytest.raises(Rejected, match="signed but unusable"):
        verify(body, header, SECRET)
