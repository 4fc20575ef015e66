"""The shape every cloud emitter has (:class:`CloudEmitter`), and how the built-in clouds build it.

:class:`StackEmitter` is that one way; a sixth cloud's profile names any object of this shape.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from paybill.emit.terraform.context import PoolContext, TenantContext
from paybill.emit.terraform.stack import Stack


class CloudEmitter(Protocol):
    """Emits the resources of one provider into pool and tenant stacks.

    ``configure`` adds ``required_providers`` (pinned to the provider's current major version) and
    the provider block (region, default tags where the provider supports them). ``emit_pool`` adds
    the shared layers a pool offers and the outputs tenant stacks read. ``emit_tenant`` adds the
    tenant's silo layers and its logical isolation inside pooled ones, reading pool outputs through
    ``data.terraform_remote_state.pool`` (already declared by the driver when the tenant has a pool).
    """

    provider: str

    def configure(self, stack: Stack, cloud: Any, region: str, tags: dict[str, str]) -> None: ...

    def emit_pool(self, ctx: PoolContext, stack: Stack) -> None: ...

    def emit_tenant(self, ctx: TenantContext, stack: Stack) -> None: ...


Configure = Callable[[Stack, Any, str, dict[str, str]], None]
EmitPool = Callable[[PoolContext, Stack], None]
EmitTenant = Callable[[TenantContext, Stack], None]


@dataclass(frozen=True, slots=True)
class StackEmitter:
    """The one shape every built-in cloud's emitter has: its provider id and three functions.

    Each cloud package exports ``configure(stack, cloud, region, tags)``, ``emit_pool(ctx, stack)`` and
    ``emit_tenant(ctx, stack)`` and builds one of these from them, instead of a class per cloud that
    only forwarded to its pool and tenant modules.
    """

    provider: str
    configure_stack: Configure
    pool: EmitPool
    tenant: EmitTenant

    def configure(self, stack: Stack, cloud: Any, region: str, tags: dict[str, str]) -> None:
        self.configure_stack(stack, cloud, region, tags)

    def emit_pool(self, ctx: PoolContext, stack: Stack) -> None:
        self.pool(ctx, stack)

    def emit_tenant(self, ctx: TenantContext, stack: Stack) -> None:
        self.tenant(ctx, stack)
