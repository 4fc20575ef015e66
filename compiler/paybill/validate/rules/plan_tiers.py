"""PB0409: plan tiers are unique, so 'upgrade' and 'downgrade' are well defined."""

from paybill.validate.index import SpecIndex
from paybill.validate.rules.base import Reporter, Rule


def check(index: SpecIndex, report: Reporter) -> None:
    seen: dict[int, str] = {}
    for doc in index.of_kind("Plan"):
        tier = doc.model.spec.tier
        if tier in seen:
            report(doc, ("spec", "tier"), f"tier {tier} is already used by plan '{seen[tier]}'",
                   "give every plan its own tier rank")
        else:
            seen[tier] = doc.name


RULE = Rule("PB0409", "duplicate plan tier", check)
