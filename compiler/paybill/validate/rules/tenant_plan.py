"""PB0302: a tenant's plan must exist."""

from paybill.validate.index import SpecIndex
from paybill.validate.rules.base import Reporter, Rule


def check(index: SpecIndex, report: Reporter) -> None:
    plans = index.names("Plan")
    for doc in index.of_kind("Tenant"):
        if index.get("Plan", doc.model.spec.plan) is None:
            report.unknown(doc, ("spec", "plan"), "plan", doc.model.spec.plan, plans, kind="Plan")


RULE = Rule("PB0302", "tenant references an unknown plan", check)
