"""The server's core, independent of MCP: a tool call in, a guarded outcome out.

Every call that touches a run continues it from its stored state (this process's own last write of
it, or the row read under its lock: :mod:`paybill.serve.state`), asks the guard
(:class:`paybill.guard.Run`) and, for data tools, runs one catalog-built statement through
:class:`paybill.guard.db.GuardedDatabase` in a savepoint as the agent's role for the run's tenant,
then stores the run's new books - all in one transaction, which commits only if the run's row is
still the version the call started from. The server adds no power of its own: it
only refuses more (an unknown, expired or foreign run; arguments outside the tool's schema).

Outcomes are data (:class:`Outcome`), never exceptions: a denial carries the guard's reasons and
violations; an internal error carries a fixed message and no database detail or stack trace.

With a :class:`~paybill.guard.shadow.ShadowGuard` (``paybill serve --shadow``) every run continued
from PostgreSQL is wrapped in a :class:`~paybill.guard.shadow.ShadowRun`: the enforcing run decides
and is stored, the candidate bundle is only asked and its disagreements go to the shadow log.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import logging
import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema_rs
import orjson
import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool, PoolTimeout

from paybill.guard import Decision, Guard, GuardUsageError, Run
from paybill.guard.db import AccessDenied, DatabasePlan, GuardedDatabase, SetupError, StatementFailed, UsageError
from paybill.guard.shadow import ShadowGuard, ShadowRun
from paybill.guard.wire import Wire
from paybill.serve import state
from paybill.serve.tools import ToolDef, build_tools

log = logging.getLogger("paybill.serve")

APPROVAL_HINT = ("a human approves with `paybill guard approve {run} {step} --by EMAIL "
                 "--bundle generated/bundles/{agent} --database-url URL` (the served bundle and database); "
                 "then call advance_step again")
"""A command a person can run as given (``--bundle`` and ``--database-url`` are required), naming no
server path or connection detail: the bundle by its place in the spec repository."""
PROPOSE_TIMEOUT_SECONDS = 300
_BRANCH = re.compile(r"created branch (\S+)")
_BEGIN, _COMMIT, _ROLLBACK = b"BEGIN", b"COMMIT", b"ROLLBACK"
# Sent unprepared: there is nothing to plan in them.


@dataclass(frozen=True)
class Outcome:
    """What a tool call came to. ``outcome`` is ``allowed``, ``denied``, ``invalid`` or ``error``."""

    outcome: str
    data: dict[str, Any]
    policy: str = ""
    """The deciding policy (first reason) for metrics; empty when no policy decided."""

    @property
    def ok(self) -> bool:
        return self.outcome == "allowed"

    def text(self) -> str:
        return orjson.dumps(self.data, default=_jsonable, option=orjson.OPT_SORT_KEYS).decode()


@dataclass
class ServeConfig:
    run_ttl_seconds: int = 3600
    spec_repo: Path | None = None
    paybill_command: tuple[str, ...] = field(default_factory=lambda: (sys.executable, "-m", "paybill"))
    pool_min: int = 2
    pool_max: int = 8
    pool_timeout: float = 5.0
    run_cache: int = 4096
    """Runs whose state this process keeps between calls (optimistic, versioned: see
    :mod:`paybill.serve.state`); 0 reads every run under its row lock. Off with a decision log or a
    shadow: a call that meets another writer is done again, and a log must not hold the decision
    of an attempt that was rolled back."""


def _jsonable(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (dt.timedelta, bytes, memoryview)):
        return str(value)
    raise TypeError(type(value).__name__)


def _denied(decision: Decision | None, message: str, **extra: Any) -> Outcome:
    """A refusal: the guard's decision (reasons, violations, step) with ``extra`` on top.

    ``extra`` wins over the decision's fields: a call the guard allowed and something after it
    refused (``paybill propose``'s change control) reports that refusal's violations, and
    ``allowed`` is always false.
    """
    data: dict[str, Any] = {}
    if decision is not None:
        data.update(decision.to_dict())
        data["step"] = decision.step
    data.update({"error": "denied", "message": message, **extra, "allowed": False})
    return Outcome("denied", data, decision.reasons[0] if decision is not None and decision.reasons else "")


def _invalid(message: str) -> Outcome:
    return Outcome("invalid", {"error": "invalid", "message": message})


INTERNAL = Outcome("error", {"error": "internal", "message": "internal error; the call was not performed "
                                                           "(the server log has the details)"})


@dataclass
class _Transaction:
    conn: psycopg.Connection[Any]
    db: GuardedDatabase
    wire: Wire
    committed: list[Callable[[], None]] = field(default_factory=list)


def _abandon(conn: psycopg.Connection[Any], wire: Wire) -> None:
    """End a failed call's transaction: send what is queued (a savepoint's end, whose errors no
    longer matter), then roll back unless the transaction already ended. A connection whose wire
    broke is closed already; the pool replaces it."""
    with contextlib.suppress(psycopg.Error):
        wire.sync()
    if not conn.closed and conn.pgconn.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        with contextlib.suppress(psycopg.Error):
            wire.queue(_ROLLBACK, prepare=False)
            wire.sync()


class Service:
    """One agent's guarded tools over one database."""

    def __init__(self, guard: Guard, catalog: DatabasePlan, conninfo: str, config: ServeConfig | None = None, *,
                 shadow: ShadowGuard | None = None) -> None:
        """``shadow``: a :class:`ShadowGuard` around ``guard`` (the same enforcing guard) whose
        candidate is asked every question too; None serves without a shadow."""
        if shadow is not None and shadow.guard is not guard:
            raise ValueError("the shadow must wrap the enforcing guard the service serves")
        self.guard = guard
        self.shadow = shadow
        self.catalog = catalog
        self.config = config or ServeConfig()
        self.tools: dict[str, ToolDef] = {
            t.name: t for t in build_tools(guard, catalog, propose=self.config.spec_repo is not None)}
        # Compiled once per tool (Rust, jsonschema-rs): about a microsecond per call instead of tens.
        # Formats are annotations only, as in the Python validator: PostgreSQL parses uuid and
        # timestamp values (a malformed one is a ``statement`` error with its SQLSTATE).
        self._validators = {name: jsonschema_rs.validator_for(t.input_schema, validate_formats=False)
                            for name, t in self.tools.items()}
        self._databases: dict[int, tuple[GuardedDatabase, Wire]] = {}
        self.pool = ConnectionPool(conninfo, min_size=self.config.pool_min, max_size=self.config.pool_max,
                                   kwargs={"autocommit": True}, open=False, timeout=self.config.pool_timeout,
                                   check=None)
        self.runs = state.RunCache(self.config.run_cache if guard.log is None and shadow is None else 0)
        self._handlers: dict[str, Callable[[ToolDef, dict[str, Any], bool], Outcome]] = {
            "start": self._start, "advance": self._advance, "approval": self._request_approval,
            "propose": self._propose, **dict.fromkeys(("read", "insert", "update", "delete"), self._data)}

    # -- lifecycle ------------------------------------------------------------------------------

    def open(self) -> None:
        """Open the pool, check the database is the catalog's, create the run tables if missing."""
        self.pool.open(wait=True, timeout=self.config.pool_timeout)
        with self.pool.connection() as conn:
            GuardedDatabase(conn, self.catalog, verify=True)
            state.ensure_schema(conn)

    def close(self) -> None:
        """Wait for calls in flight (their transactions end with them), then close every connection."""
        self.pool.close(timeout=self.config.pool_timeout)

    @contextmanager
    def _transaction(self) -> Iterator[_Transaction]:
        """A pooled connection in pipeline mode, inside one transaction that commits on exit.

        Why pipeline mode: a call's statements (begin, savepoint, setup, the agent's statement, the
        savepoint's end, the run's new state, commit) are the same as without it, but they travel
        in two round trips instead of eight: the first batch goes when a result is needed (the rows
        read), the rest with the commit and one sync; three when the run's row is read and locked
        first. The statements go through a :class:`~paybill.guard.wire.Wire` (libpq's pipeline,
        one write per batch), not psycopg's pipeline, which writes and polls once per statement.
        Any exception rolls the whole transaction back, as ``conn.transaction()`` would; the
        callbacks in ``committed`` run once the commit succeeded.
        """
        with self.pool.connection() as conn:
            found = self._databases.get(id(conn))
            if found is None or found[0].conn is not conn:
                found = self._databases[id(conn)] = (
                    GuardedDatabase(conn, self.catalog, verify=False, nested=True), Wire(conn))
            db, wire = found
            tx = _Transaction(conn, db, wire)
            wire.open()
            db.wire = wire
            try:
                wire.queue(_BEGIN, prepare=False)
                try:
                    yield tx
                except BaseException:
                    _abandon(conn, wire)
                    raise
                wire.queue(_COMMIT, prepare=False)
                try:
                    wire.sync()  # the write-back's version conflict or a deferred constraint: no commit
                except psycopg.Error:
                    _abandon(conn, wire)
                    raise
            finally:
                db.wire = None
                wire.close()
            for done in tx.committed:
                done()

    # -- calls ----------------------------------------------------------------------------------

    def call(self, name: str, arguments: Any) -> Outcome:
        """Validate ``arguments`` against the tool's schema and perform the call; never raises."""
        tool = self.tools.get(name) if isinstance(name, str) else None
        if tool is None:
            return _invalid(f"unknown tool {str(name)[:80]!r}")
        arguments = {} if arguments is None else arguments
        problem = _schema_problem(self._validators[name], arguments)
        if problem is not None:
            return _invalid(problem)
        try:
            try:
                return self._handlers[tool.kind](tool, arguments, False)
            except state.Conflict:
                # Another writer came between this process's last write of the run and this call:
                # nothing was committed; the call is done again from the locked row.
                return self._handlers[tool.kind](tool, arguments, True)
        except PoolTimeout:
            log.warning("no database connection within %.1f s", self.config.pool_timeout)
            return Outcome("error", {"error": "unavailable", "message": "the server is busy; retry later"})
        except Exception:  # an internal error: logged here, never sent to the client
            log.exception("tool %s failed", name)
            return INTERNAL

    def _continue(self, stored: state.StoredRun) -> Run | ShadowRun:
        """The stored run, continued; with a shadow, mirrored by the candidate (which only logs)."""
        run = Run.restore(self.guard, stored.id, stored.tenant, stored.workflow, stored.state)
        return run if self.shadow is None else ShadowRun(self.shadow, run)

    def _start(self, tool: ToolDef, args: dict[str, Any], fresh: bool) -> Outcome:
        run_id = f"run-{secrets.token_hex(16)}"
        starter = self.guard if self.shadow is None else self.shadow
        try:
            run = starter.start(tenant=args["tenant"], workflow=args["workflow"], run_id=run_id)
        except GuardUsageError as exc:
            return _invalid(str(exc))
        snapshot = run.snapshot()
        expires = snapshot["started"] + self.config.run_ttl_seconds
        with self.pool.connection() as conn:
            version = state.insert(conn, run_id, agent=self.guard.agent, tenant=run.tenant, workflow=run.workflow,
                                   revision=self.guard.revision, state=snapshot, expires_at=expires)
        self.runs.put(state.StoredRun(run_id, self.guard.agent, run.tenant, run.workflow, snapshot, {}, expires,
                                      version))
        return Outcome("allowed", {"run_id": run_id, "tenant": run.tenant, "workflow": run.workflow,
                                   "step": run.step, "expires_in_seconds": self.config.run_ttl_seconds})

    @contextmanager
    def _locked(self, args: dict[str, Any], fresh: bool
                ) -> Iterator[tuple[Run | ShadowRun | Outcome, state.StoredRun | None, GuardedDatabase]]:
        """The run of ``args['run_id']``, continued from its snapshot; stored back on exit.

        The snapshot is this process's own last write of the run when it has one (and not
        ``fresh``), else the row read under ``FOR UPDATE``; either way the write-back commits only
        over that same version of the row, else :class:`state.Conflict` (nothing committed).

        Yields an :class:`Outcome` instead of a run when it is refused (unknown, another agent's or
        tenant's, expired): the same message for "no such run" and "not yours", so a run id of
        another agent reveals nothing.
        """
        cached = None if fresh else self.runs.get(args["run_id"])
        try:
            with self._transaction() as tx:
                stored = cached or state.lock_on(tx.wire, args["run_id"])
                if stored is None or stored.agent != self.guard.agent or stored.tenant != args["tenant"]:
                    yield _denied(None, f"no run {args['run_id']!r} of this agent for tenant '{args['tenant']}'",
                                  violations=["run.unknown"]), None, tx.db
                    return
                if self.guard.clock() >= stored.expires_at:
                    yield _denied(None, f"run {stored.id!r} expired; start a new run",
                                  violations=["run.expired"]), None, tx.db
                    return
                run = self._continue(stored)
                yield run, stored, tx.db
                stored.state = run.snapshot()
                saved = state.save_on(tx.wire, stored)

                def remember() -> None:
                    stored.version = saved.rows(1)[0][0]
                    self.runs.put(stored)

                tx.committed.append(remember)
        except psycopg.Error as exc:
            self.runs.drop(args["run_id"])
            if cached is not None and state.is_conflict(exc):
                raise state.Conflict(args["run_id"]) from None
            raise

    def _advance(self, tool: ToolDef, args: dict[str, Any], fresh: bool) -> Outcome:
        with self._locked(args, fresh) as (run, stored, _):
            if isinstance(run, Outcome):
                return run
            assert stored is not None
            decision = run.advance(args["step"])
            if decision.allowed:
                stored.pending.pop(args["step"], None)
                return Outcome("allowed", {"run_id": run.id, "step": run.step, "reasons": list(decision.reasons)},
                               decision.reasons[0] if decision.reasons else "")
            if "workflow.approval-required" in decision.violations:
                stored.pending.setdefault(args["step"], "")
                return _denied(decision, f"step '{args['step']}' waits for a human approval",
                               pending_approval=True,
                               hint=APPROVAL_HINT.format(run=run.id, step=args["step"], agent=self.guard.agent))
            return _denied(decision, decision.summary())

    def _request_approval(self, tool: ToolDef, args: dict[str, Any], fresh: bool) -> Outcome:
        with self._locked(args, fresh) as (run, stored, _):
            if isinstance(run, Outcome):
                return run
            assert stored is not None
            spec = self.guard.workflows[run.workflow]["steps"].get(args["step"])
            if spec is None or not spec.get("requiresApproval"):
                return _invalid(f"step {args['step']!r} of workflow '{run.workflow}' does not require approval")
            stored.pending[args["step"]] = args.get("reason", "")
            hint = APPROVAL_HINT.format(run=run.id, step=args["step"], agent=self.guard.agent)
            return Outcome("allowed", {"run_id": run.id, "step": args["step"], "pending_approval": True,
                                       "hint": hint})

    def _data(self, tool: ToolDef, args: dict[str, Any], fresh: bool) -> Outcome:
        with self._locked(args, fresh) as (run, _, db):
            if isinstance(run, Outcome):
                return run
            if run.tenant not in self.catalog.tenants:
                # The guard speaks first (a deleted or out-of-scope tenant: its lifecycle reason).
                decision = run.check(tool.kind, tool.table, columns=_touched(tool.kind, args), rows=0)
                if not decision.allowed:
                    return _denied(decision, decision.summary())
                return _invalid(f"tenant '{run.tenant}' is not stored in database '{self.catalog.key}'")
            try:
                return self._perform(tool, args, run, db)
            except AccessDenied as exc:
                # a row cap or PostgreSQL refused after the guard allowed: their violation, not the guard's
                return _denied(exc.decision, str(exc), source=exc.source, violations=list(exc.violations))
            except (UsageError, SetupError) as exc:
                return _invalid(str(exc))
            except StatementFailed as exc:
                return Outcome("error", {"error": "statement", "sqlstate": exc.sqlstate,
                                         "message": "PostgreSQL rejected the statement (constraint, type or "
                                                    "timeout); nothing was changed"})

    def _perform(self, tool: ToolDef, args: dict[str, Any], run: Run | ShadowRun, db: GuardedDatabase) -> Outcome:
        table = tool.table
        if tool.kind == "read":
            result = db.read(run, table, args["columns"], where=_values(args.get("where")),
                             order_by=args.get("order_by", ()), limit=args.get("limit"))
            decision = result.decision
            data = {"columns": list(result.columns), "rows": result.dicts(), "count": len(result.rows)}
        elif tool.kind == "insert":
            written = db.insert(run, table, _values(args["values"]))
            decision, data = written.decision, {"rows": written.rows}
        elif tool.kind == "update":
            written = db.update(run, table, _values(args["set"]), where=_values(args["where"]),
                                limit=args.get("limit"))
            decision, data = written.decision, {"rows": written.rows}
        else:
            written = db.delete(run, table, where=_values(args["where"]), limit=args.get("limit"))
            decision, data = written.decision, {"rows": written.rows}
        return Outcome("allowed", {"run_id": run.id, "step": run.step, **data, "reasons": list(decision.reasons)},
                       decision.reasons[0] if decision.reasons else "")

    def _propose(self, tool: ToolDef, args: dict[str, Any], fresh: bool) -> Outcome:
        with self._locked(args, fresh) as (run, _, _db):
            if isinstance(run, Outcome):
                return run
            # A Tenant proposal names the tenant it changes: the guard judges that tenant, so a run of one
            # tenant cannot propose another's change (tenant.cross-tenant), as its data calls cannot.
            named = args["name"] if args["kind"] == "Tenant" else None
            decision = run.check("propose", args["kind"], columns=[args["field"]], tenant=named)
            if not decision.allowed:
                return _denied(decision, decision.summary())
        repo = self.config.spec_repo
        assert repo is not None
        target = f"{args['kind']}/{args['name']}:{args['field']}={orjson.dumps(args['value']).decode()}"
        command = [*self.config.paybill_command, "propose", "specs", "--as", self.guard.agent, "--set", target,
                   "-m", args["message"]]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PGPASSWORD", "PAYBILL_SERVE_TOKEN"))}
        try:
            done = subprocess.run(command, cwd=repo, capture_output=True, text=True, timeout=PROPOSE_TIMEOUT_SECONDS,
                                  env=env, check=False, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return Outcome("error", {"error": "propose", "message": "paybill propose timed out"})
        if done.returncode != 0:
            return _denied(decision, "paybill propose refused the change", violations=["propose.refused"],
                           output=(done.stdout + done.stderr)[-4000:])
        found = _BRANCH.search(done.stderr)
        return Outcome("allowed", {"run_id": args["run_id"], "branch": found.group(1) if found else "",
                                   "plan": done.stdout[-20000:], "reasons": list(decision.reasons)},
                       decision.reasons[0] if decision.reasons else "")


def _schema_problem(validator: Any, arguments: Any) -> str | None:
    """Why ``arguments`` do not fit the tool's input schema (the first error), or None."""
    try:
        if validator.is_valid(arguments):
            return None
        error = next(iter(validator.iter_errors(arguments)))
    except (ValueError, TypeError, OverflowError) as exc:  # not JSON-shaped (e.g. an integer beyond 64 bits)
        return f"arguments: {str(exc)[:300]}"
    where = "/".join(str(p) for p in error.instance_path) or "arguments"
    return f"{where}: {error.message[:300]}"


def _values(mapping: dict[str, Any] | None) -> dict[str, Any]:
    """JSON values as PostgreSQL parameters (psycopg sends strings untyped, so uuid, date and
    timestamptz columns take them as PostgreSQL parses them; jsonb values are wrapped)."""
    out: dict[str, Any] = {}
    for key, value in (mapping or {}).items():
        out[key] = Jsonb(value) if isinstance(value, (dict, list)) else value
    return out


def _touched(kind: str, args: dict[str, Any]) -> list[str]:
    if kind == "read":
        return [*args.get("columns", ()), *args.get("where", {}), *args.get("order_by", ())]
    if kind == "insert":
        return list(args.get("values", {}))
    if kind == "update":
        return list(args.get("set", {}))
    return []


def new_clock() -> Callable[[], float]:
    """Wall-clock seconds: run start times and rate windows are shared between replicas."""
    return time.time


__all__ = ["INTERNAL", "Outcome", "ServeConfig", "Service", "new_clock"]
