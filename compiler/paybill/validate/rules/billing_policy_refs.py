"""PB1003: a BillingPolicy names an agent, clouds and regions that exist.

Billing proposals are judged by change control as the policy's agent, and onboarding places tenants
in the residency rules' regions: a typo here would only surface when a customer subscribes.
"""

from paybill.validate.index import SpecIndex
from paybill.validate.rules.base import Reporter, Rule


def check(index: SpecIndex, report: Reporter) -> None:
    clouds = {doc.name: set(doc.model.spec.regions) for doc in index.of_kind("Cloud")}
    all_regions = sorted({r for regions in clouds.values() for r in regions})
    for doc in index.of_kind("BillingPolicy"):
        spec = doc.model.spec
        if index.get("Agent", spec.agent) is None:
            report.unknown(doc, ("spec", "agent"), "agent", spec.agent, index.names("Agent"), kind="Agent")
        onboarding = spec.onboarding
        if onboarding is None:
            continue
        for n, rule in enumerate(onboarding.residency):
            if rule.cloud is not None and rule.cloud not in clouds:
                report.unknown(doc, ("spec", "onboarding", "residency", n, "cloud"), "cloud", rule.cloud,
                               clouds, kind="Cloud")
                continue
            served = clouds[rule.cloud] if rule.cloud is not None else set(all_regions)
            for m, region in enumerate(rule.regions):
                if region not in served:
                    where = f"cloud '{rule.cloud}'" if rule.cloud else "any cloud"
                    report(doc, ("spec", "onboarding", "residency", n, "regions", m),
                           f"region '{region}' is not offered by {where}",
                           f"regions: {', '.join(sorted(served)) or 'none'}")


RULE = Rule("PB1003", "BillingPolicy references an unknown agent, cloud or region", check)
