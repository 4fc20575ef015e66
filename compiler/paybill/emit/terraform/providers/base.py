"""The shape every cloud emitter has. Adding a sixth cloud is one new module implementing this."""

from __future__ import annotations

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
