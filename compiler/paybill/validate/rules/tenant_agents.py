"""Which agents count against a tenant's plan: the agents that name it.

PB0450 (``quotas.agents``) and PB0451 (the ``ai-agents`` feature) share this reading, so both agree
on who is counted:

* an agent whose ``tenantScope`` lists the tenant, or whose label selector matches it, was set up for
  the tenants it names: it is the tenant's AI agent and counts;
* an agent with ``tenantScope: {all: true}`` is a platform agent (the operator's billing or
  operations agent acts on every tenant, whatever it bought): it counts against no tenant's plan.
  A per-agent "platform" flag was considered and rejected: ``all: true`` already says it, and a flag
  on a list- or selector-scoped agent would let any agent opt out of the quota it is meant to meet;
* a deleted tenant has no plan to hold an agent to (nothing may act on it, PB0520): never counted.

Only the tenant's ``metadata.name``, ``metadata.labels``, ``spec.lifecycle`` and the agent's
``tenantScope`` are read here; the rules add the tenant's ``spec.plan`` and the plan's ``quotas.agents``
and ``features``.
"""

from __future__ import annotations

from paybill.load.document import SpecDocument
from paybill.models.agent import AllTenants
from paybill.validate.index import SpecIndex
from paybill.validate.scope import live_scope


def tenant_agents(index: SpecIndex) -> dict[str, list[str]]:
    """Live tenant name -> the names (sorted) of the agents that name it and so count against its plan."""
    counted: dict[str, list[str]] = {}
    for agent in sorted(index.of_kind("Agent"), key=lambda doc: doc.name):
        if isinstance(agent.model.spec.tenant_scope, AllTenants):
            continue
        for tenant in live_scope(index, agent):
            counted.setdefault(tenant, []).append(agent.name)
    return counted


def live_tenants(index: SpecIndex) -> list[SpecDocument]:
    """Tenant documents that are not deleted (a deleted tenant's plan entitles nothing)."""
    return [doc for doc in index.of_kind("Tenant") if doc.model.spec.lifecycle != "deleted"]
