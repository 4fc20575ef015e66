"""PB0308: tenants listed in an agent's scope must exist."""

from paybill.models.agent import TenantList
from paybill.validate.index import SpecIndex
from paybill.validate.rules.base import Reporter, Rule


def check(index: SpecIndex, report: Reporter) -> None:
    tenants = index.names("Tenant")
    for doc in index.of_kind("Agent"):
        scope = doc.model.spec.tenant_scope
        if isinstance(scope, TenantList):
            for i, name in enumerate(scope.tenants):
                if index.get("Tenant", name) is None:
                    report.unknown(doc, ("spec", "tenantScope", "tenants", i), "tenant", name, tenants, kind="Tenant")


RULE = Rule("PB0308", "agent scope names an unknown tenant", check)
