"""Exactly-once bookkeeping: which events were seen, which are kept for a re-run, what was proposed.

Stripe delivers at least once and in any order. Every event id is stored once (a second delivery is
a no-op), processed once, and stays *pending* (kept for the next pass) while a diagnostic blocks it.
A processed event is forgotten :data:`RETENTION_SECONDS` after its creation, so the store stays
bounded on a busy account (pending events are never forgotten).
Per subscription we keep the newest event applied, the billing status and since when (the dunning
clock counts from it), and the tenant fields last proposed, so the same change is never proposed twice.

Two stores, one interface:

* :class:`FileStore` - a JSON state file plus an append-only inbox beside it, for **one** receiver (or
  scheduled ``sync``). ``flock`` serialises passes between threads and processes on one machine.
* :class:`PostgresStore` - tables in a schema of your choice, for **several** receivers behind a load
  balancer: the inbox insert is ``ON CONFLICT DO NOTHING`` on the event id, and a pass holds a session
  advisory lock, so two receivers never process at once and never both propose.

Receivers only ever *enqueue* (a short append or insert, so a webhook answers fast); a pass
(:meth:`Store.session`) takes the lock, merges the inbox and processes.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from paybill.billing.events import BillingEvent, CustomerInfo, EventError, parse_event

PENDING = "pending"
DONE = "done"

RETENTION_SECONDS = 35 * 86_400
"""How long a processed event's record is kept after the event was created. Stripe retries a
delivery for up to three days and keeps events (and their manual resend) for 30 days, so it cannot
deliver an event older than that again; and if something else replays one, it is older than what was
applied for its subscription (stale, ignored) or proposes what ``proposed`` already holds."""


@dataclass
class SubscriptionState:
    """What the billing pass knows about one subscription, across passes."""

    id: str
    customer: str
    last_created: int = 0
    """Creation time of the newest event applied: older events are stale and ignored."""
    status: str | None = None
    status_since: int = 0
    status_events: list[str] = field(default_factory=list)
    """The events that set the current status (named in a dunning proposal's trailer)."""
    price: str | None = None
    price_events: list[str] = field(default_factory=list)
    """The event that set the current price: named by a plan change proposed on a later pass (one the
    tenant's agents held back, PB1021). Absent from states saved before it: an empty list."""
    paused: bool = False
    trial_unpaid: bool = False
    """The trial ended without a payment (left ``trialing`` for ``past_due`` or ``cancelled``)."""
    tenant: str | None = None
    """The tenant this subscription maps to (or the name its onboarding proposal chose)."""
    onboarding: bool = False
    """An onboarding proposal exists and the tenant is not on the base branch yet."""
    proposed: dict[str, str] = field(default_factory=dict)
    """Tenant fields of the last proposal (``spec.lifecycle`` -> ``suspended``): never proposed twice."""
    branch: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SubscriptionState:
        return cls(**data)


@dataclass
class EventRecord:
    id: str
    created: int
    type: str
    payload: dict[str, Any]
    state: str = PENDING
    outcome: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Session:
    """One exclusive pass over the store: pending events in, outcomes and state out."""

    def __init__(self, records: dict[str, EventRecord], subscriptions: dict[str, SubscriptionState],
                 customers: dict[str, tuple[int, CustomerInfo]]) -> None:
        self.records = records
        self.subscriptions = subscriptions
        self.customers = customers
        self.changed: set[str] = set()
        self.changed_subscriptions: set[str] = set()
        self.changed_customers: set[str] = set()
        self.handle: object = None
        """The store's own handle for this pass (the PostgreSQL connection holding the lock)."""
        self.prune_before: int | None = None
        """When set, processed events created before this time are forgotten at the next flush."""

    def prune(self) -> None:
        """Forget the processed events created before :attr:`prune_before` (in memory)."""
        if self.prune_before is None:
            return
        for key in [k for k, r in self.records.items() if r.state == DONE and r.created < self.prune_before]:
            del self.records[key]
            self.changed.discard(key)

    def pending(self) -> tuple[list[BillingEvent], list[tuple[str, str]]]:
        """Pending events in (created, id) order, and (event id, problem) for stored payloads that
        no longer parse (kept; reported)."""
        events, broken = [], []
        for record in self.records.values():
            if record.state != PENDING:
                continue
            try:
                events.append(parse_event(record.payload))
            except EventError as error:
                broken.append((record.id, str(error)))
        events.sort(key=lambda e: e.order_key)
        return events, sorted(broken)

    def done(self, event_id: str, outcome: str) -> None:
        record = self.records[event_id]
        record.state, record.outcome = DONE, outcome
        self.changed.add(event_id)

    def keep(self, event_id: str, reason: str) -> None:
        record = self.records[event_id]
        record.outcome = reason
        self.changed.add(event_id)

    def customer(self, customer_id: str) -> CustomerInfo | None:
        found = self.customers.get(customer_id)
        return found[1] if found else None

    def remember_customer(self, created: int, info: CustomerInfo) -> bool:
        """Keep the newest customer details; False when ``created`` is older than what is kept."""
        known = self.customers.get(info.id)
        if known is not None and known[0] > created:
            return False
        self.customers[info.id] = (created, info)
        self.changed_customers.add(info.id)
        return True

    def subscription(self, sub_id: str, customer: str) -> SubscriptionState:
        state = self.subscriptions.get(sub_id)
        if state is None:
            state = self.subscriptions[sub_id] = SubscriptionState(sub_id, customer)
        return state

    def save_subscription(self, state: SubscriptionState) -> None:
        self.subscriptions[state.id] = state
        self.changed_subscriptions.add(state.id)


class Store(Protocol):
    def enqueue(self, events: list[BillingEvent]) -> int:
        """Store events not seen before (by id); returns how many were new or may be new."""
        ...

    def session(self) -> contextlib.AbstractContextManager[Session]: ...

    def flush(self, session: Session) -> None:
        """Persist the session's progress now (after each proposal, so a crash never re-proposes)."""
        ...

    def records(self) -> dict[str, EventRecord]:
        """Every stored event (for status output and tests)."""
        ...


def _record(event: BillingEvent) -> EventRecord:
    return EventRecord(event.id, event.created, event.type, event.payload)


MAX_STATE_BYTES = 1024 * 1024 * 1024


class StoreDamaged(RuntimeError):
    """The --state file cannot be used: not a regular file, unreadable, or not a billing state file."""


class FileStore:
    """State in one JSON file (``STATE``), deliveries appended to ``STATE.inbox``; one receiver only."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.inbox = path.with_name(path.name + ".inbox")
        self.lock_path = path.with_name(path.name + ".lock")
        self.inbox_lock = path.with_name(path.name + ".inbox.lock")

    @contextlib.contextmanager
    def _locked(self, path: Path) -> Iterator[None]:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def enqueue(self, events: list[BillingEvent]) -> int:
        if not events:
            return 0
        lines = b"".join(json.dumps(_record(e).to_json(), sort_keys=True).encode() + b"\n" for e in events)
        with self._locked(self.inbox_lock):
            fd = os.open(self.inbox, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(fd, lines)
                os.fsync(fd)
            finally:
                os.close(fd)
        return len(events)

    def _load(self) -> Session:
        """The stored session; a state file that is not one (a FIFO, a device, damaged JSON) is
        :class:`StoreDamaged`, never waited on, read without end or half trusted."""
        from paybill.contract.files import read_regular

        try:
            raw = read_regular(self.path, MAX_STATE_BYTES)
        except FileNotFoundError:
            return Session({}, {}, {})
        except OSError as error:  # FileRefused names the path itself
            reason = f"{self.path.as_posix()}: {error.strerror}" if error.strerror else str(error)
            raise StoreDamaged(reason) from None
        try:
            data = json.loads(raw)
            records = {k: EventRecord(**v) for k, v in data.get("events", {}).items()}
            subs = {k: SubscriptionState.from_json(v) for k, v in data.get("subscriptions", {}).items()}
            customers = {k: (v["created"], CustomerInfo.from_json(v["customer"]))
                         for k, v in data.get("customers", {}).items()}
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise StoreDamaged(f"{self.path.as_posix()} is not a billing state file "
                               f"({type(error).__name__}: {error})") from None
        return Session(records, subs, customers)

    def check(self) -> None:
        """Read the state once at open, so a bad --state is reported before anything is processed."""
        with self._locked(self.lock_path):
            self._load()

    def _merge_inbox(self, session: Session) -> None:
        with self._locked(self.inbox_lock):
            if self.inbox.exists():
                for line in self.inbox.read_bytes().splitlines():
                    if not line.strip():
                        continue
                    record = EventRecord(**json.loads(line))
                    if record.id not in session.records:  # a redelivery is a no-op
                        session.records[record.id] = record
                        session.changed.add(record.id)
                self.flush(session)
                self.inbox.write_bytes(b"")

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        with self._locked(self.lock_path):
            session = self._load()
            self._merge_inbox(session)
            yield session
            self.flush(session)

    def flush(self, session: Session) -> None:
        session.prune()
        data = {
            "version": 1,
            "events": {k: session.records[k].to_json() for k in sorted(session.records)},
            "subscriptions": {k: session.subscriptions[k].to_json() for k in sorted(session.subscriptions)},
            "customers": {k: {"created": c, "customer": info.to_json()}
                          for k, (c, info) in sorted(session.customers.items())},
        }
        text = json.dumps(data, sort_keys=True, indent=1) + "\n"
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def records(self) -> dict[str, EventRecord]:
        with self._locked(self.lock_path):
            session = self._load()
        with self._locked(self.inbox_lock):
            if self.inbox.exists():
                for line in self.inbox.read_bytes().splitlines():
                    if line.strip():
                        record = EventRecord(**json.loads(line))
                        session.records.setdefault(record.id, record)
        return session.records


class PostgresStore:
    """The same bookkeeping in PostgreSQL, for several receivers (see the module docstring)."""

    LOCK_KEY = 0x7061796269_6C6C  # 'paybill' in hex, truncated: one advisory lock per database

    def __init__(self, url: str, schema: str = "paybill_billing") -> None:
        import psycopg
        from psycopg import sql

        if not schema.replace("_", "").isalnum() or not schema[0].isalpha() or schema != schema.lower():
            raise ValueError(f"schema '{schema}' must be a lower-case SQL identifier")
        self.url = url
        self.schema = schema
        self._psycopg = psycopg
        self._sql = sql
        with self._connect() as conn:
            self._create(conn)

    def _connect(self):
        return self._psycopg.connect(self.url, autocommit=True, connect_timeout=10)

    def _q(self, text: str):
        return self._sql.SQL(text).format(s=self._sql.Identifier(self.schema))

    def _create(self, conn) -> None:
        with conn.transaction():
            conn.execute(self._q("CREATE SCHEMA IF NOT EXISTS {s}"))
            conn.execute(self._q(
                "CREATE TABLE IF NOT EXISTS {s}.events (id text PRIMARY KEY, created bigint NOT NULL, "
                "type text NOT NULL, payload jsonb NOT NULL, state text NOT NULL DEFAULT 'pending', "
                "outcome text NOT NULL DEFAULT '', received_at timestamptz NOT NULL DEFAULT now())"))
            conn.execute(self._q(
                "CREATE TABLE IF NOT EXISTS {s}.subscriptions (id text PRIMARY KEY, state jsonb NOT NULL)"))
            conn.execute(self._q(
                "CREATE TABLE IF NOT EXISTS {s}.customers (id text PRIMARY KEY, created bigint NOT NULL, "
                "customer jsonb NOT NULL)"))

    def enqueue(self, events: list[BillingEvent]) -> int:
        from psycopg.types.json import Jsonb

        new = 0
        with self._connect() as conn, conn.transaction():
            for e in events:
                cur = conn.execute(self._q(
                    "INSERT INTO {s}.events (id, created, type, payload) VALUES (%s, %s, %s, %s) "
                    "ON CONFLICT (id) DO NOTHING"), (e.id, e.created, e.type, Jsonb(e.payload)))
                new += cur.rowcount
        return new

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        with self._connect() as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (self.LOCK_KEY,))
            try:
                records = {r[0]: EventRecord(r[0], r[1], r[2], r[3], r[4], r[5]) for r in conn.execute(self._q(
                    "SELECT id, created, type, payload, state, outcome FROM {s}.events WHERE state = 'pending'"))}
                subs = {r[0]: SubscriptionState.from_json(r[1])
                        for r in conn.execute(self._q("SELECT id, state FROM {s}.subscriptions"))}
                customers = {r[0]: (r[1], CustomerInfo.from_json(r[2]))
                             for r in conn.execute(self._q("SELECT id, created, customer FROM {s}.customers"))}
                session = Session(records, subs, customers)
                session.handle = conn
                yield session
                self.flush(session)
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (self.LOCK_KEY,))

    def flush(self, session: Session) -> None:
        from psycopg import Connection
        from psycopg.types.json import Jsonb

        conn = session.handle
        if not isinstance(conn, Connection):
            raise TypeError("internal: a PostgreSQL store session without its connection")
        with conn.transaction():
            for key in sorted(session.changed):
                r = session.records[key]
                conn.execute(self._q("UPDATE {s}.events SET state = %s, outcome = %s WHERE id = %s"),
                             (r.state, r.outcome, r.id))
            if session.prune_before is not None:
                conn.execute(self._q("DELETE FROM {s}.events WHERE state = 'done' AND created < %s"),
                             (session.prune_before,))
                session.prune()
            for key in sorted(session.changed_subscriptions):
                conn.execute(self._q("INSERT INTO {s}.subscriptions (id, state) VALUES (%s, %s) "
                                     "ON CONFLICT (id) DO UPDATE SET state = EXCLUDED.state"),
                             (key, Jsonb(session.subscriptions[key].to_json())))
            for key in sorted(session.changed_customers):
                created, info = session.customers[key]
                conn.execute(self._q("INSERT INTO {s}.customers (id, created, customer) VALUES (%s, %s, %s) "
                                     "ON CONFLICT (id) DO UPDATE SET created = EXCLUDED.created, "
                                     "customer = EXCLUDED.customer"), (key, created, Jsonb(info.to_json())))
        session.changed.clear()
        session.changed_subscriptions.clear()
        session.changed_customers.clear()

    def records(self) -> dict[str, EventRecord]:
        with self._connect() as conn:
            return {r[0]: EventRecord(r[0], r[1], r[2], r[3], r[4], r[5]) for r in conn.execute(self._q(
                "SELECT id, created, type, payload, state, outcome FROM {s}.events ORDER BY id"))}

    def drop(self) -> None:
        """Remove the schema (tests clean up after themselves)."""
        with self._connect() as conn:
            conn.execute(self._q("DROP SCHEMA IF EXISTS {s} CASCADE"))


def open_store(state: Path | None, database_url: str | None, schema: str = "paybill_billing") -> Store:
    if database_url:
        return PostgresStore(database_url, schema)
    assert state is not None
    store = FileStore(state)
    store.check()
    return store
