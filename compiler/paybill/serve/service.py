"""The server's core, independent of MCP: a tool call in, a guarded outcome out.

Every call that touches a run continues it from its stored state (this process's own last write of
it, or the row read under its lock: :mod:`paybill.serve.state`), asks the guard
(:class:`paybill.guard.Run`) and, for data tools, runs one catalog-built statement through
:class:`paybill.guard.db.GuardedDatabase` in a savepoint as the agent's role for the run's tenant,
then stores the run's new books - all in one transaction, which commits only if the run's row is
still the version the call started from and (when the service follows its database) the ledger
still records the revision served. The server adds no power of its own: it only refuses more (an
unknown, expired or foreign run; arguments outside the tool's schema; a database migrated to a
revision it cannot serve).

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
import math
import os
import re
import secrets
import subprocess
import sys
import threading
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

from paybill.contract.bundle import V_APPROVAL
from paybill.dbops.ledger import recorded_revisions
from paybill.guard import Decision, Guard, GuardUsageError, Run
from paybill.guard.db import AccessDenied, DatabasePlan, GuardedDatabase, SetupError, StatementFailed, UsageError
from paybill.guard.shadow import ShadowGuard, ShadowRun
from paybill.guard.wire import Wire
from paybill.serve import live, state
from paybill.serve.tools import ToolDef, build_tools

log = logging.getLogger("paybill.serve")

APPROVAL_HINT = ("a human approves with `paybill guard approve {run} {step} --by EMAIL "
                 "--bundle generated/bundles/{agent} --database-url URL` (the served bundle and database); "
                 "then call advance_step again")
"""A command a person can run as given (``--bundle`` and ``--database-url`` are required), naming no
server path or connection detail: the bundle by its place in the spec repository."""
PROPOSE_TIMEOUT_SECONDS = 300
PROPOSALS_AT_ONCE = 1
"""``paybill propose`` subprocesses one server runs at a time. A proposal compiles every spec and runs
git (seconds, up to :data:`PROPOSE_TIMEOUT_SECONDS`) on one of the call threads, of which there are
only as many as pooled connections: proposals queued behind each other held every thread, and the
agent's reads and advances waited behind them. One more is refused at once (``unavailable``,
``busy``: retry), charging the run nothing."""
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


RELOAD_RETRY_SECONDS = 1.0
"""While what is on disk cannot be served at the database's revision, calls are refused with the reason and
the folders are read again at most this often."""
MAX_RELOADS_PER_CALL = 3
"""Migrates that may land during one call before it is answered ``unavailable`` (each one reloads)."""


class Moved(Exception):
    """The ledger's revision is not the served one: nothing of the call was committed
    (:data:`paybill.serve.state.MOVED`)."""


is_moved = state.is_moved


@dataclass(frozen=True)
class Watch:
    """How a service follows its database: reload ``origin`` when ``database``'s ledger moves."""

    origin: live.Origin
    database: str
    """The catalog's database folder name, as the ledger records it."""


@dataclass
class Served:
    """One generation of what a service serves: a guard and a catalog of one compile, the tools built from
    them, and the database revision they belong to (what the ledger must hold; None: not watched).

    A call reads :attr:`Service.served` once and uses that generation to its end, so a reload in
    between never mixes the policies of one compile with the tables of another."""

    guard: Guard
    catalog: DatabasePlan
    shadow: ShadowGuard | None
    revision: str | None
    tools: dict[str, ToolDef]
    validators: dict[str, Any]
    databases: dict[int, GuardedDatabase] = field(default_factory=dict)
    """Per pooled connection: its guarded database (statements rendered for this catalog). The
    connection's :class:`Wire` is the service's: it knows which statements the connection prepared."""


@dataclass
class _Transaction:
    conn: psycopg.Connection[Any]
    db: GuardedDatabase
    wire: Wire
    committed: list[Callable[[], None]] = field(default_factory=list)
    watched: bool = False
    """The ledger check is queued already (with the run's write-back): none more before the commit."""


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


