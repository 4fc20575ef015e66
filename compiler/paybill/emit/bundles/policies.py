"""``policies.cedar``: one policy per grant, transition and rule, each with a stable ``@id``.

Policy ids are ``<spec path>#<rule>`` and name things, never list positions, so reordering a spec
does not rename its policies. Deny is Cedar's default; on top of it:

* permits: one per ACL grant, scoped to the agent's runs, the action, the resource, the workflow
  steps that name that action and resource (step scoping) and the granted columns or fields; one
  per step transition (``advance``) and per ``approve`` step;
* forbids (forbid wins), each with a ``@violation`` name the guard reports: tenant scope, tenant
  isolation (a run touches its own tenant's data only), tenant lifecycle (a step acts only on
  tenants in the states it declares; a deleted tenant's run may do nothing), every limit (``maxSteps`` on transitions:
  it bounds the steps a run enters); per table: personal-data columns the agent is not granted and
  the reserved ``tenant_id`` column; per step: ``maxVisits`` and ``requiresApproval``.

Forbids are scoped as narrowly as their meaning allows (``resource == Table::"t"`` rather than a
membership test in the condition) and membership is written as ``==`` chains rather than set
literals: both let the guard evaluate fewer, cheaper policies per request (see
:mod:`paybill.guard.slicing`).

Limit arithmetic is written so it cannot overflow Cedar's 64-bit integers: a negative counter or
row count is itself a violation, and limits are compared as ``rows > limit - used``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from paybill.contract.bundle import (
    ADVANCE,
    AGENT,
    CHECK_ACTIONS,
    DATA_ACTIONS,
    LIMIT_PREFIX,
    RESERVED_COLUMN,
    SPEC_KIND,
    STEP,
    TABLE,
    V_APPROVAL,
    V_CROSS_TENANT,
    V_LIFECYCLE,
    V_MAX_VISITS,
    V_OUT_OF_SCOPE,
    V_PII,
    V_RESERVED,
    WORKFLOW,
    WRITE_ACTIONS,
    step_id,
)
from paybill.emit.bundles import cedar_text as ct
from paybill.emit.bundles.facts import AgentFacts, Grant, Origin, WorkflowFacts

LIMIT_FIELDS: tuple[tuple[str, str], ...] = (
    ("maxSteps", "max_steps"), ("maxRowsRead", "max_rows_read"), ("maxRowsWritten", "max_rows_written"),
    ("maxWallTimeSeconds", "max_wall_time_seconds"), ("maxCallsPerMinute", "max_calls_per_minute"),
    ("budgetUnits", "budget_units"),
)
"""(spec key, model attribute) of every limit, in spec order."""


@dataclass(frozen=True)
class Policy:
    id: str
    effect: str
    principal: str
    action: str
    resource: str
    conditions: tuple[tuple[str, str], ...]
    """(``when`` or ``unless``, expression) pairs."""
    origin: Origin
    violation: str | None = None

    def render(self) -> str:
        lines = [f"@id({ct.cedar_string(self.id)})"]
        if self.violation:
            lines.append(f"@violation({ct.cedar_string(self.violation)})")
        lines.append(f"{self.effect} (\n  {self.principal},\n  {self.action},\n  {self.resource}\n)")
        for kind, expression in self.conditions:
            lines.append(f"{kind} {{\n  {expression}\n}}")
        return "\n".join(lines) + ";\n"


def policy_id(origin: Origin, rule: str) -> str:
    return f"{origin.path}#{rule}"


def _runs_of(agent: str) -> str:
    return f"principal in {ct.entity(AGENT, agent)}"


def _and(*parts: str) -> str:
    return " &&\n  ".join(parts)


def _contains_any(subject: str, items: list[str]) -> str:
    if len(set(items)) == 1:
        return f"{subject}.contains({ct.cedar_string(items[0])})"
    return f"{subject}.containsAny({ct.string_set(items)})"


def _is_one_of(subject: str, type_: str, ids: Iterable[str]) -> str:
    """``subject == A || subject == B``: cheaper for Cedar than building a set literal per request."""
    tests = [f"{subject} == {ct.entity(type_, i)}" for i in sorted(set(ids))]
    return tests[0] if len(tests) == 1 else "(" + " ||\n   ".join(tests) + ")"


def _grant_policy(facts: AgentFacts, grant: Grant) -> Policy | None:
    """The permit of one grant; None when no step uses it (it could never apply)."""
    if not grant.steps:
        return None
    parts = [_is_one_of("principal.step", STEP, (step_id(s.workflow, s.step.id) for s in grant.steps))]
    if grant.action != "delete":
        parts.append(f"{ct.string_set(grant.columns)}.containsAll(context.columns)")
    resource_type = SPEC_KIND if grant.action == "propose" else TABLE
    return Policy(policy_id(grant.origin, grant.rule), "permit", _runs_of(facts.name), ct.action_scope([grant.action]),
                  f"resource == {ct.entity(resource_type, grant.resource)}", (("when", _and(*parts)),), grant.origin)


def _workflow_policies(facts: AgentFacts, workflow: WorkflowFacts) -> Iterable[Policy]:
    predecessors: dict[str, list[str]] = {s.id: [] for s in workflow.steps}
    for step in workflow.steps:
        for target in step.next:
            predecessors.setdefault(target, []).append(step.id)
    for step in workflow.steps:
        origin = workflow.origin(step.id, "id")
        target = f"resource == {ct.entity(STEP, step_id(workflow.name, step.id))}"
        sources = predecessors.get(step.id, [])
        if sources:
            came_from = _is_one_of("principal.step", STEP, (step_id(workflow.name, s) for s in sources))
            yield Policy(policy_id(origin, f"steps.{step.id}.enter"), "permit", _runs_of(facts.name),
                         ct.action_scope([ADVANCE]), target, (("when", came_from),), origin)
        if step.max_visits is not None:
            yield Policy(policy_id(origin, f"steps.{step.id}.maxVisits"), "forbid", "principal",
                         ct.action_scope([ADVANCE]), target, (("when", f"context.visits >= {step.max_visits}"),),
                         workflow.origin(step.id, "maxVisits"), V_MAX_VISITS)
        if step.requires_approval:
            yield Policy(policy_id(origin, f"steps.{step.id}.requiresApproval"), "forbid", "principal",
                         ct.action_scope([ADVANCE]), target, (("unless", "context.approved"),),
                         workflow.origin(step.id, "requiresApproval"), V_APPROVAL)
        if step.action == "approve":
            here = _is_one_of("principal.step", STEP, [step_id(workflow.name, step.id)])
            yield Policy(policy_id(origin, f"steps.{step.id}.approve"), "permit", _runs_of(facts.name),
                         ct.action_scope(["approve"]), f"resource == {ct.entity(WORKFLOW, workflow.name)}",
                         (("when", here),), workflow.origin(step.id, "action"))


def _scope_policies(facts: AgentFacts) -> Iterable[Policy]:
    scope = facts.origin("spec", "tenantScope")
    yield Policy(policy_id(scope, "tenantScope"), "forbid", "principal", "action", "resource",
                 (("unless", f"{ct.entity(AGENT, facts.name)}.tenants.contains(principal.tenant)"),),
                 scope, V_OUT_OF_SCOPE)
    shared = [name for name, (_, table) in facts.tables.items() if table.scope == "global"]
    conditions = [("when", "context.tenant != principal.tenantId")]
    if shared:  # global tables hold no tenant's data: any tenant may be named for them
        conditions.append(("unless", _is_one_of("resource", TABLE, shared)))
    yield Policy(policy_id(scope, "tenantIsolation"), "forbid", "principal", ct.action_scope(CHECK_ACTIONS),
                 "resource", tuple(conditions), scope, V_CROSS_TENANT)


LIFECYCLE_RULE = "workflows.lifecycles"
DELETED_RULE = "workflows.lifecycles.deleted"


def _lifecycle_policies(facts: AgentFacts) -> Iterable[Policy]:
    """A run may act only while its tenant is in a state its current step acts in; a deleted tenant's
    run may not even move. ``has`` keeps a tenant outside the scope (not in the entity store) from
    turning these forbids into evaluation errors: the scope forbid refuses it."""
    origin = facts.origin("spec", "workflows")
    known = "principal.tenant has lifecycle"
    yield Policy(policy_id(origin, LIFECYCLE_RULE), "forbid", "principal", ct.action_scope(CHECK_ACTIONS), "resource",
                 (("when", _and(known, "!principal.step.lifecycles.contains(principal.tenant.lifecycle)")),),
                 origin, V_LIFECYCLE)
    yield Policy(policy_id(origin, DELETED_RULE), "forbid", "principal", ct.action_scope([ADVANCE]), "resource",
                 (("when", _and(known, f"principal.tenant.lifecycle == {ct.cedar_string('deleted')}")),),
                 origin, V_LIFECYCLE)


def _limit_condition(key: str, limit: int) -> tuple[str, tuple[str, ...]]:
    """(expression, actions) of the forbid for one limit."""
    c = "context"
    if key == "maxSteps":
        return f"{c}.steps < 0 ||\n  {c}.steps >= {limit}", (ADVANCE,)
    if key == "maxWallTimeSeconds":
        return f"{c}.elapsedMillis < 0 ||\n  {c}.elapsedMillis > {limit * 1000}", ()
    if key == "maxCallsPerMinute":
        return f"{c}.callsLastMinute < 0 ||\n  {c}.callsLastMinute >= {limit}", ()
    if key == "maxRowsRead":
        return (f"context.rows < 0 ||\n  {c}.rowsRead < 0 ||\n  context.rows > {limit} - {c}.rowsRead", ("read",))
    if key == "maxRowsWritten":
        return (f"context.rows < 0 ||\n  {c}.rowsWritten < 0 ||\n  context.rows > {limit} - {c}.rowsWritten",
                WRITE_ACTIONS)
    if key == "budgetUnits":
        cost = "(if context.rows < 1 then 1 else context.rows)"
        return f"context.rows < 0 ||\n  {c}.budgetSpent < 0 ||\n  {cost} > {limit} - {c}.budgetSpent", CHECK_ACTIONS
    raise KeyError(key)


def _limit_policies(facts: AgentFacts) -> Iterable[Policy]:
    for key, attribute in LIMIT_FIELDS:
        expression, actions = _limit_condition(key, getattr(facts.limits, attribute))
        origin = facts.origin("spec", "limits", key)
        yield Policy(policy_id(origin, f"limits.{key}"), "forbid", "principal",
                     ct.action_scope(actions) if actions else "action", "resource", (("when", expression),),
                     origin, LIMIT_PREFIX + key)


def _data_policies(facts: AgentFacts) -> Iterable[Policy]:
    granted: dict[str, set[str]] = {}
    for grant in facts.grants:
        if grant.action in DATA_ACTIONS:
            granted.setdefault(grant.resource, set()).update(grant.columns)
    for name, (_, table) in facts.tables.items():
        origin = facts.table_origin(name)
        pii = [c.name for c in table.columns if c.pii and c.name not in granted.get(name, set())]
        if pii:
            yield Policy(policy_id(origin, f"tables.{name}.pii"), "forbid", "principal",
                         ct.action_scope(DATA_ACTIONS), f"resource == {ct.entity(TABLE, name)}",
                         (("when", _contains_any("context.columns", pii)),), origin, V_PII)
        if table.scope == "tenant":
            yield Policy(policy_id(origin, f"tables.{name}.{RESERVED_COLUMN}"), "forbid", "principal",
                         ct.action_scope(DATA_ACTIONS), f"resource == {ct.entity(TABLE, name)}",
                         (("when", f"context.columns.contains({ct.cedar_string(RESERVED_COLUMN)})"),),
                         origin, V_RESERVED)


def build_policies(facts: AgentFacts) -> list[Policy]:
    """Every policy of the bundle: permits first, then forbids, each group sorted by id."""
    policies = [p for p in (_grant_policy(facts, g) for g in facts.grants) if p is not None]
    for workflow in facts.workflows:
        policies.extend(_workflow_policies(facts, workflow))
    policies.extend(_scope_policies(facts))
    policies.extend(_lifecycle_policies(facts))
    policies.extend(_limit_policies(facts))
    policies.extend(_data_policies(facts))
    return sorted(policies, key=lambda p: (p.effect != "permit", p.id))


HEADER = "// Generated by paybill. Do not edit: change the specs and compile again.\n"


def render_policies(policies: list[Policy]) -> str:
    return HEADER + "".join("\n" + p.render() for p in policies)
