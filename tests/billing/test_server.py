"""``paybill billing serve`` on loopback: 400 for unsigned, mis-signed and stale deliveries, and under
concurrent, duplicated delivery no event is lost and no change is proposed twice."""

from __future__ import annotations

import http.client
import json
import random
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from paybill.billing.server import Receiver

from .conftest import CUSTOMERS, SECRET, T0, invoice, signed, subscription


@pytest.fixture
def receiver(billing):
    server = Receiver(billing.store, billing.ctx, SECRET, host="127.0.0.1", port=0, tick=3600,
                      clock=lambda: T0 + 60)
    server.start()
    yield server
    server.stop()


def post(receiver, body: bytes, header: str | None) -> tuple[int, dict]:
    host, port = receiver.address
    conn = http.client.HTTPConnection(host, port, timeout=30)
    headers = {"Content-Type": "application/json"}
    if header is not None:
        headers["Stripe-Signature"] = header
    conn.request("POST", "/stripe", body=body, headers=headers)
    response = conn.getresponse()
    data = json.loads(response.read())
    conn.close()
    return response.status, data


def test_listens_on_loopback(receiver) -> None:
    assert receiver.address[0] == "127.0.0.1"


def test_refuses_unsigned_mis_signed_and_stale_deliveries(receiver, billing) -> None:
    payload = invoice("evt_1", "invoice.payment_failed", T0, CUSTOMERS["vandelay"])
    body, _ = signed(payload)
    assert post(receiver, body, None) == (400, {"error": "unsigned: no Stripe-Signature header"})
    status, data = post(receiver, *signed(payload, secret="whsec_wrong"))
    assert status == 400 and data["error"].startswith("mis-signed")
    status, data = post(receiver, *signed(payload, timestamp=int(time.time()) - 3600))
    assert status == 400 and data["error"].startswith("stale")
    assert receiver.wait_idle()
    assert billing.store.records() == {} and billing.branches() == []


def test_concurrent_duplicated_delivery_loses_nothing_and_proposes_once(receiver, billing) -> None:
    events = [invoice(f"evt_f{n}", "invoice.payment_failed", T0 + n, CUSTOMERS["vandelay"]) for n in range(6)]
    events += [subscription(f"evt_u{n}", "customer.subscription.updated", T0 + n, CUSTOMERS["hooli"],
                            status="trialing", price="price_growth_monthly") for n in range(6)]
    events += [invoice(f"evt_x{n}", "charge.refunded", T0 + n, "cus_x") for n in range(4)]
    deliveries = [signed(e) for e in events] * 3      # at least once: every event three times
    random.Random(7).shuffle(deliveries)                # and in any order
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda d: post(receiver, *d), deliveries))
    assert {status for status, _ in answers} == {200}
    assert receiver.wait_idle(timeout=120), receiver.errors
    assert receiver.errors == []
    records = billing.store.records()
    assert sorted(records) == sorted(e["id"] for e in events)
    assert {r.state for r in records.values()} == {"done"}, {r.id: r.outcome for r in records.values()}
    branches = billing.branches()
    assert len(branches) == 2, branches
    assert branches == ["paybill/billing-agent/billing-hooli-upgrade",
                        "paybill/billing-agent/billing-vandelay-billing-status"]


def test_a_delivery_the_store_refuses_is_a_503_the_operator_sees(receiver, billing, monkeypatch, capsys) -> None:
    # The 503 made Stripe retry, but the receiver's log said nothing: the operator saw failed deliveries
    # in Stripe's dashboard with no reason on the receiver's side.
    def down(events) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(billing.store, "enqueue", down)
    status, data = post(receiver, *signed(invoice("evt_1", "invoice.paid", T0, CUSTOMERS["vandelay"])))
    assert (status, data) == (503, {"error": "could not store the event; retry"})
    err = capsys.readouterr().err
    assert "event evt_1 answered 503" in err and "No space left on device" in err and "Stripe retries" in err


def test_a_client_that_never_sends_its_body_does_not_hold_a_thread(billing) -> None:
    # Headers with a Content-Length and then silence held the handler thread forever (no socket
    # timeout): a few hundred such connections exhausted the receiver. Now the socket times out.
    import socket

    server = Receiver(billing.store, billing.ctx, SECRET, host="127.0.0.1", port=0, tick=3600,
                      clock=lambda: T0 + 60, read_timeout=0.5)
    server.start()
    try:
        with socket.create_connection(server.address, timeout=10) as sock:
            sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n{")
            started = time.monotonic()
            answer = b""
            while chunk := sock.recv(4096):   # the server closes the connection after its answer
                answer += chunk
            assert time.monotonic() - started < 5
        assert answer.startswith(b"HTTP/1.0 408") and b"body not received within 0.5 s" in answer
        status, _ = post(server, *signed(invoice("evt_1", "invoice.paid", T0, CUSTOMERS["vandelay"])))
        assert status == 200   # still serving
    finally:
        server.stop()
