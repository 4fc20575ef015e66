"""Small helpers every IBM Cloud layer module uses."""

from __future__ import annotations

from paybill.clouds.names import NameRule
from paybill.emit.terraform.context import PoolContext, TenantContext

Ctx = PoolContext | TenantContext


def name(ctx: Ctx, rule: NameRule, *key: str) -> str:
    """The cloud name ``ctx``'s stack claimed for one of its resources (declared, with its parts and
    purpose, by :mod:`paybill.providers.ibm.names`)."""
    return ctx.claimed(rule, *key)


def tags(ctx: Ctx) -> list[str]:
    """IBM Cloud user tags are ``key:value`` strings (sorted, so output is stable)."""
    return sorted(f"{key}:{value}" for key, value in ctx.tags.items())


def zones(ctx: Ctx, count: int) -> list[str]:
    """VPC zones of the region (``us-south-1``...)."""
    return [f"{ctx.region}-{i}" for i in range(1, count + 1)]


def waits(depends_on: list[str]) -> dict[str, list[str]]:
    """The ``depends_on`` meta-argument, only when there is anything to wait for (spread into a body)."""
    return {"depends_on": sorted(set(depends_on))} if depends_on else {}
