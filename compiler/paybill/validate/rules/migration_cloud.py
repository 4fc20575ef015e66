"""PB0441: an isolation migration only where the cloud's emitter can keep the old access.

Before ``decommission`` the tenant stack must keep everything ``migration.from`` had beside the new
resources. Emitters that cannot do that yet would drop the pooled access in the first apply, the
very outage the stanza exists to prevent, so the stanza is refused there (validate reports it, so
``validate`` and ``compile`` agree). Which clouds can: their profiles' ``staged_migrations``.
"""

from paybill.clouds import registry
from paybill.validate.index import SpecIndex
from paybill.validate.rules.base import Reporter, Rule


def check(index: SpecIndex, report: Reporter) -> None:
    for doc in index.of_kind("Tenant"):
        tenant = doc.model
        if not tenant.kept_placements:
            continue
        cloud = index.model("Cloud", tenant.spec.placement.cloud)
        supported = registry.staged_migration_providers()
        if cloud is None or cloud.spec.provider in supported:
            continue
        provider = cloud.spec.provider
        report(doc, ("spec", "isolation", "migration"),
               f"isolation migrations are not executable on {provider} yet: its emitter cannot keep the pooled "
               f"{', '.join(sorted(tenant.kept_placements))} beside the new silo resources",
               f"supported on: {', '.join(supported)}; on {provider}, remove the stanza, change "
               "the isolation directly and follow the runbook 'paybill plan' prints (that apply removes the "
               "pooled access)")


RULE = Rule("PB0441", "isolation migration on a cloud that cannot keep the old access", check)
