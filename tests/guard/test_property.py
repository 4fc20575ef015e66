"""Properties: Cedar allows exactly what the spec grants, and slicing never changes an answer."""

from __future__ import annotations

import functools

from guard_support import SPECS
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from paybill.contract.requests import operation_context, request, run_entity
from paybill.guard import Guard
from paybill.validate import validate_repository

AGENTS = ("billing-agent", "ops-agent", "support-assistant")


@functools.cache
def index():
    return validate_repository(SPECS).index


def in_scope(agent, tenant: str) -> bool:
    """The spec's meaning of a tenant scope, written out independently of the compiler."""
    scope = agent.spec.tenant_scope
    model = index().model("Tenant", tenant)
    if model is None:
        return False
    if hasattr(scope, "all"):
        return True
    if hasattr(scope, "tenants"):
        return tenant in scope.tenants
    return scope.selector.match_labels.items() <= model.metadata.labels.items()


def acts_in(workflow: str, step, tenant: str) -> bool:
    """The spec's meaning of lifecycles: the step's own list, else its workflow's; never a deleted tenant."""
    model = index().model("Tenant", tenant)
    declared = step.lifecycles or index().model("Workflow", workflow).spec.lifecycles
    return model is not None and model.spec.lifecycle != "deleted" and model.spec.lifecycle in declared


def expected(agent_name: str, workflow: str, step_id: str, tenant: str, resource_tenant: str, action: str,
             table: str, columns: frozenset[str], rows: int) -> bool:
    """What the spec says the decision must be (fresh run counters)."""
    agent = index().model("Agent", agent_name)
    step = next(s for s in index().model("Workflow", workflow).spec.steps if s.id == step_id)
    ref = index().tables.get(table)
    grant = next((g for g in agent.spec.permissions.tables if g.table == table), None)
    granted = set(getattr(grant, action)) if grant is not None and action != "delete" else set()
    limits = agent.spec.limits
    return (
        in_scope(agent, tenant)
        and acts_in(workflow, step, tenant)
        and (resource_tenant == tenant or (ref is not None and ref.table.scope == "global"))
        and (step.action, step.resource) == (action, table)
        and grant is not None and (grant.delete if action == "delete" else columns <= granted)
        and (rows <= limits.max_rows_read if action == "read" else rows <= limits.max_rows_written)
        and max(1, rows) <= limits.budget_units
    )


@st.composite
def requests_(draw):
    agent_name = draw(st.sampled_from(AGENTS))
    agent = index().model("Agent", agent_name)
    workflow = agent.spec.workflows[0]
    step = draw(st.sampled_from([s.id for s in index().model("Workflow", workflow).spec.steps]))
    tenants = [*index().names("Tenant"), "no-such-tenant"]
    scoped = [t for t in tenants if in_scope(agent, t)]
    tenant = draw(st.sampled_from(scoped if scoped and draw(st.booleans()) else tenants))
    resource_tenant = draw(st.one_of(st.just(tenant), st.sampled_from(tenants)))
    declared = next(s for s in index().model("Workflow", workflow).spec.steps if s.id == step)
    if declared.resource in index().tables and draw(st.booleans()):
        # Half the draws ask for what the step does, so allowed decisions are common, not rare.
        action, table = declared.action, declared.resource
    else:
        table = draw(st.sampled_from([*sorted(index().tables), "payments"]))
        action = draw(st.sampled_from(["read", "insert", "update", "delete"]))
    known = sorted(index().tables[table].columns) if table in index().tables else ["id"]
    grant = next((g for g in index().model("Agent", agent_name).spec.permissions.tables if g.table == table), None)
    granted = sorted(getattr(grant, action)) if grant is not None and action != "delete" else []
    if granted and draw(st.booleans()):
        known = granted
    columns = frozenset(draw(st.lists(st.sampled_from([*known, "tenant_id"]), max_size=3)))
    rows = draw(st.one_of(st.integers(0, 10), st.integers(0, 6000)))
    return agent_name, workflow, step, tenant, resource_tenant, action, table, columns, rows


@functools.cache
def guards(bundles) -> dict[str, Guard]:
    return {agent: Guard.load(bundles / agent) for agent in AGENTS}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(requests_())
def test_allowed_only_if_the_tenant_is_in_scope_and_the_acl_grants_it(bundles, drawn):
    agent, workflow, step, tenant, resource_tenant, action, table, columns, rows = drawn
    decision = guards(bundles)[agent].evaluate(tenant=tenant, workflow=workflow, step=step, action=action,
                                               resource=table, columns=tuple(columns), rows=rows,
                                               resource_tenant=resource_tenant)
    assert decision.allowed == expected(agent, workflow, step, tenant, resource_tenant, action, table, columns, rows)
    event(f"allowed={decision.allowed}")
    if decision.allowed:
        assert decision.reasons == (f"specs/agents/{agent}.yaml#permissions.tables.{table}.{action}",)
    else:
        assert decision.violations, "every denial is explained"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(requests_(), st.integers(0, 200), st.integers(0, 700_000))
def test_slicing_gives_exactly_the_answers_of_the_whole_policy_set(bundles, drawn, calls, millis):
    agent, workflow, step, tenant, resource_tenant, action, table, columns, rows = drawn
    engine = guards(bundles)[agent].engine
    entities = engine.with_entities([run_entity("p", agent, tenant, workflow, step)])
    counters = {"callsLastMinute": calls, "elapsedMillis": millis, "rowsRead": rows, "budgetSpent": calls}
    req = request("p", action, table, workflow, operation_context(action, resource_tenant, columns, rows, counters))
    assert engine.authorize([req], entities) == engine.authorize([req], entities, sliced=False)
