"""Emit-time diagnostics for Google Cloud (the specs are valid, but this cloud cannot build them)."""

from __future__ import annotations

from paybill.emit.terraform.context import PoolContext, TenantContext
from paybill.emit.terraform.providers.gcp.network import PSA_MIN_PREFIX, split_cidr

NETWORK_TOO_SMALL = "PB0650"


def network_fits(ctx: PoolContext | TenantContext, cidr: str) -> bool:
    """The network must hold a subnetwork and a /24 private services range (Cloud SQL needs one)."""
    if split_cidr(cidr) is not None:
        return True
    if isinstance(ctx, PoolContext):
        loc = ("spec", "networkCidr") if ctx.pool.spec.network_cidr else ("metadata", "name")
    else:
        loc = ("spec", "placement", "networkCidr")
    ctx.names.sink.error(
        NETWORK_TOO_SMALL,
        f"network {cidr} of {ctx.document.ref} is too small for Google Cloud: half of it is reserved for "
        f"Cloud SQL private services access, which needs a /{PSA_MIN_PREFIX} or larger",
        ctx.document.path, ctx.document.position(*loc),
        f"use a /{PSA_MIN_PREFIX - 1} or larger networkCidr",
    )
    return False
