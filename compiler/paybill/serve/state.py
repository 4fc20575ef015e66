"""Run state in PostgreSQL: one row per workflow run, changed only by a transaction that saw its latest version.

Why a database row and not process memory: several ``paybill serve`` replicas behind one gateway
must enforce *one* set of limits, and a restart must lose nothing. A call continues the run from a
snapshot (:meth:`paybill.guard.Run.restore`), decides and performs the operation, and writes the
new snapshot back in the same transaction, on one condition: the row is still the version the
snapshot came from. Two ways to meet it:

* **locked**: ``SELECT ... FOR UPDATE`` first; replicas' calls on the run wait for each other;
* **optimistic** (:class:`RunCache`): the snapshot this process itself stored last, no read at all;
  the write-back names the version it expects (the row's ``xmin``, the transaction that wrote it)
  and fails the whole transaction when another writer came in between (:class:`Conflict`): the
  caller then does the call again the locked way. Nothing of a failed attempt is committed.

Either way each committed call saw every counter the previous one wrote: calls spread over replicas
stop at a limit exactly.

The table lives in the ``paybill`` schema of the database the server connects to
(:mod:`paybill.contract.run_state`): ``paybill db migrate`` creates it and grants it to
``paybill_guard``, so every replica's login and ``paybill guard approve`` share it; agent roles get
no privilege on it.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Any

import orjson
import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from paybill.contract.run_state import DDL, SCHEMA, USABLE
from paybill.guard.wire import Result, Wire

_DDL_LOCK = 0x7061796269_6C6C  # "paybill" as a number: the advisory lock of the schema creation

_LOCK = sql.SQL("SELECT agent, tenant, workflow, state, pending, expires_at, xmin::text FROM paybill.runs "
                "WHERE id = %s FOR UPDATE")
_INSERT = sql.SQL("INSERT INTO paybill.runs (id, agent, tenant, workflow, revision, state, expires_at) "
                  "VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING xmin::text")
CONFLICT = "paybill: the run changed since this call read it"
# The write-back of one version of the row. When no row has that version any more (another call or
# replica, or a human's approval, wrote the run since), the CONFLICT text is cast to an integer:
# the statement fails, so the transaction cannot commit (plain SQL has no RAISE; the message names
# the reason). The cast sits in a subquery so the planner cannot fold it into a constant error.
_SAVE = sql.SQL("WITH saved AS (UPDATE paybill.runs SET state = %s, pending = %s, updated_at = now() "
                "WHERE id = %s AND xmin = %s::xid RETURNING xmin::text AS version) "
                "SELECT COALESCE((SELECT version FROM saved), "
                "(SELECT %s::text WHERE NOT EXISTS (SELECT FROM saved))::int::text)")
_LOCK_BYTES, _SAVE_BYTES, _INSERT_BYTES = _LOCK.as_bytes(None), _SAVE.as_bytes(None), _INSERT.as_bytes(None)

MOVED = "paybill: the database was migrated since this server loaded its bundle"
_LEDGER_CHECK = (b"(SELECT %s::text WHERE (SELECT revision FROM paybill.schema_migrations WHERE database = %s "
                 b"ORDER BY id DESC LIMIT 1) IS DISTINCT FROM %s)::int")
# The ledger check of ``paybill serve`` (see paybill.serve.service.Service): when the latest revision the
# ledger records for the served database is not the one served, the MOVED text is cast to an integer, so
# the statement fails and the transaction (the agent's statement included) cannot commit. As in _SAVE,
# the cast sits in a subquery so the planner cannot fold it into a constant error.
WATCH_BYTES = b"SELECT " + _LEDGER_CHECK
"""The ledger check alone (a transaction that writes no run: a run's start, a refused call)."""
_SAVE_WATCHED_BYTES = _SAVE_BYTES + b", " + _LEDGER_CHECK
"""The write-back and the ledger check in one statement: a served call's commit batch carries no
statement more than without the check (measured: ~20 us per call less than a statement of its own)."""


class StateError(Exception):
    """The run state store cannot be used (missing and not creatable, or damaged)."""


@dataclass
class StoredRun:
    """A locked run row: who it belongs to, where it is, and the guard's snapshot of it."""

    id: str
    agent: str
    tenant: str
    workflow: str
    state: dict[str, Any]
    pending: dict[str, str]
    """Approval requests the agent made and no human has answered yet: step -> the agent's reason."""
    expires_at: float
    version: str = ""
    """The row's ``xmin`` when it was read or written: the write-back requires it unchanged."""


class Conflict(Exception):
    """The run's row changed between the snapshot a call used and its write-back; nothing was committed."""


def is_conflict(exc: BaseException) -> bool:
    """Whether ``exc`` is the write-back of :func:`save` finding another version of the row."""
    return isinstance(exc, psycopg.errors.InvalidTextRepresentation) and CONFLICT in str(exc.diag.message_primary)


class RunCache:
    """The runs this process stored last (the newest ``size``, none older than ``max_age`` seconds):
    a call continues from here without reading the row (one round trip less), and its write-back
    checks the version (see the module).

    Why an age limit: ``xmin`` is a 32-bit transaction id; a version could only come round again
    after billions of transactions, which no PostgreSQL server runs in ``max_age``, so an equal
    version is always the same write.
    """

    def __init__(self, size: int, max_age: float = 300.0) -> None:
        self.size, self.max_age = size, max_age
        self._runs: OrderedDict[str, tuple[float, StoredRun]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, run_id: str) -> StoredRun | None:
        """A private copy of the cached run (a call changes its copy, never the cache), or None."""
        with self._lock:
            entry = self._runs.get(run_id)
        if entry is None or time.monotonic() - entry[0] > self.max_age:
            return None
        return replace(entry[1], pending=dict(entry[1].pending))

    def put(self, stored: StoredRun) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._runs[stored.id] = (time.monotonic(), stored)
            self._runs.move_to_end(stored.id)
            while len(self._runs) > self.size:
                self._runs.popitem(last=False)

    def drop(self, run_id: str) -> None:
        with self._lock:
            self._runs.pop(run_id, None)


def ensure_schema(conn: psycopg.Connection[Any]) -> None:
    """Use the run table ``paybill db migrate`` created (and granted to ``paybill_guard``); on a database
    paybill never migrated, create it (then the login needs CREATE on the database)."""
    row = conn.execute(USABLE).fetchone()
    if row is not None and row[0]:
        return
    try:
        with conn.transaction():
            conn.execute("SELECT pg_catalog.pg_advisory_xact_lock(%s)", (_DDL_LOCK,))
            for statement in DDL:
                conn.execute(statement)
    except psycopg.Error as exc:
        raise StateError(f"cannot create the run state tables in schema '{SCHEMA}': "
                         f"{exc.diag.message_primary or type(exc).__name__}") from None


def insert(conn: psycopg.Connection[Any], run_id: str, *, agent: str, tenant: str, workflow: str, revision: str,
           state: dict[str, Any], expires_at: float) -> str:
    """Store a new run; returns its row's version."""
    row = conn.execute(_INSERT, (run_id, agent, tenant, workflow, revision, _json(state), expires_at)).fetchone()
    assert row is not None
    return str(row[0])


def lock(conn: psycopg.Connection[Any], run_id: str) -> StoredRun | None:
    """The run's row, locked until the caller's transaction ends; None when there is no such run."""
    row = conn.execute(_LOCK, (run_id,)).fetchone()
    if row is None:
        return None
    agent, tenant, workflow, state, pending, expires_at, version = row
    return StoredRun(run_id, agent, tenant, workflow, state, pending, float(expires_at), version)


def save(conn: psycopg.Connection[Any], run: StoredRun) -> psycopg.Cursor[Any]:
    """Write ``run`` back if its row is still at ``run.version``, else fail the statement (see
    :func:`is_conflict`). The cursor's one row is the new version."""
    return conn.execute(_SAVE, _save_params(run))


def lock_on(wire: Wire, run_id: str) -> StoredRun | None:
    """:func:`lock` on a connection in pipeline mode (``paybill serve``): one round trip."""
    found = wire.queue(_LOCK_BYTES, (run_id,))
    wire.flush()
    rows = found.rows(1)
    if not rows:
        return None
    agent, tenant, workflow, state, pending, expires_at, version = rows[0]
    return StoredRun(run_id, agent, tenant, workflow, state, pending, float(expires_at), version)


def insert_on(wire: Wire, run_id: str, *, agent: str, tenant: str, workflow: str, revision: str,
              state: dict[str, Any], expires_at: float) -> Result:
    """:func:`insert`, queued on ``wire`` (it goes with the caller's commit); the result's one row is the
    new row's version once that batch was read."""
    return wire.queue(_INSERT_BYTES, (run_id, agent, tenant, workflow, revision, _json(state), expires_at))


def save_on(wire: Wire, run: StoredRun, watch: tuple[str, str] | None = None) -> Result:
    """:func:`save`, queued on ``wire``: it goes with the caller's commit; the result's first column is
    the new version once that batch was read. ``watch``: (database, revision) - the statement also
    checks that the ledger still records that revision (see :data:`MOVED`)."""
    if watch is None:
        return wire.queue(_SAVE_BYTES, _save_params(run))
    return wire.queue(_SAVE_WATCHED_BYTES, (*_save_params(run), MOVED, *watch))


def is_moved(exc: BaseException) -> bool:
    """Whether ``exc`` is the ledger check finding another revision than the served one."""
    return isinstance(exc, psycopg.errors.InvalidTextRepresentation) and MOVED in str(exc.diag.message_primary)


def _save_params(run: StoredRun) -> tuple[Any, ...]:
    return (_json(run.state), _json(run.pending), run.id, run.version, CONFLICT)


def _json(value: Any) -> Jsonb:
    return Jsonb(value, dumps=_dumps)


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()
