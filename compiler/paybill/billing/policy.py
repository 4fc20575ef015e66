"""The repository's billing facts, read once per pass from the base commit's validated specs."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from paybill.load import SpecDocument
from paybill.models.billing import BillingPolicySpec
from paybill.models.plan import Plan
from paybill.models.tenant import Tenant
from paybill.validate.index import SpecIndex


@dataclass(frozen=True, slots=True)
class TenantView:
    """A tenant as the base commit has it: what a billing change compares with."""

    name: str
    plan: str
    lifecycle: str
    status: str
    customer: str
    document: SpecDocument

    def field(self, path: str) -> str:
        return {"spec.plan": self.plan, "spec.lifecycle": self.lifecycle, "spec.billing.status": self.status}[path]


@dataclass
class BillingFacts:
    policy: BillingPolicySpec | None
    policy_document: SpecDocument | None
    plans: dict[str, Plan]
    plan_by_price: dict[str, str]
    tenants_by_customer: dict[str, list[TenantView]] = field(default_factory=dict)
    tenant_names: frozenset[str] = frozenset()
    index: SpecIndex = field(default_factory=SpecIndex)

    def tier(self, plan: str) -> int:
        return self.plans[plan].spec.tier


def read_facts(index: SpecIndex) -> BillingFacts:
    """BillingPolicy (the first, PB1002 reports others), plans by price id, live tenants by customer.

    A *deleted* tenant does not map its customer any more: a returning customer is onboarded as a new
    tenant with a new name (nothing is ever "undeleted" over stale state, see ``plan/lifecycle``).
    """
    policies = sorted(index.of_kind("BillingPolicy"), key=lambda d: (d.path, d.index))
    policy_doc = policies[0] if policies else None
    plans = {doc.name: doc.model for doc in index.of_kind("Plan")}
    by_price: dict[str, str] = {}
    for name in sorted(plans):
        for price in plans[name].spec.price_ids:
            by_price.setdefault(price, name)
    tenants: dict[str, list[TenantView]] = defaultdict(list)
    for doc in sorted(index.of_kind("Tenant"), key=lambda d: d.name):
        model: Tenant = doc.model
        spec = model.spec
        if spec.lifecycle == "deleted":
            continue
        tenants[spec.billing.customer_id].append(
            TenantView(doc.name, spec.plan, spec.lifecycle, spec.billing.status, spec.billing.customer_id, doc))
    return BillingFacts(policy_doc.model.spec if policy_doc else None, policy_doc, plans, by_price, dict(tenants),
                        frozenset(index.names("Tenant")), index)
