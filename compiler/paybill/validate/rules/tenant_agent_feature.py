"""PB0451: a tenant that an agent names must be on a plan with the ``ai-agents`` feature.

A plan downgrade (``spec.plan`` of the tenant) to a plan without ``ai-agents``, or an agent scope that
gains a tenant on such a plan, would leave an AI agent acting for a tenant that did not buy one: the
bundles and database grants would still let it. Which agents count (platform agents with
``tenantScope: {all: true}`` do not): :mod:`paybill.validate.rules.tenant_agents`.

Reads: Tenant ``spec.plan``, ``spec.lifecycle``, ``metadata.name``, ``metadata.labels``; Plan
``spec.features``; Agent ``spec.tenantScope``.
"""

from paybill.validate.index import SpecIndex
from paybill.validate.rules.base import Reporter, Rule
from paybill.validate.rules.tenant_agents import live_tenants, tenant_agents

FEATURE = "ai-agents"


def check(index: SpecIndex, report: Reporter) -> None:
    counted = tenant_agents(index)
    for doc in live_tenants(index):
        agents = counted.get(doc.name)
        plan = index.model("Plan", doc.model.spec.plan)
        if not agents or plan is None or FEATURE in plan.spec.features:
            continue
        names = ", ".join(agents)
        report(doc, ("spec", "plan"),
               f"plan '{plan.metadata.name}' has no '{FEATURE}' feature, but agent{'s' if len(agents) > 1 else ''} "
               f"{names} {'act' if len(agents) > 1 else 'acts'} for tenant '{doc.name}'",
               _hint(index, names))


def _hint(index: SpecIndex, agents: str) -> str:
    with_feature = sorted((p.model.spec.tier, p.name) for p in index.of_kind("Plan")
                          if FEATURE in p.model.spec.features)
    plans = ", ".join(name for _, name in with_feature)
    keep = f"keep the tenant on a plan with '{FEATURE}' ({plans})" if plans else f"add '{FEATURE}' to a plan"
    return f"{keep}, or take the tenant out of the scope of {agents}"


RULE = Rule("PB0451", "agent acts for a tenant whose plan has no ai-agents feature", check)
