"""Which tenants an agent's ``tenantScope`` reaches: the one resolver every stage uses.

Bundles, SQL grants, the dependency graph and plan's permission-widening check must agree on an
agent's reach, so they all call this instead of re-implementing the three scope forms. Results are
cached on the index: the SQL emitter asks once per (database, agent), which with 10,000 tenants
made a per-call scan the slowest part of compile.
"""

from __future__ import annotations

from paybill.load.document import SpecDocument
from paybill.models.agent import AllTenants, SelectorScope, TenantList
from paybill.models.tenant import Tenant
from paybill.validate.index import SpecIndex

Scope = AllTenants | TenantList | SelectorScope
"""An agent's validated ``tenantScope`` (one of its three forms)."""


def scope_selects(scope: Scope, tenant: Tenant) -> bool:
    """Whether ``scope`` reaches ``tenant`` (by name or labels; lifecycle is the caller's concern)."""
    if isinstance(scope, AllTenants):
        return True
    if isinstance(scope, TenantList):
        return tenant.metadata.name in scope.tenants
    if isinstance(scope, SelectorScope):
        return scope.selector.match_labels.items() <= tenant.metadata.labels.items()
    raise TypeError(f"unknown tenant scope {type(scope).__name__}")  # pragma: no cover - models are closed


def scope_documents(index: SpecIndex, scope: Scope) -> dict[str, SpecDocument]:
    """Tenant documents (deleted ones included) a scope reaches, in name order; unknown names skipped."""
    if isinstance(scope, TenantList):
        docs = (index.get("Tenant", name) for name in sorted(set(scope.tenants)))
        return {d.name: d for d in docs if d is not None}
    return {d.name: d for d in index.of_kind("Tenant") if scope_selects(scope, d.model)}


def live_names(documents: dict[str, SpecDocument]) -> frozenset[str]:
    """The names of the documents whose tenant is not deleted."""
    return frozenset(n for n, d in documents.items() if d.model.spec.lifecycle != "deleted")


def agent_scope(index: SpecIndex, agent: SpecDocument) -> dict[str, SpecDocument]:
    """:func:`scope_documents` for an agent of ``index``, cached on the index."""
    cached = index.agent_scopes.get(agent.name)
    if cached is None:
        cached = index.agent_scopes[agent.name] = scope_documents(index, agent.model.spec.tenant_scope)
    return cached


def live_scope(index: SpecIndex, agent: SpecDocument) -> frozenset[str]:
    """Names of the non-deleted tenants in the agent's scope (deleted tenants have no data)."""
    cached = index.agent_live_scopes.get(agent.name)
    if cached is None:
        cached = index.agent_live_scopes[agent.name] = live_names(agent_scope(index, agent))
    return cached
