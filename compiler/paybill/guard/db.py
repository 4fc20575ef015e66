"""Guarded database access: run an agent's data operation on PostgreSQL only after its guard allowed it.

The agent never holds a connection. For every operation this module

1. resolves the table and column names in the *catalog* (``sql/<database>/migrations.json``, built
   from the specs); a name the catalog does not know is refused, and statements are composed only
   from the catalog's own strings, quoted, with every value a bind parameter;
2. asks the guard: ``run.check(action, table, columns=..., rows=...)``; a denial raises
   :class:`AccessDenied` and nothing reaches the database;
3. in one transaction, becomes the agent's role for that transaction only and names the run's
   tenant and the agent's statement timeout (``set_config(..., true)``, PostgreSQL's function form
   of ``SET LOCAL ROLE``, ``SET LOCAL paybill.tenant_id`` and ``SET LOCAL statement_timeout``, in
   one round trip; reads also make the transaction read-only), then runs one statement.

PostgreSQL then checks again, independently: the role holds only the granted columns and row-level
security shows only the run's tenant. A refusal there after the guard allowed is a disagreement
between bundle and database; it raises :class:`AccessDenied` with ``source == "database"``.

Row limits. A read may return at most ``cap`` rows: the agent's remaining ``maxRowsRead`` (and
budget), or less if the caller passes ``limit``. The guard is asked for ``cap`` rows, ``cap + 1``
are fetched, and one row too many denies the read and rolls it back: a result is never silently
truncated. Updates and deletes work the same way through their row count (one row when the filter
names the whole primary key), inserts touch one row. Afterwards the run is charged what the
operation really touched, not the cap (:func:`settle`).

Usage::

    guard = Guard.load("generated/bundles/ops-agent")
    db = GuardedDatabase.connect(conninfo, "generated/sql/pool-gcp-usc1-shared")
    run = guard.start(tenant="initech", workflow="incident-response")
    result = db.read(run, "tickets", ["id", "status"], where={"status": "open"})
    run.advance("close-tickets") ...
    db.update(run, "tickets", {"status": "closed"}, where={"id": ticket_id})

The connection should log in as a role that is a member of ``paybill_guard`` and nothing else, so
it holds no privileges of its own. One :class:`GuardedDatabase` serves every agent of its database;
like a psycopg connection it is used by one thread at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import psycopg
from psycopg import errors, sql

from paybill.contract.sql_catalog import AgentPlan, DatabasePlan, TablePlan, load_catalog, schema_label
from paybill.contract.sql_names import TENANT_SETTING
from paybill.guard.decision import Decision
from paybill.guard.guard import Guard
from paybill.guard.wire import Wire

SETUP = sql.SQL(
    "SELECT pg_catalog.set_config('role', %s, true), pg_catalog.set_config({setting}, %s, true), "
    "pg_catalog.set_config('statement_timeout', %s, true), pg_catalog.set_config('transaction_read_only', %s, true)"
).format(setting=sql.Literal(TENANT_SETTING))
"""One round trip: role, tenant, timeout and read-only mode, all local to the transaction."""

RESET_ROLE = sql.SQL("RESET ROLE")
SAVEPOINT = sql.SQL("SAVEPOINT paybill_op")
ROLLBACK_TO = sql.SQL("ROLLBACK TO SAVEPOINT paybill_op")
RELEASE = sql.SQL("RELEASE SAVEPOINT paybill_op")
RESET_ROLE_BYTES, SAVEPOINT_BYTES, ROLLBACK_TO_BYTES, RELEASE_BYTES = (
    b"RESET ROLE", b"SAVEPOINT paybill_op", b"ROLLBACK TO SAVEPOINT paybill_op", b"RELEASE SAVEPOINT paybill_op")
"""The same statements as they go on a :class:`~paybill.guard.wire.Wire`."""

LIMIT_NAMES = {"read": "maxRowsRead", "write": "maxRowsWritten", "budget": "budgetUnits", "time": "maxWallTimeSeconds"}


class GuardDbError(Exception):
    """Base of every error this module raises."""


class SetupError(GuardDbError):
    """Configuration does not fit: wrong database, tenant not stored here, agent without a role here."""


class UsageError(GuardDbError, ValueError):
    """The caller named a table or column the catalog does not know, or called an operation wrongly."""


class AccessDenied(GuardDbError, PermissionError):
    """The operation was refused: by the guard (``source == "guard"``), by a row cap (``"limit"``)
    or by PostgreSQL itself (``"database"``). Nothing was changed."""

    def __init__(self, message: str, *, source: str, violations: tuple[str, ...] = (),
                 decision: Decision | None = None, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.source = source
        self.violations = violations
        self.decision = decision
        self.sqlstate = sqlstate


class StatementFailed(GuardDbError):
    """PostgreSQL rejected an allowed statement for another reason (a constraint, a timeout...);
    the transaction was rolled back and the run was not charged rows."""

    def __init__(self, message: str, sqlstate: str | None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


@dataclass(frozen=True)
class ReadResult:
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    decision: Decision

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


@dataclass(frozen=True)
class WriteResult:
    rows: int
    decision: Decision


class GuardedRun(Protocol):
    """What the guarded database reads and asks of a run: a :class:`~paybill.guard.Run`, or a
    :class:`~paybill.guard.shadow.ShadowRun` (which answers with its enforcing run)."""

    @property
    def guard(self) -> Guard: ...

    @property
    def tenant(self) -> str: ...

    @property
    def rows_read(self) -> int: ...

    @property
    def rows_written(self) -> int: ...

    @property
    def budget_spent(self) -> int: ...

    def counters(self, now: float | None = None) -> dict[str, int]: ...

    def check(self, action: str, resource: str, *, columns: Iterable[str] = (), rows: int = 0,
              tenant: str | None = None) -> Decision: ...

    def settle(self, decision: Decision, used: int) -> None: ...


def settle(run: GuardedRun, decision: Decision, used: int) -> None:
    """Charge the run what an operation really touched instead of the cap its ``decision`` allowed.

    The guard spends the rows a check names and ``max(1, rows)`` budget units when it allows; a
    read checked for up to 500 rows that returned 3 gives the other 497 back, once per decision
    (:meth:`paybill.guard.Run.settle`).
    """
    run.settle(decision, used)


class GuardedDatabase:
    """One database, its catalog, and the guarded operations on it."""

    def __init__(self, conn: psycopg.Connection[Any], catalog: DatabasePlan, *, verify: bool = True,
                 nested: bool = False) -> None:
        self.conn = conn
        self.nested = nested
        """Operations run inside a transaction the caller holds (a server that keeps the run's state
        in this database under a row lock): each statement runs in a savepoint that leaves the
        caller's transaction as it found it - a read's savepoint is rolled back once its rows are
        fetched, a write's role is reset after its savepoint is released."""
        self.wire: Wire | None = None
        """Set by a nested caller that holds the connection in pipeline mode through a
        :class:`~paybill.guard.wire.Wire` (``paybill serve``): savepoint, setup and statement are
        queued and sent together when the statement's result is needed, and the savepoint's end is
        queued for the caller's next batch (its commit), so an operation costs one round trip
        instead of five. Same statements, same order, same checks."""
        self.catalog = catalog
        self._tables = {t.name: t for t in catalog.tables}
        self._columns = {t.name: {c.name: c.name for c in t.columns} for t in catalog.tables}
        self._agents = {a.name: a for a in catalog.agents}
        self._tenants = frozenset(catalog.tenants)
        self._statements: dict[tuple[Any, ...], bytes] = {}
        """Statements built from the catalog, rendered once per connection (names quoted by it)."""
        self._setup = SETUP.as_bytes(conn)
        if verify:
            self.verify_database()

    @classmethod
    def connect(cls, conninfo: str, catalog: str | Path | DatabasePlan, **kwargs: Any) -> GuardedDatabase:
        """Open an autocommit connection (every operation opens its own transaction)."""
        plan = catalog if isinstance(catalog, DatabasePlan) else load_catalog(Path(catalog))
        return cls(psycopg.connect(conninfo, autocommit=True, **kwargs), plan)

    def close(self) -> None:
        self.conn.close()

    def verify_database(self) -> None:
        """Refuse a connection to another database than the catalog's (see ``schema_label``)."""
        schema = self.catalog.schemas[0] if self.catalog.schemas else None
        with self.conn.transaction():
            label = self.conn.execute(
                "SELECT pg_catalog.obj_description(oid, 'pg_namespace') FROM pg_catalog.pg_namespace "
                "WHERE nspname = %s", (schema,)).fetchone()
        if label is None or label[0] != schema_label(self.catalog.key):
            found = label[0] if label else f"no schema '{schema}'"
            raise SetupError(f"connected database is not '{self.catalog.key}' ({found}); check the connection string")

    # -- resolution: every identifier comes from the catalog -------------------------------------

    def _agent(self, run: GuardedRun) -> AgentPlan:
        agent = self._agents.get(run.guard.agent)
        if agent is None:
            raise SetupError(f"agent '{run.guard.agent}' has no role in database '{self.catalog.key}' "
                             "(no tenant of its scope is stored here)")
        if run.tenant not in self._tenants:
            raise SetupError(f"tenant '{run.tenant}' is not stored in database '{self.catalog.key}'")
        return agent

    def _table(self, name: str) -> TablePlan:
        table = self._tables.get(name) if isinstance(name, str) else None
        if table is None:
            raise UsageError(f"unknown table {name!r} in database '{self.catalog.key}'")
        return table

    def _resolve(self, table: TablePlan, names: Sequence[str] | Mapping[str, Any], what: str) -> tuple[str, ...]:
        """The catalog's own strings for ``names``, in order; unknown or repeated names are refused."""
        known = self._columns[table.name]
        if isinstance(names, str):
            raise UsageError(f"{what} must be a list of column names, not a string")
        resolved = []
        for name in names:
            column = known.get(name) if isinstance(name, str) else None
            if column is None:
                raise UsageError(f"unknown column {name!r} in {what} of table '{table.name}'")
            resolved.append(column)
        if len(set(resolved)) != len(resolved):
            raise UsageError(f"a column is named twice in {what}")
        return tuple(resolved)

    # -- limits -----------------------------------------------------------------------------------

    def _cap(self, run: GuardedRun, kind: str, limit: int | None) -> tuple[int, str]:
        """(rows the operation may touch, the violation name if it touches more)."""
        if limit is not None and (type(limit) is not int or limit < 0):
            raise UsageError("limit must be a non-negative integer")
        limits = run.guard.limits
        allowance = limits[LIMIT_NAMES[kind]] - (run.rows_read if kind == "read" else run.rows_written)
        budget = limits[LIMIT_NAMES["budget"]] - run.budget_spent
        cap = max(0, min(allowance, budget))
        if limit is not None and limit < cap:
            return limit, "limit.requested"
        return cap, f"limit.{LIMIT_NAMES[kind]}" if allowance <= budget else "limit.budgetUnits"

    def _timeout_ms(self, run: GuardedRun, agent: AgentPlan) -> int:
        remaining = run.guard.limits[LIMIT_NAMES["time"]] * 1000 - run.counters()["elapsedMillis"]
        return max(1, min(agent.statement_timeout_ms, remaining))

    # -- execution ------------------------------------------------------------------------------

    def _perform(self, run: GuardedRun, agent: AgentPlan, decision: Decision, statement: bytes,
                 params: Sequence[Any], *, cap: int, violation: str, read: bool) -> tuple[int, list[tuple[Any, ...]]]:
        """Run one statement as the agent, for the run's tenant, in its own transaction.

        A read fetches up to ``cap + 1`` rows (its statement says ``LIMIT cap + 1``); a write counts
        the rows it changed. More than ``cap`` rolls everything back and denies. Whatever happens,
        the run ends up charged exactly the rows the operation delivered.
        """
        conn = self.conn
        action = decision.action
        setup = (agent.role, run.tenant, f"{self._timeout_ms(run, agent)}ms", "on" if read else "off")
        if self.nested and self.wire is not None:
            return self._perform_pipelined(run, decision, statement, params, setup, cap=cap, violation=violation,
                                           read=read)
        try:
            with conn.transaction():
                conn.execute(self._setup, setup)
                cursor = conn.execute(statement, params)
                if read:
                    rows = cursor.fetchmany(cap + 1)
                    count = len(rows)
                else:
                    rows, count = [], cursor.rowcount
                if count > cap:
                    raise _RollBack  # leaving the block with an exception rolls the transaction back
                if self.nested:
                    if read:  # the rows are fetched: undo role, tenant, timeout and read-only mode
                        raise psycopg.Rollback()
                    conn.execute(RESET_ROLE)  # the caller's own statements run as the login role again
        except _RollBack:
            settle(run, decision, 0)
            raise AccessDenied(f"{action} on '{decision.resource}' would touch more than {cap} rows ({violation}); "
                               "rolled back", source="limit", violations=(violation,), decision=decision) from None
        except errors.InsufficientPrivilege as exc:
            settle(run, decision, 0)
            raise AccessDenied(f"PostgreSQL refused what the guard allowed: {exc.diag.message_primary}",
                               source="database", violations=("database.refused",), decision=decision,
                               sqlstate=exc.sqlstate) from None
        except psycopg.Error as exc:
            settle(run, decision, 0)
            raise StatementFailed(f"statement failed: {exc.diag.message_primary or exc}", exc.sqlstate) from None
        settle(run, decision, count)
        return count, rows

    def _perform_pipelined(self, run: GuardedRun, decision: Decision, statement: bytes, params: Sequence[Any],
                           setup: tuple[str, str, str, str], *, cap: int, violation: str, read: bool
                           ) -> tuple[int, list[tuple[Any, ...]]]:
        """:meth:`_perform` inside the caller's transaction, on a connection in pipeline mode.

        ``SAVEPOINT``, the setup and the statement go out in one round trip (a read's rows and a
        write's row count come back with it). The savepoint's end - rolled back for a read, a failed
        statement or too many rows; released with the role reset for a write - is queued: it
        reaches PostgreSQL with the caller's next statements, before the caller's commit, so the
        caller's own statements never run as the agent's role.
        """
        wire = self.wire
        assert wire is not None
        action = decision.action
        wire.queue(SAVEPOINT_BYTES)
        wire.queue(self._setup, setup)
        done = wire.queue(statement, params)
        try:
            wire.flush()  # on an error the wire has synced: the transaction waits for the rollback below
            if read:
                rows = done.rows(cap + 1)
                count = len(rows)
            else:
                rows, count = [], done.rowcount
        except psycopg.Error as exc:
            wire.queue(ROLLBACK_TO_BYTES)
            wire.queue(RELEASE_BYTES)
            settle(run, decision, 0)
            if isinstance(exc, errors.InsufficientPrivilege):
                raise AccessDenied(f"PostgreSQL refused what the guard allowed: {exc.diag.message_primary}",
                                   source="database", violations=("database.refused",), decision=decision,
                                   sqlstate=exc.sqlstate) from None
            raise StatementFailed(f"statement failed: {exc.diag.message_primary or exc}", exc.sqlstate) from None
        if count > cap:
            wire.queue(ROLLBACK_TO_BYTES)
            wire.queue(RELEASE_BYTES)
            settle(run, decision, 0)
            raise AccessDenied(f"{action} on '{decision.resource}' would touch more than {cap} rows ({violation}); "
                               "rolled back", source="limit", violations=(violation,), decision=decision)
        if read:  # the rows are fetched: undo role, tenant, timeout and read-only mode
            wire.queue(ROLLBACK_TO_BYTES)
        else:
            wire.queue(RESET_ROLE_BYTES)  # the caller's own statements run as the login role again
        wire.queue(RELEASE_BYTES)
        settle(run, decision, count)
        return count, rows

    def _check(self, run: GuardedRun, action: str, table: str, columns: Sequence[str], rows: int) -> Decision:
        decision = run.check(action, table, columns=columns, rows=rows)
        if not decision.allowed:
            raise AccessDenied(f"guard denied: {decision.summary()}", source="guard", violations=decision.violations,
                               decision=decision)
        return decision

    def _where(self, table: TablePlan, where: Mapping[str, Any]) -> tuple[tuple[str, ...], sql.Composable, list[Any]]:
        if not isinstance(where, Mapping):
            raise UsageError("where must be a mapping of column -> value (equality, AND-ed)")
        columns = self._resolve(table, list(where), "where")
        if not columns:
            return columns, sql.SQL(""), []
        parts = [sql.SQL("{} IS NULL" if where[c] is None else "{} = %s").format(sql.Identifier(c)) for c in columns]
        values = [where[c] for c in columns if where[c] is not None]
        return columns, sql.SQL(" WHERE ") + sql.SQL(" AND ").join(parts), values

    def _readable(self, agent: AgentPlan, table: TablePlan, columns: tuple[str, ...], what: str) -> None:
        """Rows of an update or delete are found through ``where`` columns, which PostgreSQL requires
        the role to be able to read; refuse here, from the catalog, columns it may not read."""
        grant = next((g for g in agent.grants if g.table == table.name), None)
        missing = [c for c in columns if grant is None or c not in grant.read]
        if missing:
            raise AccessDenied(f"{what} columns of '{table.name}' not readable by agent '{agent.name}': "
                               f"{', '.join(missing)}", source="database", violations=("acl.column-not-granted",))

    # -- operations -----------------------------------------------------------------------------

    def read(self, run: GuardedRun, table: str, columns: Sequence[str], *, where: Mapping[str, Any] | None = None,
             order_by: Sequence[str] = (), limit: int | None = None) -> ReadResult:
        """``SELECT columns FROM table WHERE col = value AND ... [ORDER BY ...]`` for the run's tenant.

        The guard checks every column the statement reads: selected, filtered on and ordered by.
        """
        agent = self._agent(run)
        plan = self._table(table)
        selected = self._resolve(plan, columns, "columns")
        if not selected:
            raise UsageError("read needs at least one column")
        filtered, where_sql, params = self._where(plan, where or {})
        ordered = self._resolve(plan, order_by, "order_by")
        cap, violation = self._cap(run, "read", limit)
        touched = tuple(dict.fromkeys((*selected, *filtered, *ordered)))
        decision = self._check(run, "read", plan.name, touched, cap)
        key = ("read", plan.name, selected, tuple((c, where[c] is None) for c in filtered) if where else (), ordered)
        statement = self._statements.get(key)
        if statement is None:
            composed = sql.SQL("SELECT {} FROM {}").format(
                sql.SQL(", ").join(map(sql.Identifier, selected)), sql.Identifier(plan.schema, plan.name)) + where_sql
            if ordered:
                composed += sql.SQL(" ORDER BY ") + sql.SQL(", ").join(map(sql.Identifier, ordered))
            composed += sql.SQL(" LIMIT %s")
            statement = self._statements[key] = composed.as_bytes(self.conn)
        _, rows = self._perform(run, agent, decision, statement, [*params, cap + 1], cap=cap, violation=violation,
                                read=True)
        return ReadResult(selected, rows, decision)

    def insert(self, run: GuardedRun, table: str, values: Mapping[str, Any]) -> WriteResult:
        """``INSERT INTO table (columns) VALUES (...)``: one row; ``tenant_id`` comes from the session."""
        agent = self._agent(run)
        plan = self._table(table)
        if not isinstance(values, Mapping) or not values:
            raise UsageError("insert needs a non-empty mapping of column -> value")
        columns = self._resolve(plan, list(values), "values")
        decision = self._check(run, "insert", plan.name, columns, 1)
        key = ("insert", plan.name, columns)
        statement = self._statements.get(key)
        if statement is None:
            composed = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                sql.Identifier(plan.schema, plan.name), sql.SQL(", ").join(map(sql.Identifier, columns)),
                sql.SQL(", ").join(sql.Placeholder() * len(columns)))
            statement = self._statements[key] = composed.as_bytes(self.conn)
        count, _ = self._perform(run, agent, decision, statement, [values[c] for c in columns], cap=1,
                                 violation="limit.maxRowsWritten", read=False)
        return WriteResult(count, decision)

    def update(self, run: GuardedRun, table: str, values: Mapping[str, Any], *, where: Mapping[str, Any],
               limit: int | None = None) -> WriteResult:
        """``UPDATE table SET col = value ... WHERE ...`` on the run's tenant's rows.

        ``where={}`` updates every row of the tenant (still capped); omitting it is an error.
        """
        agent = self._agent(run)
        plan = self._table(table)
        if not isinstance(values, Mapping) or not values:
            raise UsageError("update needs a non-empty mapping of column -> value")
        columns = self._resolve(plan, list(values), "values")
        filtered, where_sql, params = self._where(plan, where)
        self._readable(agent, plan, filtered, "where")
        cap, violation = self._write_cap(run, plan, filtered, limit)
        decision = self._check(run, "update", plan.name, columns, cap)
        key = ("update", plan.name, columns, tuple((c, where[c] is None) for c in filtered))
        statement = self._statements.get(key)
        if statement is None:
            sets = sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in columns)
            composed = sql.SQL("UPDATE {} SET {}").format(sql.Identifier(plan.schema, plan.name), sets) + where_sql
            statement = self._statements[key] = composed.as_bytes(self.conn)
        count, _ = self._perform(run, agent, decision, statement, [*(values[c] for c in columns), *params], cap=cap,
                                 violation=violation, read=False)
        return WriteResult(count, decision)

    def delete(self, run: GuardedRun, table: str, *, where: Mapping[str, Any], limit: int | None = None) -> WriteResult:
        """``DELETE FROM table WHERE ...`` on the run's tenant's rows (``where={}``: all of them, capped)."""
        agent = self._agent(run)
        plan = self._table(table)
        filtered, where_sql, params = self._where(plan, where)
        self._readable(agent, plan, filtered, "where")
        cap, violation = self._write_cap(run, plan, filtered, limit)
        decision = self._check(run, "delete", plan.name, (), cap)
        key = ("delete", plan.name, tuple((c, where[c] is None) for c in filtered))
        statement = self._statements.get(key)
        if statement is None:
            composed = sql.SQL("DELETE FROM {}").format(sql.Identifier(plan.schema, plan.name)) + where_sql
            statement = self._statements[key] = composed.as_bytes(self.conn)
        count, _ = self._perform(run, agent, decision, statement, params, cap=cap, violation=violation, read=False)
        return WriteResult(count, decision)

    def _write_cap(self, run: GuardedRun, plan: TablePlan, filtered: tuple[str, ...],
                   limit: int | None) -> tuple[int, str]:
        cap, violation = self._cap(run, "write", limit)
        if set(plan.primary_key) <= set(filtered) and cap > 1:
            return 1, violation  # the whole primary key: at most one row of this tenant
        return cap, violation


class _RollBack(Exception):
    """Raised inside a transaction block to roll it back (psycopg rolls back on any exception)."""


__all__ = [
    "AccessDenied",
    # the SQL catalog's plan types (paybill.contract.sql_catalog) a GuardedDatabase is built from
    "AgentPlan",
    "DatabasePlan",
    "GuardDbError",
    "GuardedDatabase",
    "GuardedRun",
    "ReadResult",
    "SetupError",
    "StatementFailed",
    "TablePlan",
    "UsageError",
    "WriteResult",
    "load_catalog",
    "settle",
]
