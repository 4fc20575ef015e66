"""``tests.json``: golden decisions derived from the spec, not from the generated policies.

Expectations come straight from the spec's meaning (this tenant is in scope, this step names that
action, these columns are granted, this many rows exceed that limit), so a policy generator bug
shows up as a failing golden at compile time. Cases, for every step that acts:

* allowed: the step's action with all granted columns, for the first tenant in scope;
* denied: another tenant's data (cross-tenant), the same action in a step that does not name it
  (out of step), a column the ACL does not grant, one row over the row limit;

and once per agent: a tenant outside the scope, a request missing a counter (refused by the
schema), the reserved ``tenant_id`` column, the rate, wall-time and step limits; per workflow:
every transition, entering an approval step unapproved, a loop step past ``maxVisits``, and a
jump that skips steps; per lifecycle state found in the scope (suspended, deleted...): every
acting step for one tenant in that state, and a deleted tenant's first transition. Each case is a
full Cedar request plus its run entity.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from paybill.contract.bundle import ADVANCE, DATA_ACTIONS, RESERVED_COLUMN, WRITE_ACTIONS
from paybill.contract.requests import counters as full_counters
from paybill.contract.requests import operation_context, request, run_entity, transition_context
from paybill.emit.bundles.facts import AgentFacts, Grant, WorkflowFacts
from paybill.emit.bundles.policies import DELETED_RULE, LIFECYCLE_RULE, policy_id
from paybill.models.workflow import LIFECYCLE_ORDER

OUTSIDER = "outside_scope"
"""A tenant name no spec can use (names have no underscore), for out-of-scope cases."""


@dataclass(frozen=True)
class Case:
    name: str
    tenant: str
    workflow: str
    step: str
    action: str
    resource: str
    context: dict[str, Any]
    allowed: bool
    reasons: tuple[str, ...]


def _limit(facts: AgentFacts, key: str) -> str:
    return policy_id(facts.origin("spec", "limits", key), f"limits.{key}")


def limit_hits(facts: AgentFacts, action: str, rows: int, counters: dict[str, int]) -> list[str]:
    """Ids of the limit policies a request with these numbers trips, by the spec's definition."""
    limits, hits = facts.limits, []
    if action == ADVANCE and counters["steps"] >= limits.max_steps:
        hits.append(_limit(facts, "maxSteps"))
    if counters["elapsedMillis"] > limits.max_wall_time_seconds * 1000:
        hits.append(_limit(facts, "maxWallTimeSeconds"))
    if counters["callsLastMinute"] >= limits.max_calls_per_minute:
        hits.append(_limit(facts, "maxCallsPerMinute"))
    if action == "read" and rows > limits.max_rows_read - counters["rowsRead"]:
        hits.append(_limit(facts, "maxRowsRead"))
    if action in WRITE_ACTIONS and rows > limits.max_rows_written - counters["rowsWritten"]:
        hits.append(_limit(facts, "maxRowsWritten"))
    if action != ADVANCE and max(1, rows) > limits.budget_units - counters["budgetSpent"]:
        hits.append(_limit(facts, "budgetUnits"))
    return hits