def _unavailable(message: str, **extra: Any) -> Outcome:
    return Outcome("error", {"error": "unavailable", "message": message, **extra})


class Service:
    """One agent's guarded tools over one database.

    **Following the database.** With a :class:`Watch` (``paybill serve`` on a database ``paybill db
    migrate`` manages), every transaction checks, right before its ``COMMIT`` and in the same round
    trip, that the ledger's latest revision of the database is still the served one. A migrate commits
    its row-level security, grants and ledger row together, so a check that still finds the served
    revision *after* the agent's statement ran proves that statement saw the database the served bundle
    and catalog describe. When it finds another revision, nothing of the call is committed (the check
    fails the transaction): the service loads bundle and catalog again from their folders (verified as
    at start, :func:`paybill.serve.live.load`), requires the new catalog to be the ledger's revision,
    and does the call again with them - so an agent whose tenant was just suspended is refused with
    the reason (``tenant.lifecycle``), not answered with the empty rows row-level security now leaves
    it. When the folders cannot be served at that revision (not compiled or deployed yet, refused,
    of another compile), every call is refused ``unavailable`` with the reason until they can: the
    folders are read again at most every :data:`RELOAD_RETRY_SECONDS`. Never stale permissions.
    """

    def __init__(self, guard: Guard, catalog: DatabasePlan, conninfo: str, config: ServeConfig | None = None, *,
                 shadow: ShadowGuard | None = None) -> None:
        """``shadow``: a :class:`ShadowGuard` around ``guard`` (the same enforcing guard) whose
        candidate is asked every question too; None serves without a shadow. The service serves
        ``guard`` and ``catalog`` as given until :meth:`follow` is called."""
        if shadow is not None and shadow.guard is not guard:
            raise ValueError("the shadow must wrap the enforcing guard the service serves")
        self.config = config or ServeConfig()
        self.watch: Watch | None = None
        self.served = self._serve(guard, catalog, shadow, None)
        self._reload_lock = threading.Lock()
        self._refusal: tuple[float, Outcome] | None = None
        """(monotonic time of the next attempt, the answer until then) while nothing can be served."""
        self._wires: dict[int, Wire] = {}
        self.pool = ConnectionPool(conninfo, min_size=self.config.pool_min, max_size=self.config.pool_max,
                                   kwargs={"autocommit": True}, open=False, timeout=self.config.pool_timeout,
                                   check=None)
        self._proposing = threading.BoundedSemaphore(PROPOSALS_AT_ONCE)
        self.runs = state.RunCache(self.config.run_cache if guard.log is None and shadow is None else 0)
        self._handlers: dict[str, Callable[[Served, ToolDef, dict[str, Any], bool], Outcome]] = {
            "start": self._start, "advance": self._advance, "approval": self._request_approval,
            "propose": self._propose, **dict.fromkeys(("read", "insert", "update", "delete"), self._data)}

    def _serve(self, guard: Guard, catalog: DatabasePlan, shadow: ShadowGuard | None, revision: str | None
               ) -> Served:
        tools = {t.name: t for t in build_tools(guard, catalog, propose=self.config.spec_repo is not None)}
        # Compiled once per tool (Rust, jsonschema-rs): about a microsecond per call instead of tens.
        # Formats are annotations only, as in the Python validator: PostgreSQL parses uuid and
        # timestamp values (a malformed one is a ``statement`` error with its SQLSTATE).
        validators = {name: jsonschema_rs.validator_for(t.input_schema, validate_formats=False)
                      for name, t in tools.items()}
        return Served(guard, catalog, shadow, revision, tools, validators)

    def follow(self, watch: Watch, revision: str) -> None:
        """From now on, follow the database's migrates (see the class): ``revision`` is the served
        catalog's, which the ledger records last for ``watch.database`` (``paybill serve`` checked it
        at start, PB1312). Call before serving."""
        self.watch = watch
        self.served.revision = revision

    @property
    def guard(self) -> Guard:
        return self.served.guard

    @property
    def catalog(self) -> DatabasePlan:
        return self.served.catalog

    @property
    def shadow(self) -> ShadowGuard | None:
        return self.served.shadow

    @property
    def tools(self) -> dict[str, ToolDef]:
        return self.served.tools

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
    def _transaction(self, served: Served) -> Iterator[_Transaction]:
        """A pooled connection in pipeline mode, inside one transaction that commits on exit.

        Why pipeline mode: a call's statements (begin, savepoint, setup, the agent's statement, the
        savepoint's end, the run's new state, commit) are the same as without it, but they travel
        in two round trips instead of eight: the first batch goes when a result is needed (the rows
        read), the rest with the commit and one sync; three when the run's row is read and locked
        first. The statements go through a :class:`~paybill.guard.wire.Wire` (libpq's pipeline,
        one write per batch), not psycopg's pipeline, which writes and polls once per statement.
        Any exception rolls the whole transaction back, as ``conn.transaction()`` would; the
        callbacks in ``committed`` run once the commit succeeded. With a watch, the ledger check
        goes with the commit (:class:`Moved` when it fails: nothing committed).
        """
        with self.pool.connection() as conn:
            wire = self._wires.get(id(conn))
            if wire is None or wire.conn is not conn:
                wire = self._wires[id(conn)] = Wire(conn)
            db = served.databases.get(id(conn))
            if db is None or db.conn is not conn:
                db = served.databases[id(conn)] = GuardedDatabase(conn, served.catalog, verify=False, nested=True)
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
                if not tx.watched:
                    self._queue_watch(served, wire)
                wire.queue(_COMMIT, prepare=False)
                try:
                    wire.sync()  # the write-back's version conflict, a deferred constraint, a migrate: no commit
                except psycopg.Error as exc:
                    _abandon(conn, wire)
                    if is_moved(exc):
                        raise Moved(str(exc.diag.message_primary)) from None
                    raise
            finally:
                db.wire = None
                wire.close()
            for done in tx.committed:
                done()

    def _watched(self, served: Served) -> tuple[str, str] | None:
        """(database, revision) the ledger must hold for a call on ``served``; None when not followed."""
        if self.watch is not None and served.revision is not None:
            return self.watch.database, served.revision
        return None

    def _queue_watch(self, served: Served, wire: Wire) -> None:
        watched = self._watched(served)
        if watched is not None:
            wire.queue(state.WATCH_BYTES, (state.MOVED, *watched))

    # -- following the database -----------------------------------------------------------------

    def _serving(self) -> Served | Outcome:
        """What to serve this call with: the current generation, or the refusal while there is none."""
        if self._refusal is None:
            return self.served
        return self._reload(self.served)

    def _reload(self, seen: Served) -> Served | Outcome:
        """After a call on ``seen`` met another revision in the ledger: the generation to do it again
        with, or the refusal that answers it (one thread loads; the others wait and use its result)."""
        with self._reload_lock:
            if self._refusal is None and self.served is not seen:
                return self.served  # another call reloaded meanwhile
            if self._refusal is not None and time.monotonic() < self._refusal[0]:
                return self._refusal[1]
            found = self._load()
            if isinstance(found, Outcome):
                if found.data.get("reason") != "busy":
                    self._refusal = (time.monotonic() + RELOAD_RETRY_SECONDS, found)
                return found
            if found is not self.served:
                old = self.served
                self.served = found
                log.warning("paybill serve: %s was migrated to revision %s: now serving bundle revision %s "
                            "(was %s)", self.watch.database if self.watch else "?", (found.revision or "")[:12],
                            found.guard.revision[:12], old.guard.revision[:12])
            elif self._refusal is not None:
                log.warning("paybill serve: serving again: the database is back at revision %s",
                            (found.revision or "")[:12])
            self._refusal = None
            return found

    def _load(self) -> Served | Outcome:
        """Load what the database's ledger now says must be served (under the reload lock)."""
        watch = self.watch
        current = self.served
        assert watch is not None
        try:
            with self.pool.connection() as conn:
                recorded = recorded_revisions(conn)
        except PoolTimeout:
            return _unavailable("the server is busy; retry later", reason="busy")
        except psycopg.Error as exc:
            log.warning("cannot read the ledger: %s: %s", type(exc).__name__, exc)
            return self._refused("the server cannot read which revision the database is migrated to")
        latest = recorded.latest.get(watch.database) if recorded.state == "read" else None
        if latest is None:
            return self._refused(f"the ledger no longer records a revision of {watch.database} the server can read")
        if latest == current.revision:
            return current  # back at the served revision (a migrate of the previous folder, say)
        guard = current.guard
        try:
            loaded, catalog = live.load(watch.origin, clock=guard.clock, log=guard.log, cache=guard.cache,
                                        ledger=latest)
        except live.Refused as exc:
            return self._refused(f"{exc.message} ({exc.code})", latest)
        if catalog.database != watch.database:  # its revision is the ledger's: live.load checked it
            return self._refused(f"--catalog {watch.origin.catalog.as_posix()} holds revision "
                                 f"{catalog.revision[:12]} of {catalog.database}, not {watch.database}", latest)
        shadow = None
        if current.shadow is not None:
            shadow = ShadowGuard(loaded, current.shadow.candidate, log=current.shadow.shadow_log)
        return self._serve(loaded, catalog.plan, shadow, latest)

    def _refused(self, why: str, revision: str | None = None) -> Outcome:
        """The answer to every call while nothing can be served; ``why`` (which may name the server's
        files) goes to the server's log only, as internal errors do."""
        database = self.watch.database if self.watch else "the database"
        moved = f"{database} was migrated to revision {revision[:12]}" if revision else f"{database} changed"
        log.error("paybill serve: refusing every call: %s and the server cannot serve it: %s", moved, why)
        return _unavailable(f"{moved} and this server cannot serve that revision yet (the server's log says "
                            "why); every call is refused until it can (checked again every "
                            f"{RELOAD_RETRY_SECONDS:g} s)", reason="revision")

    # -- calls ----------------------------------------------------------------------------------

    def call(self, name: str, arguments: Any) -> Outcome:
        """Validate ``arguments`` against the tool's schema and perform the call; never raises."""
        served = self._serving()
        for _ in range(MAX_RELOADS_PER_CALL):
            if isinstance(served, Outcome):
                return served
            try:
                return self._call(served, name, arguments)
            except Moved:
                # A migrate committed since this generation was loaded: nothing of the call was
                # committed; it is done again with what the database now runs, or refused.
                try:
                    served = self._reload(served)
                except Exception:  # a bug while loading: refused like any internal error
                    log.exception("reloading after a migrate failed")
                    return INTERNAL
        return _unavailable("the database was migrated several times during this call; retry", reason="revision")

    def _call(self, served: Served, name: str, arguments: Any) -> Outcome:
        tool = served.tools.get(name) if isinstance(name, str) else None
        if tool is None:
            return _invalid(f"unknown tool {str(name)[:80]!r}")
        arguments = {} if arguments is None else arguments
        problem = _schema_problem(served.validators[name], arguments)
        if problem is not None:
            return _invalid(problem)
        try:
            try:
                return self._handlers[tool.kind](served, tool, arguments, False)
            except state.Conflict:
                # Another writer came between this process's last write of the run and this call:
                # nothing was committed; the call is done again from the locked row.
                return self._handlers[tool.kind](served, tool, arguments, True)
        except Moved:
            raise
        except PoolTimeout:
            log.warning("no database connection within %.1f s", self.config.pool_timeout)
            return _unavailable("the server is busy; retry later")
        except Exception:  # an internal error: logged here, never sent to the client
            log.exception("tool %s failed", name)
            return INTERNAL

    def _continue(self, served: Served, stored: state.StoredRun) -> Run | ShadowRun:
        """The stored run, continued; with a shadow, mirrored by the candidate (which only logs)."""
        run = Run.restore(served.guard, stored.id, stored.tenant, stored.workflow, stored.state)
        return run if served.shadow is None else ShadowRun(served.shadow, run)

    def _start(self, served: Served, tool: ToolDef, args: dict[str, Any], fresh: bool) -> Outcome:
        run_id = f"run-{secrets.token_hex(16)}"
        guard = served.guard
        starter = guard if served.shadow is None else served.shadow
        try:
            run = starter.start(tenant=args["tenant"], workflow=args["workflow"], run_id=run_id)
        except GuardUsageError as exc:
            return _invalid(str(exc))
        snapshot = run.snapshot()
        expires = snapshot["started"] + self.config.run_ttl_seconds
        stored = state.StoredRun(run_id, guard.agent, run.tenant, run.workflow, snapshot, {}, expires)
        with self._transaction(served) as tx:
            inserted = state.insert_on(tx.wire, run_id, agent=guard.agent, tenant=run.tenant, workflow=run.workflow,
                                       revision=guard.revision, state=snapshot, expires_at=expires)

            def remember() -> None:
                stored.version = str(inserted.rows(1)[0][0])
                self.runs.put(stored)

            tx.committed.append(remember)
        return Outcome("allowed", {"run_id": run_id, "tenant": run.tenant, "workflow": run.workflow,
                                   "step": run.step, "expires_in_seconds": self.config.run_ttl_seconds})

    @contextmanager
    def _locked(self, served: Served, args: dict[str, Any], fresh: bool
                ) -> Iterator[tuple[Run | ShadowRun | Outcome, state.StoredRun | None, GuardedDatabase]]:
        """The run of ``args['run_id']``, continued from its snapshot; stored back on exit.

        The snapshot is this process's own last write of the run when it has one (and not
        ``fresh``), else the row read under ``FOR UPDATE``; either way the write-back commits only
        over that same version of the row, else :class:`state.Conflict` (nothing committed).

        Yields an :class:`Outcome` instead of a run when it is refused (unknown, another agent's or
        tenant's, expired, or left at a step the served bundle no longer has): the same message for
        "no such run" and "not yours", so a run id of another agent reveals nothing.
        """
        cached = None if fresh else self.runs.get(args["run_id"])
        guard = served.guard
        try:
            with self._transaction(served) as tx:
                if cached is None and (guard.log is not None or served.shadow is not None):
                    # A decision that is logged is best made on the served revision: the ledger check
                    # rides along with the row's lock (same round trip); the one before the commit
                    # still decides whether the call may commit.
                    self._queue_watch(served, tx.wire)
                stored = cached or state.lock_on(tx.wire, args["run_id"])
                if stored is None or stored.agent != guard.agent or stored.tenant != args["tenant"]:
                    yield _denied(None, f"no run {args['run_id']!r} of this agent for tenant '{args['tenant']}'",
                                  violations=["run.unknown"]), None, tx.db
                    return
                if guard.clock() >= stored.expires_at:
                    yield _denied(None, f"run {stored.id!r} expired; start a new run",
                                  violations=["run.expired"]), None, tx.db
                    return
                try:
                    run = self._continue(served, stored)
                except ValueError as exc:
                    # The bundle was reloaded and no longer has the run's workflow or step.
                    yield _denied(None, f"run {stored.id!r} cannot continue under bundle revision "
                                        f"{guard.revision[:12]} ({exc}); start a new run",
                                  violations=["run.stale"]), None, tx.db
                    return
                yield run, stored, tx.db
                stored.state = run.snapshot()
                saved = state.save_on(tx.wire, stored, self._watched(served))
                tx.watched = True

                def remember() -> None:
                    stored.version = saved.rows(1)[0][0]
                    self.runs.put(stored)

                tx.committed.append(remember)
        except psycopg.Error as exc:
            self.runs.drop(args["run_id"])
            if is_moved(exc):  # the check that rode along with the lock
                raise Moved(str(exc.diag.message_primary)) from None
            if cached is not None and state.is_conflict(exc):
                raise state.Conflict(args["run_id"]) from None
            raise

    def _advance(self, served: Served, tool: ToolDef, args: dict[str, Any], fresh: bool) -> Outcome:
        with self._locked(served, args, fresh) as (run, stored, _):
            if isinstance(run, Outcome):
                return run
            assert stored is not None
            decision = run.advance(args["step"])
            if decision.allowed:
                stored.pending.pop(args["step"], None)
                return Outcome("allowed", {"run_id": run.id, "step": run.step, "reasons": list(decision.reasons)},
                               decision.reasons[0] if decision.reasons else "")
            if V_APPROVAL in decision.violations:
                stored.pending.setdefault(args["step"], "")
                return _denied(decision, f"step '{args['step']}' waits for a human approval",
                               pending_approval=True,
                               hint=APPROVAL_HINT.format(run=run.id, step=args["step"], agent=served.guard.agent))
            return _denied(decision, decision.summary())

    def _request_approval(self, served: Served, tool: ToolDef, args: dict[str, Any], fresh: bool) -> Outcome:
        with self._locked(served, args, fresh) as (run, stored, _):
            if isinstance(run, Outcome):
                return run
            assert stored is not None
            step = args["step"]
            spec = served.guard.workflows[run.workflow]["steps"].get(step)
            if spec is None or not spec.get("requiresApproval"):
                return _invalid(f"step {step!r} of workflow '{run.workflow}' does not require approval")
            if step in run.approvals:
                return Outcome("allowed", {"run_id": run.id, "step": step, "pending_approval": False,
                                           "approved_by": run.approvals[step],
                                           "hint": "already approved: call advance_step"})
            # A human is asked only for a step the run could enter next but for the approval. The guard
            # decides, as for advance_step: the step is not approved, so the advance cannot be allowed,
            # and it is refused for the approval alone exactly when nothing else stands in the way (a
            # finished run, no transition from this step, a tenant out of scope or in a refused state,
            # a limit). Like every call, it counts towards the run's calls per minute.
            position = run.advance(step)
            if position.allowed or set(position.violations) != {V_APPROVAL}:
                return _denied(position, f"no approval requested: {position.summary()}")
            stored.pending[step] = args.get("reason", "")
            hint = APPROVAL_HINT.format(run=run.id, step=step, agent=served.guard.agent)
            return Outcome("allowed", {"run_id": run.id, "step": step, "pending_approval": True, "hint": hint})

    def _data(self, served: Served, tool: ToolDef, args: dict[str, Any], fresh: bool) -> Outcome:
        with self._locked(served, args, fresh) as (run, _, db):
            if isinstance(run, Outcome):
                return run
            if run.tenant not in served.catalog.tenants:
                # The guard speaks first (a deleted or out-of-scope tenant: its lifecycle reason).
                decision = run.check(tool.kind, tool.table, columns=_touched(tool.kind, args), rows=0)
                if not decision.allowed:
                    return _denied(decision, decision.summary())
                return _invalid(f"tenant '{run.tenant}' is not stored in database '{served.catalog.key}'")
            try:
                return self._perform(tool, args, run, db)
            except AccessDenied as exc:
                # a row cap or PostgreSQL refused after the guard allowed: their violation, not the guard's
                return _denied(exc.decision, str(exc), source=exc.source, violations=list(exc.violations))
            except (UsageError, SetupError) as exc:
                return _invalid(str(exc))
            except StatementFailed as exc:
                return Outcome("error", {"error": "statement", "sqlstate": exc.sqlstate,
                                         "message": _statement_message(exc)})

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

    def _propose(self, served: Served, tool: ToolDef, args: dict[str, Any], fresh: bool) -> Outcome:
        if not self._proposing.acquire(blocking=False):
            return _unavailable("another proposal is being prepared (`paybill propose` runs one at a time); "
                                "retry in a few seconds", reason="busy")
        try:
            return self._propose_one(served, args, fresh)
        finally:
            self._proposing.release()

    def _propose_one(self, served: Served, args: dict[str, Any], fresh: bool) -> Outcome:
        with self._locked(served, args, fresh) as (run, _, _db):
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
        command = [*self.config.paybill_command, "propose", "specs", "--as", served.guard.agent, "--set", target,
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


def _statement_message(exc: StatementFailed) -> str:
    """What to tell the agent about a statement PostgreSQL rejected.

    Only the SQLSTATE in general (a constraint's or a timeout's message may name what the agent may
    not see), but for a data exception (class 22: a value that is not a uuid, a date, a number in
    range) PostgreSQL's own words: they quote the agent's value and name the type it must fit
    (``invalid input syntax for type uuid: "not-a-uuid"``), which a bare 22P02 does not."""
    if exc.sqlstate is not None and exc.sqlstate.startswith("22"):
        said = str(exc).removeprefix("statement failed: ")
        return f"PostgreSQL rejected a value: {said[:300]}; nothing was changed"
    return "PostgreSQL rejected the statement (constraint, type or timeout); nothing was changed"


def _schema_problem(validator: Any, arguments: Any) -> str | None:
    """Why ``arguments`` do not fit the tool's input schema (the first error), or None.

    Two kinds of value pass a JSON parser yet are no value PostgreSQL can take, and are named here
    with their path, in words an agent can act on: a string with a NUL character (PostgreSQL text
    cannot hold one: psycopg refuses to send it, which was an ``internal`` error), and ``NaN`` or
    ``Infinity`` (the SDK's parser accepts them; the schema validator reports them as ``null``, so
    a nullable column said "null is not of types null, string").
    """
    try:
        if validator.is_valid(arguments):
            return _unsendable(arguments)  # bounded by the schema: a few small values, strings capped
        error = next(iter(validator.iter_errors(arguments)))
    except (ValueError, TypeError, OverflowError) as exc:  # not JSON-shaped (e.g. an integer beyond 64 bits)
        return f"arguments: {str(exc)[:300]}"
    unsendable = _unsendable(arguments)  # NaN reads as null in the validator's message: say what it is
    if unsendable is not None:
        return unsendable
    where = "/".join(str(p) for p in error.instance_path) or "arguments"
    return f"{where}: {error.message[:300]}"


def _unsendable(arguments: Any) -> str | None:
    """The first string holding a NUL character or number that is not finite in ``arguments``, as
    ``path: why``; None when there is none. Iterative: the depth is the parser's, not Python's stack's."""
    pending: list[tuple[tuple[str, ...], Any]] = [((), arguments)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return (f"{'/'.join(path) or 'arguments'}: text cannot contain NUL (\\u0000) characters "
                        "(PostgreSQL cannot store them); remove them")
        elif isinstance(value, float):
            if not math.isfinite(value):
                return (f"{'/'.join(path) or 'arguments'}: {value!r} is not a JSON number (NaN and Infinity are "
                        "refused); send a finite number")
        elif isinstance(value, dict):
            for key, item in reversed(value.items()):
                if isinstance(key, str) and "\x00" in key:
                    return (f"{'/'.join(path) or 'arguments'}: a property name contains a NUL (\\u0000) "
                            "character")
                pending.append(((*path, str(key)[:80]), item))
        elif isinstance(value, list):
            pending.extend(((*path, str(i)), item) for i, item in reversed(list(enumerate(value))))
    return None


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
