"""PB0402: a pool may not hold more live tenants than its capacity."""

from collections import defaultdict

from paybill.load.document import SpecDocument
from paybill.validate.index import SpecIndex
from paybill.validate.rules.base import Reporter, Rule


def check(index: SpecIndex, report: Reporter) -> None:
    members: dict[str, list[SpecDocument]] = defaultdict(list)
    for doc in index.of_kind("Tenant"):
        spec = doc.model.spec
        if spec.placement.pool and spec.lifecycle != "deleted":
            members[spec.placement.pool].append(doc)
    for pool_name, tenants in members.items():
        pool = index.get("Pool", pool_name)
        if pool is None:
            continue
        capacity = pool.model.spec.capacity.max_tenants
        if len(tenants) > capacity:
            report(pool, ("spec", "capacity", "maxTenants"),
                   f"pool '{pool_name}' holds {len(tenants)} tenants, over its capacity of {capacity}",
                   "raise maxTenants or add a pool and move tenants to it")
            for doc in tenants[capacity:]:
                report(doc, ("spec", "placement", "pool"),
                       f"pool '{pool_name}' is full ({capacity} tenants)",
                       "place this tenant in another pool")


RULE = Rule("PB0402", "pool capacity exceeded", check)
