"""PB0405: billing status and lifecycle must agree (a cancelled tenant cannot be active)."""

from paybill.validate.index import SpecIndex
from paybill.validate.rules.base import Reporter, Rule

# Which lifecycle states each billing status permits. Deleting requires the subscription to be
# cancelled first; a trial never runs into suspension or offboarding without a billing decision.
ALLOWED_LIFECYCLES: dict[str, frozenset[str]] = {
    "trialing": frozenset({"onboarding", "active"}),
    "active": frozenset({"onboarding", "active", "suspended", "offboarding"}),
    "past_due": frozenset({"active", "suspended", "offboarding"}),
    "cancelled": frozenset({"suspended", "offboarding", "deleted"}),
}


def check(index: SpecIndex, report: Reporter) -> None:
    for doc in index.of_kind("Tenant"):
        spec = doc.model.spec
        allowed = ALLOWED_LIFECYCLES[spec.billing.status]
        if spec.lifecycle not in allowed:
            report(doc, ("spec", "lifecycle"),
                   f"lifecycle '{spec.lifecycle}' is inconsistent with billing status "
                   f"'{spec.billing.status}'",
                   f"with billing '{spec.billing.status}' the lifecycle may be: {', '.join(sorted(allowed))}")


RULE = Rule("PB0405", "billing status inconsistent with lifecycle", check)
