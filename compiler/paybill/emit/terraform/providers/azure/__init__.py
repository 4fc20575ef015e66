"""The Azure cloud emitter (hashicorp/azurerm 5.x).

One module per layer (:mod:`.network`, :mod:`.keys`, :mod:`.identity`, :mod:`.database`,
:mod:`.storage`, :mod:`.compute`); names, the one sizing table and the shared scope in
:mod:`.common`. This module only fixes the order layers run in:

* pool stack: resource group, Log Analytics workspace, network and private DNS zones, Key Vault and
  key, PostgreSQL, storage account, AKS.
* tenant stack: a resource group and a workspace when any layer is silo (a fully pooled tenant
  owns nothing but its slices of the pool: identity, key, container, namespace), network (own,
  peered with the pool's, or the pool's), workload identity, keys, database, storage, compute,
  and last the federated credential and the role assignments collected from the layers.

azurerm has no provider-level default tags, so every taggable resource gets ``tags`` explicitly
(``Scope.located``).
"""

from __future__ import annotations

from typing import Any

from paybill.emit.terraform.context import PoolContext, TenantContext
from paybill.emit.terraform.providers.azure import compute, database, identity, keys, network, storage
from paybill.emit.terraform.providers.azure.common import (
    AZURERM_PROVIDER,
    LOG_RETENTION_DAYS,
    RESOURCE_GROUP,
    WORKSPACE,
    Scope,
)
from paybill.emit.terraform.providers.base import StackEmitter
from paybill.emit.terraform.stack import Stack

DATA_LAYERS = ("keys", "database", "storage", "compute")


def _resource_group(scope: Scope) -> None:
    group = scope.stack.resource("azurerm_resource_group", "main", {
        "name": scope.claimed(RESOURCE_GROUP),
        "location": scope.location,
        "tags": scope.tags,
    })
    scope.resource_group = group.attr("name")


def _workspace(scope: Scope) -> None:
    workspace = scope.stack.resource("azurerm_log_analytics_workspace", "main", scope.located({
        "name": scope.claimed(WORKSPACE),
        "sku": "PerGB2018",
        "retention_in_days": LOG_RETENTION_DAYS,
        "local_authentication_enabled": False,
    }))
    scope.workspace_id = workspace.attr("id")


def configure(stack: Stack, cloud: Any, region: str, tags: dict[str, str]) -> None:
    stack.required_providers["azurerm"] = dict(AZURERM_PROVIDER)
    stack.provider("azurerm", {
        "features": {},
        "subscription_id": cloud.spec.azure.subscription_id,
        "tenant_id": cloud.spec.azure.tenant_id,
        # Storage accounts allow no shared keys: the provider must use Entra ID for data-plane calls.
        "storage_use_azuread": True,
    })


def emit_pool(ctx: PoolContext, stack: Stack) -> None:
    scope = Scope(stack, ctx, "pool", ctx.sizing)
    _resource_group(scope)
    _workspace(scope)
    network.emit_pool_network(scope, ctx.network_cidr)
    keys.emit_pool_keys(scope)
    database.emit_pool_database(scope)
    storage.emit_pool_storage(scope)
    compute.emit_pool_compute(scope)
    scope.output("resource_group_name", scope.resource_group, "The pool's resource group")
    scope.output("log_analytics_workspace_id", scope.workspace_id, "The pool's Log Analytics workspace")


def emit_tenant(ctx: TenantContext, stack: Stack) -> None:
    layers = ctx.layers
    scope = Scope(stack, ctx, "tenant", ctx.sizing)
    if layers.silo_layers:
        _resource_group(scope)
        scope.output("resource_group_name", scope.resource_group, "The tenant's resource group")
    if any(layers.silo(layer) for layer in DATA_LAYERS):
        _workspace(scope)
    network.emit_tenant_network(scope)
    identity.declare_workload_identity(scope)
    keys.emit_tenant_keys(scope, needs_cmk=layers.silo("database") or layers.silo("storage"))
    database.emit_tenant_database(scope)
    storage.emit_tenant_storage(scope)
    namespace = compute.emit_tenant_compute(scope)
    identity.finish_tenant_identity(scope, namespace)


AZURE_EMITTER = StackEmitter("azure", configure, emit_pool, emit_tenant)


