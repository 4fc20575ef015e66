"""The PostgreSQL store, for several receivers: one row per event id, one pass at a time.

Needs the real PostgreSQL at 127.0.0.1:5432 (fails under CI=true when absent)."""

from __future__ import annotations

import os
import threading
import uuid

import pytest

from paybill.billing.engine import run_pass
from paybill.billing.events import parse_event
from paybill.billing.store import PostgresStore

from .conftest import CUSTOMERS, T0, Billing, invoice

URL = os.environ.get("PAYBILL_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_store():
    try:
        store = PostgresStore(URL, f"billing_{uuid.uuid4().hex[:12]}")
    except Exception as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required under CI=true: {error}")
        pytest.skip(f"PostgreSQL unavailable: {error}")
    yield store
    store.drop()


def test_two_receivers_store_each_event_once_and_propose_once(pg_store, brepo, tmp_path) -> None:
    billing = Billing(brepo, tmp_path / "unused.json")
    other = PostgresStore(URL, pg_store.schema)        # a second receiver on the same database
    failed = [parse_event(invoice(f"evt_{n}", "invoice.payment_failed", T0 + n, CUSTOMERS["vandelay"]))
              for n in range(3)]
    assert pg_store.enqueue(failed) == 3
    assert other.enqueue(failed) == 0                  # redelivered to the other receiver
    reports = []

    def one_pass(store) -> None:
        reports.append(run_pass(store, billing.ctx, T0 + 60))

    threads = [threading.Thread(target=one_pass, args=(s,)) for s in (pg_store, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(len(r.proposals) for r in reports) == 1
    assert len(billing.branches()) == 1
    records = pg_store.records()
    assert sorted(records) == ["evt_0", "evt_1", "evt_2"] and {r.state for r in records.values()} == {"done"}
