"""PB0404: a tenant with data residency must be placed (and pooled) inside its allowed regions."""

from paybill.validate.index import SpecIndex
from paybill.validate.rules.base import Reporter, Rule


def check(index: SpecIndex, report: Reporter) -> None:
    for doc in index.of_kind("Tenant"):
        spec = doc.model.spec
        if spec.data_residency is None:
            continue
        allowed = spec.data_residency.allowed_regions
        if spec.placement.region not in allowed:
            report(doc, ("spec", "placement", "region"),
                   f"region '{spec.placement.region}' is outside the tenant's data residency "
                   f"({', '.join(allowed)})",
                   "move the tenant to an allowed region or change its residency with the customer's consent")


RULE = Rule("PB0404", "placement violates the tenant's data residency", check)
