"""One workflow run of an agent: workflow position, counters, approvals, and its Cedar requests.

Cedar decides every call; this class only keeps the books Cedar reads (the current step, visits,
rows read and written, budget spent, calls in the last minute, elapsed time) and labels a denial
that no forbid policy explains (``workflow.step-action``, ``workflow.order``, ``acl.column-not-
granted``...). It never allows what Cedar denies; it denies on its own only input it cannot turn
into a well-typed request (``input.invalid``).

Stable API (the SQL layer builds on it)::

    run = guard.start(tenant="acme-corp", workflow="dunning")
    d = run.check("read", "invoices", columns=["id", "status"], rows=25)   # -> Decision
    run.advance("load-customer")                                           # -> Decision
    run.approve("close-tickets", by="oncall@example.com")                  # -> Decision
    run.check_many([("read", "invoices", {"columns": [...], "rows": 3}), ...])  # one Cedar call

``check(action, resource, *, columns=(), rows=0, tenant=None)``: ``action`` is read, insert,
update, delete, propose or approve; ``resource`` a table (a spec kind for propose, ignored for
approve); ``columns`` the table columns the operation reads or writes (spec field paths for
propose); ``rows`` the rows it touches (the caller's count or estimate; it feeds the row and
budget limits); ``tenant`` the tenant whose data it is, the run's tenant by default. Allowed
operations spend their rows and ``max(1, rows)`` budget units; every call, allowed or not, counts
towards calls per minute. A run is used by one caller at a time (not thread-safe).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import orjson

from paybill.contract.bundle import (
    ACTION,
    ACTION_COUNTERS,
    ADVANCE,
    CALL_WINDOW_SECONDS,
    CHECK_ACTIONS,
    RESOURCE_TYPES,
    STEP,
    V_APPROVAL,
    V_COLUMN,
    V_FINISHED,
    V_INPUT,
    V_LIFECYCLE,
    V_NOT_GRANTED,
    V_ORDER,
    V_STEP_ACTION,
    WORKFLOW,
    WRITE_ACTIONS,
    step_id,
)
from paybill.guard.decision import Decision
from paybill.guard.engine import Verdict

if TYPE_CHECKING:
    from paybill.guard.guard import Guard

MAX_ROWS = 2**53
_IDENT = re.compile(r"[a-z][a-z0-9_]{0,62}")
_KIND = re.compile(r"[A-Z][A-Za-z]{0,39}")
_FIELD = re.compile(r"spec(\.[a-zA-Z][a-zA-Z0-9]*)+")
_NAME = re.compile(r"[a-z](?:-?[a-z0-9]){0,39}")
_STEP = re.compile(r"[a-z][a-z0-9-]{0,39}")
_ACTION_UIDS = {a: {"type": ACTION, "id": a} for a in (*CHECK_ACTIONS, ADVANCE)}
_WINDOW = float(CALL_WINDOW_SECONDS)

Operation = tuple[str, str, dict[str, Any]]
"""(action, resource, keyword arguments of :meth:`Run.check`) for :meth:`Run.check_many`."""


_VALID_INPUTS_MAX = 4096
_valid_inputs: set[tuple[Any, ...]] = set()
"""(action, resource, columns, tenant) combinations already found well-formed: callers repeat the
same few, and the grammar checks are pure, so they run once per combination (bounded)."""


def _bad_input(action: Any, resource: Any, columns: tuple[Any, ...], rows: Any, tenant: Any) -> str | None:
    """Why these arguments cannot become a request, or None. Kept cheap: it runs on every call."""
    if type(rows) is not int or not 0 <= rows <= MAX_ROWS:
        return f"rows must be an integer from 0 to {MAX_ROWS}"
    key = (action, resource, columns, tenant)
    try:
        if key in _valid_inputs:
            return None
    except TypeError:  # an unhashable argument is not a name
        return f"action, resource and tenant must be names, not {type(action).__name__}/{type(resource).__name__}"
    problem = _grammar_problem(action, resource, columns, tenant)
    if problem is None:
        if len(_valid_inputs) >= _VALID_INPUTS_MAX:
            _valid_inputs.clear()
        _valid_inputs.add(key)
    return problem


def _grammar_problem(action: Any, resource: Any, columns: tuple[Any, ...], tenant: Any) -> str | None:
    if action not in RESOURCE_TYPES or action == ADVANCE:
        return f"unknown action {action!r}"
    if not isinstance(tenant, str) or not _NAME.fullmatch(tenant):
        return f"invalid tenant {tenant!r}"
    if action == "propose":
        if not isinstance(resource, str) or not _KIND.fullmatch(resource):
            return f"invalid spec kind {resource!r}"
        pattern = _FIELD
    else:
        if not isinstance(resource, str) or (action != "approve" and not _IDENT.fullmatch(resource)):
            return f"invalid table {resource!r}"
        pattern = _IDENT
    for column in columns:
        if not isinstance(column, str) or not pattern.fullmatch(column):
            return f"invalid column {column!r}"
    return None


def _column_tuple(columns: Any) -> tuple[tuple[Any, ...], str | None]:
    """Columns as a sorted, de-duplicated tuple, or why they cannot be (never raises on odd input)."""
    if not columns:
        return (), None
    if type(columns) not in (list, tuple):
        if isinstance(columns, str | bytes) or not isinstance(columns, Iterable):
            return (), "columns must be a list of names"
        columns = tuple(columns)
    for column in columns:
        if type(column) is not str:
            shown = [str(c) for c in columns]
            return tuple(shown), f"invalid column in {shown!r}"
    return tuple(sorted(set(columns))), None


class SettleError(ValueError):
    """:meth:`Run.settle` was called with something it cannot settle (nothing was changed)."""


class Run:
    """A workflow run; create with :meth:`paybill.guard.Guard.start`.

    Public state (read it; the SQL layer settles an allowed check to what the operation really
    touched, see :meth:`settle`): ``id``, ``tenant``, ``workflow``, ``step``,
    ``steps`` (entered so far), ``visits`` (per step), ``approvals`` (pending, per step),
    ``rows_read``, ``rows_written``, ``budget_spent``, :attr:`finished`, :meth:`counters`.
    """

    def __init__(self, guard: Guard, run_id: str, tenant: str, workflow: str, *, step: str | None = None,
                 record: bool = True) -> None:
        self.guard = guard
        self.id = run_id
        self.tenant = tenant
        self.workflow = workflow
        self._spec = guard.workflows[workflow]
        self._terminal = frozenset(self._spec["terminal"])
        self._record = record and guard.log is not None
        self._clock = guard.clock
        self._decider = guard.decider
        self._started = self._clock()
        self._calls: deque[float] = deque()
        self.rows_read = self.rows_written = self.budget_spent = 0
        self.steps = 0
        self.visits: dict[str, int] = {}
        self.approvals: dict[str, str] = {}
        self._charges: dict[int, tuple[str, int]] = {}
        """Open charges of allowed checks that spent rows: charge id -> (action, rows charged)."""
        self._charge_seq = 0
        self.step = ""
        self._enter(step or self._spec["start"])

    # -- state ---------------------------------------------------------------------------------

    def _enter(self, step: str) -> None:
        self.steps += 1
        self.visits[step] = self.visits.get(step, 0) + 1
        self.approvals.pop(step, None)
        self._place(step)

    def _place(self, step: str) -> None:
        """Stand at ``step`` without counting a visit (entering counts; a shadow run only mirrors)."""
        self.step = step
        declared = self._spec["steps"].get(step, {})
        self._declared = (declared.get("action"), declared.get("resource"))
        self._principal, self._entities = self.guard.position(self.tenant, self.workflow, step)

    @property
    def finished(self) -> bool:
        """True once the run is in a terminal step: nothing more is allowed."""
        return self.step in self._terminal

    def counters(self, now: float | None = None) -> dict[str, int]:
        """The counters Cedar would see for a call made at ``now`` (without recording a call)."""
        now = self._clock() if now is None else now
        calls = sum(1 for t in self._calls if t > now - _WINDOW)
        return self._counters(now, calls, self.rows_read, self.rows_written, self.budget_spent)

    def _tick(self) -> tuple[float, int]:
        """Record a call now; returns (now, calls in the window before this one)."""
        now = self._clock()
        calls = self._calls
        horizon = now - _WINDOW
        while calls and calls[0] <= horizon:
            calls.popleft()
        before = len(calls)
        calls.append(now)
        return now, before

    # -- persistence ---------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The run's books as plain JSON data, for a store shared by several processes.

        Everything :meth:`restore` needs to continue the run exactly: position, visits, approvals,
        counters, start time and the calls of the current rate window (only the newest
        ``maxCallsPerMinute + 1`` of them: more cannot change a decision, and a flood of calls must
        not grow the record). Open charges are not included: a caller settles an operation before it
        stores the run.
        """
        keep = self.guard.limits.get("maxCallsPerMinute", 0) + 1
        horizon = self._clock() - _WINDOW
        calls = [t for t in self._calls if t > horizon][-keep:]
        return {"step": self.step, "steps": self.steps, "visits": dict(self.visits),
                "approvals": dict(self.approvals), "rowsRead": self.rows_read, "rowsWritten": self.rows_written,
                "budgetSpent": self.budget_spent, "started": self._started, "calls": calls}

    @classmethod
    def restore(cls, guard: Guard, run_id: str, tenant: str, workflow: str, state: dict[str, Any]) -> Run:
        """A run continued from :meth:`snapshot` data (nothing is logged: the run already started).

        Raises ``ValueError`` for data that is not a snapshot of a run of this bundle (an unknown
        step, negative counters): a damaged record never becomes a run with reset counters.
        """
        try:
            step = state["step"]
            if workflow not in guard.workflows or step not in guard.workflows[workflow]["steps"]:
                raise ValueError(f"step {step!r} is not a step of workflow {workflow!r}")
            run = cls(guard, run_id, tenant, workflow, step=step, record=False)
            counters = (state["steps"], state["rowsRead"], state["rowsWritten"], state["budgetSpent"])
            visits = {str(k): v for k, v in state["visits"].items()}
            approvals = {str(k): str(v) for k, v in state["approvals"].items()}
            calls = [float(t) for t in state["calls"]]
            started = float(state["started"])
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"not a run snapshot ({type(exc).__name__}: {exc})") from None
        if any(type(v) is not int or v < 0 for v in (*counters, *visits.values())):
            raise ValueError("run snapshot counters must be non-negative integers")
        run.steps, run.rows_read, run.rows_written, run.budget_spent = counters
        run.visits, run.approvals = visits, approvals
        run._calls = deque(sorted(calls))
        run._started = started
        run._record = guard.log is not None
        return run

    # -- operations ----------------------------------------------------------------------------

    def check(self, action: str, resource: str, *, columns: Iterable[str] = (), rows: int = 0,
              tenant: str | None = None) -> Decision:
        """Ask whether the agent may perform ``action`` on ``resource`` now (see the module docstring)."""
        now, before = self._tick()
        columns, problem = _column_tuple(columns)
        tenant = tenant or self.tenant
        problem = problem or _bad_input(action, resource, columns, rows, tenant)
        counters = self._counters(now, before, self.rows_read, self.rows_written, self.budget_spent)
        if problem:
            verdict = None
        else:
            resource_type = RESOURCE_TYPES[action]
            counters["rows"] = rows  # what the dynamic policies read, beside the counters
            verdict = self._decider.decide(
                (self.tenant, self.workflow, self.step, tenant, columns), action, resource_type,
                self.workflow if resource_type == WORKFLOW else resource, counters,
                lambda: self._request(action, resource, tenant, columns, rows, counters), self._entities)
        return self._conclude(action, resource, columns, rows, tenant, now, counters, problem, verdict)

    def _counters(self, now: float, calls_before: int, rows_read: int, rows_written: int,
                  budget: int) -> dict[str, int]:
        return {"steps": self.steps, "rowsRead": rows_read, "rowsWritten": rows_written,
                "callsLastMinute": calls_before, "elapsedMillis": int((now - self._started) * 1000),
                "budgetSpent": budget}

    def check_many(self, operations: Sequence[Operation]) -> list[Decision]:
        """Decide several operations in one Cedar call, as if made one after the other.

        Counters for each operation assume every earlier one in the batch was allowed, so a denial
        early in the batch can only make later decisions stricter, never looser. Only allowed
        operations spend rows and budget.
        """
        prepared = []
        requests = []
        rows_read, rows_written, budget = self.rows_read, self.rows_written, self.budget_spent
        for action, resource, options in operations:
            now, before = self._tick()
            columns, problem = _column_tuple(options.get("columns"))
            rows = options.get("rows", 0)
            tenant = options.get("tenant") or self.tenant
            problem = problem or _bad_input(action, resource, columns, rows, tenant)
            counters = self._counters(now, before, rows_read, rows_written, budget)
            prepared.append((action, resource, columns, rows, tenant, now, counters, problem))
            if problem is None:
                requests.append(self._request(action, resource, tenant, columns, rows, counters))
                if action == "read":
                    rows_read += rows
                elif action in WRITE_ACTIONS:
                    rows_written += rows
                budget += max(1, rows)
        verdicts = iter(self.guard.engine.authorize(requests, self._entities) if requests else ())
        return [self._conclude(*item, None if item[-1] else next(verdicts)) for item in prepared]

    def _request(self, action: str, resource: str, tenant: str, columns: Sequence[str], rows: int,
                 counters: dict[str, int]) -> dict[str, Any]:
        resource_type = RESOURCE_TYPES[action]
        context: dict[str, Any] = {"tenant": tenant, "columns": columns, "rows": rows}
        for name in ACTION_COUNTERS[action]:
            context[name] = counters[name]
        return {
            "principal": self._principal,
            "action": _ACTION_UIDS[action],
            "resource": {"type": resource_type, "id": self.workflow if resource_type == WORKFLOW else resource},
            "context": orjson.dumps(context).decode(),
        }

    def _conclude(self, action: str, resource: str, columns: tuple[str, ...], rows: int, tenant: str, now: float,
                  counters: dict[str, int], problem: str | None, verdict: Verdict | None) -> Decision:
        if verdict is None:
            decision = Decision(False, "check", str(action), str(resource), str(tenant), self.step,
                                violations=(V_INPUT,), errors=(problem or "",), revision=self.guard.revision,
                                run=self.id)
        else:
            denied: tuple[str, ...] = ()
            violations = verdict.violations
            if not verdict.allowed and not violations:
                violations, denied = self._explain(action, resource, tenant, columns, rows, counters)
            charge = 0
            if verdict.allowed:
                if action == "read":
                    self.rows_read += rows
                elif action in WRITE_ACTIONS:
                    self.rows_written += rows
                self.budget_spent += max(1, rows)
                if rows > 0:
                    self._charge_seq += 1
                    charge = self._charge_seq
                    self._charges[charge] = (action, rows)
            decision = Decision(verdict.allowed, "check", action, resource, tenant, self.step, verdict.reasons,
                                violations, denied, verdict.errors, self.guard.revision, self.id,
                                explanation=self._lifecycle_refusal(violations), charge=charge)
        if self._record:
            self._log("check", now, {"action": action, "resource": resource, "columns": list(columns), "rows": rows,
                                     "tenant": tenant}, decision)
        return decision

    def _explain(self, action: str, resource: str, tenant: str, columns: tuple[str, ...], rows: int,
                 counters: dict[str, int]) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Name a denial no forbid explains. Labels only: Cedar already denied."""
        if self.finished:
            return (V_FINISHED,), ()
        declared_action, declared_resource = self._declared
        if action != declared_action or (action != "approve" and resource != declared_resource):
            return (V_STEP_ACTION,), ()
        if columns and action != "delete":
            probes = [(), *((c,) for c in columns)]
            verdicts = self.guard.engine.authorize(
                [self._request(action, resource, tenant, p, rows, counters) for p in probes], self._entities)
            if verdicts[0].allowed:
                denied = tuple(c for c, v in zip(columns, verdicts[1:], strict=True) if not v.allowed)
                return (V_COLUMN,), denied
        return (V_NOT_GRANTED,), ()

    def _lifecycle_refusal(self, violations: tuple[str, ...]) -> str:
        """The tenant's state and the states this step acts in, for a ``tenant.lifecycle`` denial."""
        if V_LIFECYCLE not in violations:
            return ""
        state = self.guard.bundle.tenant_lifecycles.get(self.tenant, "unknown")
        acts_in = self._spec["steps"].get(self.step, {}).get("lifecycles") or []
        return (f"tenant '{self.tenant}' is {state}; workflow '{self.workflow}' step '{self.step}' acts on "
                f"{', '.join(acts_in) or 'no state'}")

    def advance(self, step: str) -> Decision:
        """Move to ``step``; Cedar checks the transition, visits, approval and limits."""
        now, before = self._tick()
        left = self.step
        if not isinstance(step, str) or not _STEP.fullmatch(step):
            decision = Decision(False, ADVANCE, ADVANCE, str(step), self.tenant, left, violations=(V_INPUT,),
                                revision=self.guard.revision, run=self.id)
        else:
            counters = self._counters(now, before, self.rows_read, self.rows_written, self.budget_spent)
            context = {"visits": self.visits.get(step, 0), "approved": step in self.approvals,
                       **{name: counters[name] for name in ACTION_COUNTERS[ADVANCE]}}
            target = step_id(self.workflow, step)
            counters.update(visits=context["visits"], approved=context["approved"])
            verdict = self._decider.decide(
                (self.tenant, self.workflow, self.step, None, ()), ADVANCE, STEP, target, counters,
                lambda: {"principal": self._principal, "action": _ACTION_UIDS[ADVANCE],
                         "resource": {"type": STEP, "id": target}, "context": orjson.dumps(context).decode()},
                self._entities)
            if not verdict.allowed and not context["approved"] and V_APPROVAL in verdict.violations:
                verdict = self._past_approval(verdict, target, context)
            violations = verdict.violations
            if not verdict.allowed and not violations:
                violations = (V_FINISHED,) if self.finished else (V_ORDER,)
            decision = Decision(verdict.allowed, ADVANCE, ADVANCE, step, self.tenant, left, verdict.reasons,
                                violations, (), verdict.errors, self.guard.revision, self.id,
                                self._lifecycle_refusal(violations))
            if verdict.allowed:
                self._enter(step)
        if self._record:
            self._log(ADVANCE, now, {"step": step}, decision)
        return decision

    def _past_approval(self, verdict: Verdict, target: str, context: dict[str, Any]) -> Verdict:
        """An advance into a step that needs approval, denied: is the approval all that is missing?

        The approval forbid holds whatever else is wrong, so the first verdict cannot tell "waits for a
        human" from "could never go there" (a finished run, no transition from this step, a tenant out
        of scope): asked again as if approved, Cedar says. When something else denies, that verdict is
        the answer - a human is never asked for an approval the run could not use. Labels only: both
        verdicts deny."""
        approved = self.guard.engine.authorize(
            [{"principal": self._principal, "action": _ACTION_UIDS[ADVANCE], "resource": {"type": STEP, "id": target},
              "context": orjson.dumps({**context, "approved": True}).decode()}], self._entities)[0]
        return verdict if approved.allowed else approved

    def approve(self, step: str, *, by: str) -> Decision:
        """Record a human's approval to enter ``step`` (single use: consumed when the step is entered).

        Refused (``input.invalid``) for a step that does not require approval, an empty approver, or
        an approver who is the agent itself.
        """
        spec = self._spec["steps"].get(step) if isinstance(step, str) else None
        approver = by.strip() if isinstance(by, str) else ""
        problem = None
        if spec is None or not spec.get("requiresApproval"):
            problem = f"step {step!r} of workflow '{self.workflow}' does not require approval"
        elif not approver or len(approver) > 256 or approver in (self.guard.agent, self.id):
            problem = "an approval needs a human approver (not empty, not the agent itself)"
        if problem is None:
            self.approvals[step] = approver
        decision = Decision(problem is None, "approve", "approve", str(step), self.tenant, self.step,
                            violations=() if problem is None else (V_INPUT,),
                            errors=() if problem is None else (problem,), revision=self.guard.revision, run=self.id)
        if self._record:
            self._log("approve", self._clock(), {"step": step, "by": approver}, decision)
        return decision

    def settle(self, decision: Decision, used: int) -> None:
        """Charge what an allowed check really touched instead of the rows it was allowed.

        For callers that ask before they know the row count (a read capped at N rows that returned
        fewer): gives back the rows and budget the check charged and the operation did not use.
        Settling is tied to the decision, once: a decision of another run, a denied one, one already
        settled, or a ``used`` that is not a non-negative integer raises :class:`SettleError` and
        changes nothing, so no caller can lower the counters below what its decisions charged and it
        reported as used. ``used`` above what was charged charges the difference (the counters
        always end at what was really used).
        """
        if type(used) is not int or used < 0:
            raise SettleError(f"used must be a non-negative integer, not {used!r}")
        if not isinstance(decision, Decision) or not decision.allowed or decision.op != "check" \
                or decision.run != self.id:
            raise SettleError("only an allowed check of this run can be settled")
        charged = 0
        if decision.charge:
            charge = self._charges.pop(decision.charge, None)
            if charge is None or charge[0] != decision.action:
                raise SettleError(f"decision charge {decision.charge} was already settled (or is not this run's)")
            charged = charge[1]
        self._spend(decision.action, used - charged, max(1, used) - max(1, charged))

    def _spend(self, action: str, rows: int, budget: int) -> None:
        if action == "read":
            self.rows_read += rows
        elif action in WRITE_ACTIONS:
            self.rows_written += rows
        self.budget_spent += budget

    def _log(self, op: str, now: float, data: dict[str, Any], decision: Decision) -> None:
        log = self.guard.log
        if log is not None:
            log.append({"revision": self.guard.revision, "agent": self.guard.agent, "run": self.id, "op": op,
                        "t": now, "input": data, "decision": decision.to_dict()})
