"""Small helpers every IBM Cloud layer module uses."""

from __future__ import annotations

from paybill.emit.terraform.context import PoolContext, TenantContext, cloud_spec
from paybill.emit.terraform.naming import NameRule
from paybill.models.cloud import spec_model

IbmCloudSpec = spec_model("ibm")
"""This cloud's spec model, built from its profile."""

Ctx = PoolContext | TenantContext


def stem(ctx: Ctx) -> tuple[str, ...]:
    """Name parts identifying the stack's owner; pools say so, so a pool and a tenant never share names."""
    return ("pb", "pool", ctx.name) if isinstance(ctx, PoolContext) else ("pb", ctx.name)


def name(ctx: Ctx, rule: NameRule, *suffix: str, purpose: str) -> str:
    return ctx.name_for(rule, *stem(ctx), *suffix, purpose=purpose)


def tags(ctx: Ctx) -> list[str]:
    """IBM Cloud user tags are ``key:value`` strings (sorted, so output is stable)."""
    return sorted(f"{key}:{value}" for key, value in ctx.tags.items())


def account_prefix(ctx: Ctx) -> str:
    """A short, stable piece of the account id for globally unique names (COS buckets)."""
    return cloud_spec(ctx.cloud, IbmCloudSpec).ibm.account_id[:8]


def zones(ctx: Ctx, count: int) -> list[str]:
    """VPC zones of the region (``us-south-1``...)."""
    return [f"{ctx.region}-{i}" for i in range(1, count + 1)]


def waits(depends_on: list[str]) -> dict[str, list[str]]:
    """The ``depends_on`` meta-argument, only when there is anything to wait for (spread into a body)."""
    return {"depends_on": sorted(set(depends_on))} if depends_on else {}
