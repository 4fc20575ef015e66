"""PB0407: a pooled layer needs a pool that offers it; a fully silo tenant names no pool.

During an isolation migration the layers pooled in ``migration.from`` count too: the tenant keeps
its share of the pool until ``decommission``, and may keep naming the pool while the stanza is there.
"""

from paybill.models.base import LAYERS
from paybill.models.tenant import isolation_placements
from paybill.validate.index import SpecIndex
from paybill.validate.rules.base import Reporter, Rule


def check(index: SpecIndex, report: Reporter) -> None:
    for doc in index.of_kind("Tenant"):
        tenant = doc.model
        pooled = [layer for layer in LAYERS if tenant.holds(layer, "pooled")]
        pool_name = tenant.spec.placement.pool
        before = isolation_placements(tenant.migration.from_) if tenant.migration else {}
        if not pooled and pool_name is not None and "pooled" in before.values():
            continue  # decommission: the pool may still be named until the stanza is dropped
        if pooled and pool_name is None:
            report(doc, ("spec", "placement"),
                   f"layers {', '.join(pooled)} are pooled but the tenant names no pool",
                   "add 'pool:' under placement")
            continue
        if not pooled and pool_name is not None:
            report(doc, ("spec", "placement", "pool"),
                   "a fully silo tenant must not name a pool", "remove 'pool:' from placement")
            continue
        pool = index.model("Pool", pool_name) if pool_name else None
        if pool is None:
            continue
        missing = [layer for layer in pooled if layer not in pool.spec.layers]
        if missing:
            report(doc, ("spec", "isolation"),
                   f"pool '{pool_name}' does not offer layers: {', '.join(missing)}",
                   "make those layers silo, or add them to the pool's layers")


RULE = Rule("PB0407", "pooled layer without a pool offering it", check)
