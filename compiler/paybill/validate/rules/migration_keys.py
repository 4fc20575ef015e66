"""PB0442: on Google Cloud a migration cannot move the keys layer.

A Google Cloud tenant always has its own crypto key; ``keys: pooled`` only places it in the pool's
key ring. Moving it to a ring of its own replaces the key at the same Terraform address, and Cloud
KMS keys are never deleted, only their versions destroyed: the data it wraps would become
unreadable. Keeping ``keys: pooled`` in the target keeps a dedicated key anyway.
"""

from paybill.validate.index import SpecIndex
from paybill.validate.rules.base import Reporter, Rule


def check(index: SpecIndex, report: Reporter) -> None:
    for doc in index.of_kind("Tenant"):
        tenant = doc.model
        if "keys" not in tenant.kept_placements:
            continue
        cloud = index.model("Cloud", tenant.spec.placement.cloud)
        if cloud is None or cloud.spec.provider != "gcp":
            continue
        report(doc, ("spec", "isolation"),
               "on gcp the keys layer cannot move in an isolation migration: the tenant's crypto key would be "
               "replaced while data is still wrapped with it",
               "keep 'keys: pooled' in the target (model: bridge): the tenant's key in the pool's key ring is "
               "already its own key")


RULE = Rule("PB0442", "Google Cloud keys layer moved by a migration", check)
