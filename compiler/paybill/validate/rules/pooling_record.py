"""PB0443: a pooling record must record a move from silo to pooled, and not beside a migration.

``spec.isolation.pooling`` says the tenant's data was copied into its pool before the commit that
pools its silo layers (``paybill plan`` refuses that commit without it, PB0948). A record whose
``from`` has no silo layer that the target pools records nothing: a typo, or a leftover of an earlier
move that now stands beside a new one. Beside ``migration`` it would say two contradictory things
about where the tenant's data is, so a tenant migrating again drops the old record first.

Reads: Tenant ``spec.isolation`` (model, layers, ``migration``, ``pooling``).
"""

from paybill.models.base import LAYERS
from paybill.models.tenant import isolation_placements
from paybill.validate.index import SpecIndex
from paybill.validate.rules.base import Reporter, Rule


def check(index: SpecIndex, report: Reporter) -> None:
    for doc in index.of_kind("Tenant"):
        tenant = doc.model
        pooling = tenant.pooling
        if pooling is None:
            continue
        loc = ("spec", "isolation", "pooling")
        if tenant.migration is not None:
            report(doc, loc, "a tenant with an isolation migration cannot also carry a pooling record",
                   "remove the 'pooling' record (it recorded an earlier move), then stage the migration")
            continue
        before = isolation_placements(pooling.from_)
        pooled = [layer for layer in LAYERS if before[layer] == "silo" and tenant.placements[layer] == "pooled"]
        if not pooled:
            report(doc, (*loc, "from"),
                   "pooling.from has no silo layer that the target isolation pools: the record records nothing",
                   "set 'from' to the isolation the tenant had before this commit, or remove the 'pooling' record")


RULE = Rule("PB0443", "pooling record that records no move to the pool", check)
