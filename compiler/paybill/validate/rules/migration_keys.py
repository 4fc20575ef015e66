"""PB0442: a layer the cloud cannot move in an isolation migration (its profile's ``fixed_in_migration``).

On Google Cloud that is the keys layer: a tenant always has its own crypto key; ``keys: pooled`` only
places it in the pool's key ring. Moving it to a ring of its own replaces the key at the same
Terraform address, and Cloud KMS keys are never deleted, only their versions destroyed: the data it
wraps would become unreadable. Keeping ``keys: pooled`` in the target keeps a dedicated key anyway.
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
        profile = registry.find(cloud.spec.provider) if cloud is not None else None
        if profile is None:
            continue
        for fixed in profile.fixed_in_migration:
            if fixed.layer in tenant.kept_placements:
                report(doc, ("spec", "isolation"),
                       f"on {profile.provider} the {fixed.layer} layer cannot move in an isolation migration: "
                       f"{fixed.why}", fixed.hint)


RULE = Rule("PB0442", "layer the cloud cannot move in a migration (Google Cloud keys)", check)