class _Builder:
    def __init__(self, facts: AgentFacts) -> None:
        self.facts = facts
        self.cases: list[Case] = []
        tenants = list(facts.tenants)
        self.state = {name: document.model.spec.lifecycle for name, document in facts.tenants.items()}
        # The home tenant is an active one where there is one, so the per-step cases show what a
        # step allows in ordinary use; other states get their own cases (see _lifecycle_cases).
        active = [t for t in tenants if self.state[t] == "active"]
        live = [t for t in tenants if self.state[t] != "deleted"]
        self.home: str | None = next(iter(active or live or tenants), None)
        self.other = next((t for t in tenants if t != self.home), OUTSIDER)
        self.scope_id = policy_id(facts.origin("spec", "tenantScope"), "tenantScope")
        self.isolation_id = policy_id(facts.origin("spec", "tenantScope"), "tenantIsolation")
        self.lifecycle_id = policy_id(facts.origin("spec", "workflows"), LIFECYCLE_RULE)
        self.deleted_id = policy_id(facts.origin("spec", "workflows"), DELETED_RULE)

    def lifecycle_hits(self, workflow: WorkflowFacts, step: str, tenant: str, action: str) -> list[str]:
        """Ids of the lifecycle forbids a run of ``tenant`` at ``step`` trips, by the spec's definition:
        a check needs the tenant's state among the step's states, a transition a tenant not deleted.
        A tenant outside the scope has no state (the scope forbid refuses it)."""
        state = self.state.get(tenant)
        if state is None:
            return []
        if action == ADVANCE:
            return [self.deleted_id] if state == "deleted" else []
        spec = workflow.graph.spec
        acts_in = spec.step_lifecycles(spec.steps[workflow.graph.step_index[step]])
        return [] if state in acts_in else [self.lifecycle_id]

    def op(self, name: str, workflow: WorkflowFacts, step: str, allowed_by: str | None, action: str, resource: str,
           *, columns: tuple[str, ...] = (), rows: int = 1, tenant: str | None = None, run_tenant: str | None = None,
           counters: dict[str, int] | None = None, forbids: tuple[str, ...] = ()) -> None:
        """A check case: allowed by the permit ``allowed_by`` unless a forbid or a limit applies."""
        values = full_counters({"steps": 1, **(counters or {})})
        runs_for = run_tenant or str(self.home)
        context = operation_context(action, tenant or runs_for, columns, rows, values)
        reasons = tuple(sorted({*forbids, *limit_hits(self.facts, action, rows, values),
                                *self.lifecycle_hits(workflow, step, runs_for, action)}))
        allowed = allowed_by is not None and not reasons
        self.cases.append(Case(name, runs_for, workflow.name, step, action, resource, context,
                               allowed, (str(allowed_by),) if allowed else reasons))

    def transition(self, name: str, workflow: WorkflowFacts, source: str, target: str, *, visits: int = 0,
                   approved: bool = True, steps: int = 1, allowed_by: str | None = None,
                   forbids: tuple[str, ...] = (), tenant: str | None = None) -> None:
        values = full_counters({"steps": steps})
        context = transition_context(visits, approved, values)
        runs_for = tenant or str(self.home)
        hits = (*limit_hits(self.facts, ADVANCE, 0, values), *self.lifecycle_hits(workflow, source, runs_for, ADVANCE))
        reasons = tuple(sorted({*forbids, *hits}))
        allowed = allowed_by is not None and not reasons
        self.cases.append(Case(name, runs_for, workflow.name, source, ADVANCE, target, context, allowed,
                               (allowed_by,) if allowed and allowed_by else reasons))


def _pii_id(facts: AgentFacts, table: str, column: str) -> str | None:
    """The id of the personal-data forbid that covers ``table.column``, if there is one.

    By the spec's rule: the column is personal data and no data grant of the agent names it.
    """
    spec = facts.tables[table][1]
    granted = {c for g in facts.grants if g.resource == table and g.action in DATA_ACTIONS for c in g.columns}
    if not any(c.name == column and c.pii for c in spec.columns) or column in granted:
        return None
    return policy_id(facts.table_origin(table), f"tables.{table}.pii")


