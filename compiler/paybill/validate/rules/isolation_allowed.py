"""PB0401: a tenant's isolation model must be allowed by its plan."""

from paybill.validate.index import SpecIndex
from paybill.validate.rules.base import Reporter, Rule


def check(index: SpecIndex, report: Reporter) -> None:
    for doc in index.of_kind("Tenant"):
        plan = index.model("Plan", doc.model.spec.plan)
        if plan is None:
            continue
        model = doc.model.spec.isolation.model
        allowed = plan.spec.isolation.allowed
        if model not in allowed:
            report(doc, ("spec", "isolation", "model"),
                   f"isolation '{model}' is not allowed by plan '{plan.metadata.name}'",
                   f"plan '{plan.metadata.name}' allows: {', '.join(allowed)}; upgrade the plan or change "
                   "the isolation")


RULE = Rule("PB0401", "isolation model not allowed by the tenant's plan", check)
