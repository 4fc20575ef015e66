"""PB0450: no more agents may name a tenant than its plan's ``quotas.agents``.

A plan downgrade (``spec.plan`` of the tenant), a new agent, or an agent scope that gains the tenant
can each push it over the quota; the diagnostic sits on the tenant's ``spec.plan``, where the line
is crossed whichever side moved, and names the agents counted. Which agents count (platform agents
with ``tenantScope: {all: true}`` do not): :mod:`paybill.validate.rules.tenant_agents`. A plan
without the ``ai-agents`` feature is PB0451's case (no agent at all), so it is not reported twice.

Reads: Tenant ``spec.plan``, ``spec.lifecycle``, ``metadata.name``, ``metadata.labels``; Plan
``spec.quotas.agents``, ``spec.features``; Agent ``spec.tenantScope``.
"""

from paybill.validate.index import SpecIndex
from paybill.validate.rules.base import Reporter, Rule
from paybill.validate.rules.tenant_agent_feature import FEATURE
from paybill.validate.rules.tenant_agents import live_tenants, tenant_agents


def check(index: SpecIndex, report: Reporter) -> None:
    counted = tenant_agents(index)
    for doc in live_tenants(index):
        agents = counted.get(doc.name, [])
        plan = index.model("Plan", doc.model.spec.plan)
        if plan is None or FEATURE not in plan.spec.features:
            continue
        quota = plan.spec.quotas.agents
        if len(agents) <= quota:
            continue
        bigger = sorted((p.model.spec.tier, p.name) for p in index.of_kind("Plan")
                        if FEATURE in p.model.spec.features and p.model.spec.quotas.agents >= len(agents))
        allows = f"a plan that allows {_agents(len(agents))}"
        keep = f"{allows} ({', '.join(name for _, name in bigger)})" if bigger else allows
        report(doc, ("spec", "plan"),
               f"plan '{plan.metadata.name}' allows {_agents(quota)}, but "
               f"{len(agents)} {'act' if len(agents) > 1 else 'acts'} for tenant '{doc.name}': {', '.join(agents)}",
               f"keep the tenant on {keep}, or take it out of the scope of {len(agents) - quota} of these agents "
               "(platform agents with 'tenantScope: {all: true}' are not counted)")


def _agents(count: int) -> str:
    return f"{count} agent{'' if count == 1 else 's'}"


RULE = Rule("PB0450", "more agents act for a tenant than its plan allows", check)