def _step_cases(b: _Builder, workflow: WorkflowFacts, grants: dict[tuple[str, str], Grant]) -> None:
    facts = b.facts
    for step in workflow.steps:
        if step.action == "approve":
            permit = policy_id(workflow.origin(step.id, "id"), f"steps.{step.id}.approve")
            b.op(f"allow approve in {workflow.name}/{step.id}", workflow, step.id, permit, "approve", workflow.name)
            elsewhere = next((s for s in workflow.steps if s.action != "approve"), None)
            if elsewhere is not None:
                b.op(f"deny approve out of step in {workflow.name}/{elsewhere.id}", workflow, elsewhere.id, None,
                     "approve", workflow.name)
        if step.action not in (*DATA_ACTIONS, "propose"):
            continue
        resource = str(step.resource)
        grant = grants.get((step.action, resource))
        if grant is None or not grant.steps:
            continue
        label = f"{workflow.name}/{step.id}"
        permit = policy_id(grant.origin, grant.rule)
        b.op(f"allow {step.action} {resource} in {label}", workflow, step.id, permit, step.action, resource,
             columns=grant.columns)
        if step.action == "propose" or _tenant_scoped(facts, resource):
            b.op(f"deny {step.action} {resource} of tenant {b.other} in a run for {b.home}", workflow, step.id, permit,
                 step.action, resource, columns=grant.columns, tenant=b.other, forbids=(b.isolation_id,))
        elsewhere = next((s for s in workflow.steps if (s.action, s.resource) != (step.action, step.resource)), None)
        if elsewhere is not None:
            b.op(f"deny {step.action} {resource} out of step in {workflow.name}/{elsewhere.id}", workflow, elsewhere.id,
                 None, step.action, resource, columns=grant.columns)
        if step.action in ("read", "insert", "update") and resource in facts.tables:
            extra = next((c for c in facts.tables[resource][1].columns if c.name not in grant.columns), None)
            if extra is not None:
                pii = _pii_id(facts, resource, extra.name)
                b.op(f"deny {step.action} ungranted column {resource}.{extra.name} in {label}", workflow, step.id,
                     None, step.action, resource, columns=(*grant.columns, extra.name),
                     forbids=(pii,) if pii else ())
        if step.action == "read":
            over = facts.limits.max_rows_read + 1
            b.op(f"deny read of {over} rows of {resource} in {label}", workflow, step.id, permit, "read", resource,
                 columns=grant.columns, rows=over)
        elif step.action in WRITE_ACTIONS:
            over = facts.limits.max_rows_written + 1
            b.op(f"deny {step.action} of {over} rows of {resource} in {label}", workflow, step.id, permit,
                 step.action, resource, columns=grant.columns, rows=over)


def _agent_cases(b: _Builder, first: tuple[WorkflowFacts, str, Grant] | None) -> None:
    facts = b.facts
    if first is None:
        return
    workflow, step, grant = first
    limits = facts.limits
    permit = policy_id(grant.origin, grant.rule)
    b.op(f"deny {grant.action} {grant.resource} for tenant {OUTSIDER} outside the scope", workflow, step, permit,
         grant.action, grant.resource, columns=grant.columns, run_tenant=OUTSIDER, tenant=OUTSIDER,
         forbids=(b.scope_id,))
    b.op(f"deny {grant.action} {grant.resource} at the call-rate limit", workflow, step, permit, grant.action,
         grant.resource, columns=grant.columns, counters={"callsLastMinute": limits.max_calls_per_minute})
    b.op(f"deny {grant.action} {grant.resource} past the wall-time limit", workflow, step, permit, grant.action,
         grant.resource, columns=grant.columns, counters={"elapsedMillis": limits.max_wall_time_seconds * 1000 + 1})
    b.op(f"deny {grant.action} {grant.resource} with the budget spent", workflow, step, permit, grant.action,
         grant.resource, columns=grant.columns, counters={"budgetSpent": limits.budget_units})
    if grant.action in DATA_ACTIONS and _tenant_scoped(facts, grant.resource):
        reserved = policy_id(facts.table_origin(grant.resource), f"tables.{grant.resource}.{RESERVED_COLUMN}")
        b.op(f"deny {grant.action} {grant.resource}.{RESERVED_COLUMN} (reserved)", workflow, step, None,
             grant.action, grant.resource, columns=(RESERVED_COLUMN,), forbids=(reserved,))


def _lifecycle_cases(b: _Builder, grants: dict[tuple[str, str], Grant]) -> None:
    """For one tenant in each lifecycle state of the scope other than the home tenant's: every
    acting step (allowed exactly when the step acts in that state) and, for a deleted tenant, the
    first transition of each workflow (a deleted tenant's run may not move)."""
    seen = {b.state[str(b.home)]}
    for state in LIFECYCLE_ORDER:
        tenant = next((t for t, s in b.state.items() if s == state), None)
        if tenant is None or state in seen:
            continue
        for workflow in b.facts.workflows:
            spec = workflow.graph.spec
            for step in workflow.steps:
                grant = grants.get((step.action, str(step.resource)))
                if step.action not in (*DATA_ACTIONS, "propose") or grant is None or not grant.steps:
                    continue
                verdict = "allow" if state in spec.step_lifecycles(step) else "deny"
                b.op(f"{verdict} {step.action} {step.resource} in {workflow.name}/{step.id} for {state} tenant "
                     f"{tenant}", workflow, step.id, policy_id(grant.origin, grant.rule), step.action,
                     str(step.resource), columns=grant.columns, run_tenant=tenant)
            start = workflow.graph.step_index.get(spec.start)
            if state == "deleted" and start is not None and spec.steps[start].next:
                target = spec.steps[start].next[0]
                b.transition(f"deny {workflow.name}: {spec.start} -> {target} for deleted tenant {tenant}", workflow,
                             spec.start, target, tenant=tenant,
                             allowed_by=policy_id(workflow.origin(target, "id"), f"steps.{target}.enter"))


