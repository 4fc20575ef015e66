"""PB0409: plan tiers are unique, so 'upgrade' and 'downgrade' are well defined."""

from paybill.validate.duplicates import declaration_order, located
from paybill.validate.index import SpecIndex
from paybill.validate.rules.base import Reporter, Rule


def check(index: SpecIndex, report: Reporter) -> None:
    seen: dict[int, str] = {}
    for doc in declaration_order(index.of_kind("Plan")):
        tier = doc.model.spec.tier
        if tier in seen:
            report(doc, ("spec", "tier"), f"tier {tier} is already used by {seen[tier]}",
                   "give every plan its own tier rank")
        else:
            seen[tier] = f"plan '{doc.name}' at {located(doc, 'spec', 'tier')}"


RULE = Rule("PB0409", "duplicate plan tier", check)
