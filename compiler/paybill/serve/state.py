"""Run state in PostgreSQL: one row per workflow run, locked for the length of each call.

Why a database row and not process memory: several ``paybill serve`` replicas behind one gateway
must enforce *one* set of limits, and a restart must lose nothing. Every call locks its run's row
(``SELECT ... FOR UPDATE``), continues the run from the stored snapshot
(:meth:`paybill.guard.Run.restore`), decides and performs the operation, and writes the new
snapshot back in the same transaction. Two replicas serving calls of one run therefore take turns,
and each sees every counter the other one wrote: calls spread over them stop at a limit exactly.

The table lives in the ``paybill`` schema of the database the server connects to
(:mod:`paybill.contract.run_state`): ``paybill db migrate`` creates it and grants it to
``paybill_guard``, so every replica's login and ``paybill guard approve`` share it; agent roles get
no privilege on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from paybill.contract.run_state import DDL, SCHEMA, USABLE

_DDL_LOCK = 0x7061796269_6C6C  # "paybill" as a number: the advisory lock of the schema creation

_LOCK = sql.SQL("SELECT agent, tenant, workflow, state, pending, expires_at FROM paybill.runs WHERE id = %s FOR UPDATE")
_INSERT = sql.SQL("INSERT INTO paybill.runs (id, agent, tenant, workflow, revision, state, expires_at) "
                  "VALUES (%s, %s, %s, %s, %s, %s, %s)")
_SAVE = sql.SQL("UPDATE paybill.runs SET state = %s, pending = %s, updated_at = now() WHERE id = %s")


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
           state: dict[str, Any], expires_at: float) -> None:
    conn.execute(_INSERT, (run_id, agent, tenant, workflow, revision, _json(state), expires_at))


def lock(conn: psycopg.Connection[Any], run_id: str) -> StoredRun | None:
    """The run's row, locked until the caller's transaction ends; None when there is no such run."""
    row = conn.execute(_LOCK, (run_id,)).fetchone()
    if row is None:
        return None
    agent, tenant, workflow, state, pending, expires_at = row
    return StoredRun(run_id, agent, tenant, workflow, state, pending, float(expires_at))


def save(conn: psycopg.Connection[Any], run: StoredRun) -> None:
    conn.execute(_SAVE, (_json(run.state), _json(run.pending), run.id))


def _json(value: Any) -> Jsonb:
    return Jsonb(value, dumps=_dumps)


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()