def _tenant_scoped(facts: AgentFacts, table: str) -> bool:
    return table in facts.tables and facts.tables[table][1].scope == "tenant"


def _transition_cases(b: _Builder, workflow: WorkflowFacts) -> None:
    facts = b.facts
    spec = workflow.graph.spec
    by_id = {s.id: s for s in spec.steps}
    for step in spec.steps:
        for target in step.next:
            entered = by_id[target]
            origin = workflow.origin(target, "id")
            enter_id = policy_id(origin, f"steps.{target}.enter")
            b.transition(f"allow {workflow.name}: {step.id} -> {target}", workflow, step.id, target,
                         allowed_by=enter_id)
            if entered.requires_approval:
                b.transition(f"deny {workflow.name}: {step.id} -> {target} without approval", workflow, step.id,
                             target, approved=False, allowed_by=enter_id,
                             forbids=(policy_id(origin, f"steps.{target}.requiresApproval"),))
            if entered.max_visits is not None:
                b.transition(f"deny {workflow.name}: {step.id} -> {target} after {entered.max_visits} visits",
                             workflow, step.id, target, visits=entered.max_visits, allowed_by=enter_id,
                             forbids=(policy_id(origin, f"steps.{target}.maxVisits"),))
    start = by_id.get(spec.start)
    if start is not None:
        skip = next((s.id for s in spec.steps if s.id != start.id and s.id not in start.next), None)
        if skip is not None:
            b.transition(f"deny {workflow.name}: {start.id} -> {skip} (skips steps)", workflow, start.id, skip)
        if start.next:
            b.transition(f"deny {workflow.name}: {start.id} -> {start.next[0]} past the step limit", workflow,
                         start.id, start.next[0], steps=facts.limits.max_steps, forbids=(_limit(facts, "maxSteps"),))


def build_cases(facts: AgentFacts) -> list[Case]:
    b = _Builder(facts)
    if b.home is None:
        return []
    grants = {(g.action, g.resource): g for g in facts.grants}
    first = None
    for workflow in facts.workflows:
        _step_cases(b, workflow, grants)
        _transition_cases(b, workflow)
        if first is None:
            first = next(((workflow, s.step.id, g) for g in facts.grants for s in g.steps
                          if s.workflow == workflow.name), None)
    _agent_cases(b, first)
    _lifecycle_cases(b, grants)
    return b.cases


def to_tests(facts: AgentFacts, cases: list[Case]) -> list[dict[str, Any]]:
    """Cases as ``tests.json`` entries (one run entity each), plus the missing-counter case."""
    tests: list[dict[str, Any]] = []
    for n, case in enumerate(cases, start=1):
        run_id = f"golden-{n}"
        tests.append({
            "name": case.name,
            "entities": [run_entity(run_id, facts.name, case.tenant, case.workflow, case.step)],
            "request": request(run_id, case.action, case.resource, case.workflow, case.context),
            "expect": {"allowed": case.allowed, "reasons": list(case.reasons)},
        })
    allowed = next((t for t in tests if t["expect"]["allowed"] and t["request"]["action"]["id"] != ADVANCE), None)
    if allowed is not None:
        broken = {**allowed["request"], "context": {**allowed["request"]["context"]}}
        del broken["context"]["budgetSpent"]
        run_id = f"golden-{len(tests) + 1}"
        entity = {**allowed["entities"][0], "uid": {**allowed["entities"][0]["uid"], "id": run_id}}
        broken["principal"] = {**broken["principal"], "id": run_id}
        tests.append({"name": f"deny {allowed['name'].removeprefix('allow ')} with the budgetSpent counter missing",
                      "entities": [entity], "request": broken, "expect": {"allowed": False, "reasons": []}})
    return tests
