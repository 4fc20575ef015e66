"""PB0304: a tenant's pool must exist and sit on the tenant's cloud and region."""

from paybill.validate.index import SpecIndex
from paybill.validate.rules.base import Reporter, Rule


def check(index: SpecIndex, report: Reporter) -> None:
    pools = index.names("Pool")
    for doc in index.of_kind("Tenant"):
        placement = doc.model.spec.placement
        if placement.pool is None:
            continue
        pool_doc = index.get("Pool", placement.pool)
        if pool_doc is None:
            report.unknown(doc, ("spec", "placement", "pool"), "pool", placement.pool, pools, kind="Pool")
            continue
        pool = pool_doc.model.spec
        if (pool.cloud, pool.region) != (placement.cloud, placement.region):
            report(
                doc, ("spec", "placement", "pool"),
                f"pool '{placement.pool}' is on {pool.cloud}/{pool.region}, but the tenant is placed on "
                f"{placement.cloud}/{placement.region}",
                "choose a pool in the tenant's cloud and region, or move the tenant",
            )


RULE = Rule("PB0304", "tenant references an unknown or misplaced pool", check)
