"""Shadow mode: decide every call with the enforcing bundle, and ask a candidate bundle the same.

Rolling out a policy change safely means knowing what it would change before it enforces anything.
:class:`ShadowGuard` wraps the enforcing :class:`~paybill.guard.Guard` and a candidate guard (the
next revision of the same agent's bundle). Every call a run makes is decided by the enforcing
bundle, and only that decision is returned; the candidate is asked the same question about the
same run state, and each disagreement is written to a JSON Lines log (:class:`ShadowLog`) with the
request, both decisions and their deciding policies. ``paybill guard shadow-report LOG`` summarises
the log (:mod:`paybill.guard.shadow_report`).

Why it can never weaken enforcement:

* the caller only ever receives the enforcing run's :class:`~paybill.guard.Decision` object, and
  the enforcing run's state changes only through its own calls;
* the candidate run is a mirror: before each call it is placed in the enforcing run's real state
  (step, counters, visits, approvals, call window), so a candidate that would have allowed what was
  denied, or denied what was allowed, never drifts into a different history;
* anything the candidate does wrong - a bundle refused at load (tampered, another agent, bad
  signature), a workflow it does not know, an exception while deciding - is caught, logged as
  ``candidate-error`` (or ``candidate-refused``) and switches the candidate off for that run (or
  for good); the enforcing decision is made regardless, and the candidate is asked *before* the
  enforcing call, so a failure cannot interrupt a call half way.

A :class:`ShadowRun` offers the same calls as :class:`~paybill.guard.Run` (``check``,
``check_many``, ``advance``, ``approve``, ``settle``) and its read-only state, so code written for
a :class:`~paybill.guard.Guard` (the database layer, ``paybill serve``) takes a :class:`ShadowGuard`
unchanged.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import orjson

from paybill.guard.bundle import BundleError
from paybill.guard.decision import Decision
from paybill.guard.files import FileRefused, open_regular
from paybill.guard.guard import Guard
from paybill.guard.log import LogError, bounded
from paybill.guard.run import Operation, Run
from paybill.guard.signing import PublicKeys

T = TypeVar("T")

SHADOW_FORMAT = "paybill.dev/shadow-log/v1"
WOULD_ALLOW = "would-allow"
"""The candidate allows a call the enforcing bundle denied (the rollout would widen access)."""
WOULD_DENY = "would-deny"
"""The candidate denies a call the enforcing bundle allowed (the rollout would break a workflow)."""
CANDIDATE_ERROR = "candidate-error"
"""The candidate failed on a call (unknown workflow, an exception); enforcement went on without it."""
CANDIDATE_REFUSED = "candidate-refused"
"""The candidate bundle was refused at load; the shadow is off, enforcement goes on."""
KINDS: tuple[str, ...] = (WOULD_ALLOW, WOULD_DENY, CANDIDATE_ERROR, CANDIDATE_REFUSED)


class ShadowLog:
    """The disagreement log: one JSON object per line (sorted keys), appended under a lock.

    Inputs are recorded :func:`bounded <paybill.guard.log.bounded>` like the decision log, so a
    hostile call cannot write a line the report cannot read. Opened as a regular file only.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self._fd = open_regular(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        except (FileRefused, OSError) as exc:
            raise LogError(f"cannot open the shadow log: {exc}") from None
        self._closed = False

    def append(self, record: dict[str, Any]) -> None:
        line = orjson.dumps(bounded({"format": SHADOW_FORMAT, **record}, strict=True),
                            option=orjson.OPT_SORT_KEYS) + b"\n"
        with self._lock:
            if self._closed:
                return
            data = memoryview(line)
            while data:
                data = data[os.write(self._fd, data):]

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                os.close(self._fd)

    def __enter__(self) -> ShadowLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _side(guard: Guard, decision: Decision) -> dict[str, Any]:
    return {"revision": guard.revision, **decision.to_dict()}


class ShadowGuard:
    """The enforcing guard plus a candidate asked the same questions (see the module docstring).

    ``candidate`` None means the shadow is off (a refused candidate): every call is still enforced.
    Attributes a caller of :class:`~paybill.guard.Guard` reads (``agent``, ``revision``, ``bundle``,
    ``workflows``, ``limits``, ``log``, ``clock``, ``engine``) are the enforcing guard's.
    """

    def __init__(self, guard: Guard, candidate: Guard | None, *, log: ShadowLog | str | Path) -> None:
        self.guard = guard
        self.shadow_log = log if isinstance(log, ShadowLog) else ShadowLog(log)
        self.candidate: Guard | None = None
        if candidate is not None and candidate.agent != guard.agent:
            self._refused("agent", f"the candidate bundle is for agent '{candidate.agent}', "
                                   f"not '{guard.agent}'")
        else:
            self.candidate = candidate

    @classmethod
    def load(cls, guard: Guard, candidate_path: str | Path, public_key: PublicKeys | None = None, *,
             log: ShadowLog | str | Path) -> ShadowGuard:
        """Shadow ``guard`` with the bundle at ``candidate_path``, verified exactly like an enforcing one.

        A candidate that is refused (hashes, signature, golden decisions, another agent) does not
        stop enforcement: the shadow is off and the refusal is the log's ``candidate-refused`` line.
        """
        shadow = cls(guard, None, log=log)
        try:
            candidate = Guard.load(candidate_path, public_key, clock=guard.clock, expect_agent=guard.agent)
        except BundleError as exc:
            shadow._refused(exc.reason, str(exc))
        except Exception as exc:  # any failure of the candidate must leave enforcement alone
            shadow._refused("error", f"{type(exc).__name__}: {exc}")
        else:
            shadow.candidate = candidate
        return shadow

    def _refused(self, reason: str, message: str) -> None:
        self.shadow_log.append({"kind": CANDIDATE_REFUSED, "agent": self.guard.agent,
                                "current": {"revision": self.guard.revision}, "reason": reason, "error": message})

    def __getattr__(self, name: str) -> Any:
        if name in {"agent", "revision", "bundle", "workflows", "limits", "log", "clock", "engine", "position",
                    "authorize_raw"}:
            return getattr(self.guard, name)
        raise AttributeError(name)

    def start(self, *, tenant: str, workflow: str, run_id: str | None = None) -> ShadowRun:
        """Start an enforcing run (exactly :meth:`Guard.start`) and its candidate mirror."""
        run = self.guard.start(tenant=tenant, workflow=workflow, run_id=run_id)
        return ShadowRun(self, run)

    def record(self, kind: str, run: Run, op: str, request: dict[str, Any], current: Decision | None,
               candidate: Decision | None, error: str = "", *, step: str | None = None) -> None:
        """Write one line about a call of ``run`` (``step``: where the call was made, if the run moved on)."""
        self._write(kind, {"run": run.id, "tenant": run.tenant, "workflow": run.workflow,
                           "step": run.step if step is None else step, "t": run._clock()},
                    op, request, current, candidate, error)

    def _write(self, kind: str, where: dict[str, Any], op: str, request: dict[str, Any], current: Decision | None,
               candidate: Decision | None, error: str = "") -> None:
        """Write one line (never raises: a full disk must not stop enforcement)."""
        cand_guard = self.candidate
        record: dict[str, Any] = {
            "kind": kind, "agent": self.guard.agent, **where, "op": op, "request": request,
            "current": _side(self.guard, current) if current is not None else {"revision": self.guard.revision},
        }
        if candidate is not None and cand_guard is not None:
            record["candidate"] = _side(cand_guard, candidate)
        elif cand_guard is not None:
            record["candidate"] = {"revision": cand_guard.revision}
        if error:
            record["error"] = error
        with contextlib.suppress(Exception):  # best effort: enforcement has decided already
            self.shadow_log.append(record)

    def evaluate(self, *, tenant: str, workflow: str, step: str, action: str, resource: str,
                 columns: tuple[str, ...] = (), rows: int = 0, resource_tenant: str | None = None) -> Decision:
        """:meth:`Guard.evaluate` (what-if, e.g. an AuthZEN question), shadowed like a run's calls.

        The enforcing guard's answer is returned (and its usage errors raised); the candidate's
        answer is only compared and logged (op ``evaluate``, run ``what-if``). The enforcing guard
        answers first: a question it refuses as malformed (an unknown step, workflow or tenant name;
        AuthZEN's ``input.invalid``) is the caller's error, so the candidate is not asked and no
        ``candidate-error`` line blames it. A what-if keeps no state, so the order cannot leave a
        call half done.
        """
        options = {"tenant": tenant, "workflow": workflow, "step": step, "action": action, "resource": resource,
                   "columns": columns, "rows": rows, "resource_tenant": resource_tenant}
        candidate: Decision | None = None
        request = {"action": action, "resource": resource, "columns": list(columns), "rows": rows,
                   "tenant": resource_tenant or tenant}
        where = {"run": "what-if", "tenant": tenant, "workflow": workflow, "step": step, "t": self.guard.clock()}
        decision = self.guard.evaluate(**options)  # type: ignore[arg-type]
        if self.candidate is not None:
            try:
                candidate = self.candidate.evaluate(**options)  # type: ignore[arg-type]
            except Exception as exc:
                self._write(CANDIDATE_ERROR, where, "evaluate", request, decision, None,
                            f"{type(exc).__name__}: {exc}")
        if candidate is not None and candidate.allowed != decision.allowed:
            self._write(WOULD_ALLOW if candidate.allowed else WOULD_DENY, where, "evaluate", request, decision,
                        candidate)
        return decision

    def close(self) -> None:
        self.shadow_log.close()


class ShadowRun:
    """An enforcing :class:`~paybill.guard.Run` with a candidate mirror; returns enforcing decisions only."""

    def __init__(self, shadow: ShadowGuard, run: Run) -> None:
        self.shadow = shadow
        self.run = run
        self.mirror: Run | None = None
        if shadow.candidate is not None:
            try:
                self.mirror = Run(shadow.candidate, run.id, run.tenant, run.workflow, step=run.step, record=False)
            except Exception as exc:  # e.g. the candidate does not run this workflow
                shadow.record(CANDIDATE_ERROR, run, "start", {"tenant": run.tenant, "workflow": run.workflow},
                              None, None, f"{type(exc).__name__}: {exc}")

    # Read-only state of the enforcing run (what the database layer and servers read).
    def __getattr__(self, name: str) -> Any:
        return getattr(self.run, name)

    def _sync(self) -> Run | None:
        """Place the mirror in the enforcing run's real state (what the candidate is asked about)."""
        mirror, run = self.mirror, self.run
        if mirror is None:
            return None
        mirror.steps = run.steps
        mirror.visits = dict(run.visits)
        mirror.approvals = dict(run.approvals)
        mirror.rows_read, mirror.rows_written, mirror.budget_spent = run.rows_read, run.rows_written, run.budget_spent
        mirror._calls = deque(run._calls)
        mirror._started = run._started
        if mirror.step != run.step:
            mirror._place(run.step)
        return mirror

    def _ask(self, op: str, request: dict[str, Any], call: Callable[[Run], T]) -> T | None:
        """The candidate's decision, or None after logging why it could not give one."""
        try:
            mirror = self._sync()
            return None if mirror is None else call(mirror)
        except Exception as exc:
            self.shadow.record(CANDIDATE_ERROR, self.run, op, request, None, None, f"{type(exc).__name__}: {exc}")
            self.mirror = None
            return None

    def _compare(self, op: str, request: dict[str, Any], step: str, current: Decision,
                 candidate: Decision | None) -> None:
        if candidate is None or candidate.allowed == current.allowed:
            return
        kind = WOULD_ALLOW if candidate.allowed else WOULD_DENY
        self.shadow.record(kind, self.run, op, request, current, candidate, step=step)

    def check(self, action: str, resource: str, *, columns: Iterable[str] = (), rows: int = 0,
              tenant: str | None = None) -> Decision:
        columns = list(columns) if not isinstance(columns, str | bytes) else columns
        request = {"action": action, "resource": resource, "columns": columns, "rows": rows,
                   "tenant": tenant or self.run.tenant}
        step = self.run.step
        candidate = self._ask("check", request, lambda m: m.check(action, resource, columns=columns, rows=rows,
                                                                  tenant=tenant))
        decision = self.run.check(action, resource, columns=columns, rows=rows, tenant=tenant)
        self._compare("check", request, step, decision, candidate)
        return decision

    def check_many(self, operations: Sequence[Operation]) -> list[Decision]:
        operations = list(operations)
        step = self.run.step
        candidates = self._ask("check_many", {"operations": len(operations)}, lambda m: m.check_many(operations))
        decisions = self.run.check_many(operations)
        for i, decision in enumerate(decisions):
            action, resource, options = operations[i]
            request = {"action": action, "resource": resource, "columns": list(options.get("columns") or ()),
                       "rows": options.get("rows", 0), "tenant": options.get("tenant") or self.run.tenant}
            self._compare("check", request, step, decision, candidates[i] if candidates else None)
        return decisions

    def advance(self, step: str) -> Decision:
        left = self.run.step
        candidate = self._ask("advance", {"step": step}, lambda m: m.advance(step))
        decision = self.run.advance(step)
        self._compare("advance", {"step": step}, left, decision, candidate)
        return decision

    def approve(self, step: str, *, by: str) -> Decision:
        at = self.run.step
        candidate = self._ask("approve", {"step": step, "by": by}, lambda m: m.approve(step, by=by))
        decision = self.run.approve(step, by=by)
        self._compare("approve", {"step": step, "by": by}, at, decision, candidate)
        return decision

    def settle(self, decision: Decision, used: int) -> None:
        """Settle on the enforcing run only (the mirror copies its counters before the next call)."""
        self.run.settle(decision, used)

    @property
    def finished(self) -> bool:
        return self.run.finished

    def counters(self, now: float | None = None) -> dict[str, int]:
        return self.run.counters(now)

