"""Emit-time placement checks shared by the Google Cloud, OCI and IBM Cloud emitters.

The specs are valid, but a combination cannot be wired on these clouds without cross-network plumbing
paybill does not generate (VPC peering is not transitive on Google Cloud, where Cloud SQL sits behind
a peering of its own; OCI and IBM Cloud would need local peering or virtual private endpoints).
"""

from __future__ import annotations

from paybill.emit.terraform.context import PoolContext, TenantContext

UNREACHABLE_LAYERS = "PB0651"
POOL_WITHOUT_NETWORK = "PB0652"


def layers_reachable(ctx: TenantContext) -> bool:
    """A dedicated network can host the database and compute only together (peering is not transitive)."""
    layers = ctx.layers
    if not layers.silo("network") or layers.placements["database"] == layers.placements["compute"]:
        return True
    silo, pooled = ("database", "compute") if layers.silo("database") else ("compute", "database")
    ctx.names.sink.error(
        UNREACHABLE_LAYERS,
        f"tenant '{ctx.name}' has its own network with a silo {silo} but a pooled {pooled}: the pooled "
        f"{pooled} runs in the pool's network and cannot reach the tenant's network",
        ctx.document.path, ctx.document.position("spec", "isolation", "layers"),
        "place database and compute the same way, or make the network pooled",
    )
    return False


def pool_has_network(ctx: PoolContext) -> bool:
    needs = sorted({"database", "compute"} & set(ctx.pool.spec.layers))
    if not needs or "network" in ctx.pool.spec.layers:
        return True
    ctx.names.sink.error(
        POOL_WITHOUT_NETWORK,
        f"pool '{ctx.name}' offers {' and '.join(needs)} without a network: they need the pool's network",
        ctx.document.path, ctx.document.position("spec", "layers"),
        "add 'network' to the pool's layers",
    )
    return False
