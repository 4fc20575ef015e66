"""The reference rules that become edges, one small function per kind of reference.

Each rule yields ``(before, after, EdgeInfo)`` where ``after`` references ``before`` at
``EdgeInfo.loc`` in its document. References that do not resolve are skipped: validation has
already reported them, and the graph must still be buildable for a repository with errors.

Agents depend on the tenants they name (an explicit list, or the tenants a label selector matches)
because their bundles are scoped to those tenants. ``tenantScope: {all: true}`` adds no edges: the
agent is not tied to any particular tenant, and linking it to every tenant would make every plan
change "touch" every all-tenant agent in impact queries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from paybill.graph.model import EdgeInfo, node_id, stack_node_id
from paybill.graph.stacks import StackUnit
from paybill.models.agent import SelectorScope, TenantList
from paybill.models.workflow import DATA_ACTIONS
from paybill.validate.index import SpecIndex
from paybill.validate.scope import agent_scope

Edge = tuple[str, str, EdgeInfo]
EdgeRule = Callable[[SpecIndex, list[StackUnit]], Iterator[Edge]]


def _ref(index: SpecIndex, kind: str, name: str | None) -> str | None:
    if name is None or index.get(kind, name) is None:
        return None
    return node_id(kind, name)


def pool_edges(index: SpecIndex, units: list[StackUnit]) -> Iterator[Edge]:
    for doc in index.of_kind("Pool"):
        cloud = _ref(index, "Cloud", doc.model.spec.cloud)
        if cloud:
            yield cloud, doc.ref, EdgeInfo("spec.cloud", doc, ("spec", "cloud"))


def tenant_edges(index: SpecIndex, units: list[StackUnit]) -> Iterator[Edge]:
    for doc in index.of_kind("Tenant"):
        spec = doc.model.spec
        references = (
            ("Cloud", spec.placement.cloud, "spec.placement.cloud", ("spec", "placement", "cloud")),
            ("Plan", spec.plan, "spec.plan", ("spec", "plan")),
            ("Pool", spec.placement.pool, "spec.placement.pool", ("spec", "placement", "pool")),
        )
        for kind, name, reason, loc in references:
            target = _ref(index, kind, name)
            if target:
                yield target, doc.ref, EdgeInfo(reason, doc, loc)


def _table_model(index: SpecIndex, table: str | None) -> str | None:
    found = index.tables.get(table) if table else None
    return found.document.ref if found else None


def workflow_edges(index: SpecIndex, units: list[StackUnit]) -> Iterator[Edge]:
    for doc in index.of_kind("Workflow"):
        for i, step in enumerate(doc.model.spec.steps):
            if step.action in DATA_ACTIONS:
                model = _table_model(index, step.resource)
                if model:
                    yield model, doc.ref, EdgeInfo("spec.steps.resource", doc, ("spec", "steps", i, "resource"))


def agent_edges(index: SpecIndex, units: list[StackUnit]) -> Iterator[Edge]:
    for doc in index.of_kind("Agent"):
        spec = doc.model.spec
        for i, grant in enumerate(spec.permissions.tables):
            model = _table_model(index, grant.table)
            if model:
                yield model, doc.ref, EdgeInfo("spec.permissions.tables", doc,
                                               ("spec", "permissions", "tables", i, "table"))
        for i, name in enumerate(spec.workflows):
            workflow = _ref(index, "Workflow", name)
            if workflow:
                yield workflow, doc.ref, EdgeInfo("spec.workflows", doc, ("spec", "workflows", i))
        scope = spec.tenant_scope
        if isinstance(scope, TenantList):
            for i, name in enumerate(scope.tenants):
                tenant = _ref(index, "Tenant", name)
                if tenant:
                    yield tenant, doc.ref, EdgeInfo("spec.tenantScope.tenants", doc,
                                                    ("spec", "tenantScope", "tenants", i))
        elif isinstance(scope, SelectorScope):
            for tenant_doc in agent_scope(index, doc).values():
                yield tenant_doc.ref, doc.ref, EdgeInfo("spec.tenantScope.selector", doc,
                                                        ("spec", "tenantScope", "selector"))


def stack_edges(index: SpecIndex, units: list[StackUnit]) -> Iterator[Edge]:
    """Each stack needs its owning spec; a tenant stack needs the pool stack it reads."""
    for unit in units:
        stack = stack_node_id(unit.address)
        yield unit.owner.ref, stack, EdgeInfo("owner", unit.owner)
        for address in unit.depends_on:
            loc = ("spec", "placement", "pool")
            yield stack_node_id(address), stack, EdgeInfo("terraform_remote_state", unit.owner, loc)


EDGE_RULES: tuple[EdgeRule, ...] = (pool_edges, tenant_edges, workflow_edges, agent_edges, stack_edges)
