"""PB1005 (warning): a BillingPolicy's agent does not reach every tenant.

Stripe events arrive for any customer, new ones included, and change control refuses a proposal for a
tenant outside the proposing agent's ``tenantScope`` (PB0979): with a narrower scope the events of
every other customer would be kept and refused at each pass, which is found out only when they come.
A warning, not an error: the specs still compile and the tenants in scope are served.
"""

from paybill.models.agent import AllTenants
from paybill.validate.index import SpecIndex
from paybill.validate.rules.base import Reporter, Rule


def check(index: SpecIndex, report: Reporter) -> None:
    for doc in index.of_kind("BillingPolicy"):
        name = doc.model.spec.agent
        agent = index.get("Agent", name)
        if agent is None or isinstance(agent.model.spec.tenant_scope, AllTenants):
            continue  # an unknown agent is PB1003's
        report(doc, ("spec", "agent"), f"agent '{name}' does not reach every tenant: billing proposals for tenants "
               "outside its tenantScope, onboarding included, are refused (PB0979)",
               f"give '{name}' tenantScope: {{all: true}}, or name an agent that has it")


RULE = Rule("PB1005", "BillingPolicy agent does not reach every tenant", check, warning=True)
