"""The fake cloud's Terraform emitter: the shared :class:`StackEmitter` shape, a few resources per stack."""

from __future__ import annotations

from typing import Any

from paybill.emit.terraform.context import PoolContext, TenantContext
from paybill.emit.terraform.expr import Expr
from paybill.emit.terraform.providers.base import StackEmitter
from paybill.emit.terraform.stack import Stack

from . import FAKECLOUD, PROFILE


def configure(stack: Stack, cloud: Any, region: str, tags: dict[str, str]) -> None:
    stack.required_providers[FAKECLOUD.name] = FAKECLOUD.required()
    stack.provider(FAKECLOUD.name, {"account": cloud.spec.fake.account_key, "region": region,
                                    "default_tags": dict(tags)})


def emit_pool(ctx: PoolContext, stack: Stack) -> None:
    stack.resource("fakecloud_network", "main", {"cidr": ctx.network_cidr})
    stack.output("network_id", Expr("${fakecloud_network.main.id}"), "the pool network")


def emit_tenant(ctx: TenantContext, stack: Stack) -> None:
    name = ctx.claimed(PROFILE.name_rule("fake-name"))
    if ctx.layers.silo("network"):
        stack.resource("fakecloud_network", "main", {"cidr": ctx.network_cidr})
    stack.resource("fakecloud_database", "main", {"name": name, "engine_version": str(PROFILE.postgres.major)})
    stack.resource("fakecloud_bucket", "data", {
        "name": ctx.claimed(PROFILE.name_rule("fake-bucket"))})


FAKE_EMITTER = StackEmitter("fake", configure, emit_pool, emit_tenant)
