"""Azure keys layer: a Key Vault per pool and per silo-keys tenant, or a tenant key in the pool's vault.

Vaults: Premium (HSM-backed keys), RBAC authorization (no access policies), purge protection,
90-day soft delete, no public network access (a private endpoint in the endpoints subnet, the
``privatelink.vaultcore`` zone), a delete lock and audit logs to Log Analytics. The Terraform
runner is given *Key Vault Crypto Officer* on its vault (it creates the keys through the private
endpoint, so it runs inside the platform network).

Keys: RSA-HSM 3072, rotated automatically 30 days before their 13-month expiry. Data stores use the
*versionless* key id, so rotation needs no redeploy. A dedicated user-assigned "encryption"
identity, holding only *Key Vault Crypto Service Encryption User* on the key, is what PostgreSQL and
Storage unwrap data keys with (never the workload identity). AKS node disks use the same key through
a disk encryption set, whose own identity gets the same role (:mod:`.compute`).

A tenant whose keys are pooled gets its own key inside the pool's vault (per-tenant key, RBAC scoped
to that one key), used for its silo data stores and node disks if it has any and by its application
for envelope encryption; suspension removes the application's role assignment.
"""

from __future__ import annotations

from typing import Any

from paybill.emit.terraform.expr import Expr, ref
from paybill.emit.terraform.providers.azure.common import (
    IDENTITY,
    KEY,
    KEY_VAULT,
    Scope,
    client_config,
    delete_lock,
    diagnostics,
    pool_output,
    role_assignment,
)
from paybill.emit.terraform.stack import ResourceHandle

KEY_BODY: dict[str, Any] = {
    "key_type": "RSA-HSM",
    "key_size": 3072,
    "key_opts": ["decrypt", "encrypt", "unwrapKey", "wrapKey"],
    "rotation_policy": {
        "automatic": {"time_before_expiry": "P30D"},
        "expire_after": "P13M",
        "notify_before_expiry": "P29D",
    },
}


def encryption_identity(scope: Scope) -> None:
    identity = scope.stack.resource("azurerm_user_assigned_identity", "encryption", scope.located({
        "name": scope.claimed(IDENTITY, "encryption"),
    }))
    scope.cmk_identity_id = identity.attr("id")


def own_vault(scope: Scope) -> None:
    assert scope.network is not None and scope.zones is not None
    stack = scope.stack
    vault = stack.resource("azurerm_key_vault", "main", scope.located({
        "name": scope.claimed(KEY_VAULT),
        "tenant_id": scope.azure.tenant_id,
        "sku_name": "premium",
        "rbac_authorization_enabled": True,
        "purge_protection_enabled": True,
        "soft_delete_retention_days": 90,
        "public_network_access_enabled": False,
        "network_acls": {"bypass": "AzureServices", "default_action": "Deny"},
    }))
    endpoint = stack.resource("azurerm_private_endpoint", "vault", scope.located({
        "name": f"pe-kv-{scope.kind}-{scope.name}",
        "subnet_id": scope.network.endpoints_subnet_id,
        "private_service_connection": {
            "name": "vault",
            "private_connection_resource_id": vault.attr("id"),
            "subresource_names": ["vault"],
            "is_manual_connection": False,
        },
        "private_dns_zone_group": {"name": "vault", "private_dns_zone_ids": [scope.zones.vault]},
    }))
    role_assignment(scope, "runner_crypto_officer", vault.attr("id"), "Key Vault Crypto Officer",
                    client_config(scope), principal_type="ServicePrincipal")
    key = stack.resource("azurerm_key_vault_key", "main", {
        "name": scope.claimed(KEY, "cmk"),
        "key_vault_id": vault.attr("id"),
        **KEY_BODY,
        "tags": scope.tags,
        "depends_on": [endpoint.address, "azurerm_role_assignment.runner_crypto_officer"],
    })
    encryption_identity(scope)
    role_assignment(scope, "encryption_key_user", key.attr("resource_versionless_id"),
                    "Key Vault Crypto Service Encryption User", _encryption_principal())
    delete_lock(scope, "key_vault", vault, "the Key Vault")
    diagnostics(scope, "key_vault", vault.attr("id"), log_groups=["audit"])
    scope.cmk_key_id = key.attr("versionless_id")
    scope.cmk_key_resource_id = key.attr("resource_versionless_id")


def _encryption_principal() -> Expr:
    return ref("azurerm_user_assigned_identity", "encryption", "principal_id")


def emit_pool_keys(scope: Scope) -> None:
    own_vault(scope)
    scope.output("key_vault_id", ref("azurerm_key_vault", "main", "id"), "The pool's Key Vault")
    scope.output("key_vault_key_id", scope.cmk_key_id, "Versionless id of the pool's data key")
    scope.output("encryption_identity_id", scope.cmk_identity_id, "Identity the pool's data stores unwrap keys with")


def emit_tenant_keys(scope: Scope, *, needs_cmk: bool) -> None:
    """``needs_cmk``: the tenant has its own database or storage account to encrypt."""
    tenant = scope.tenant
    assert tenant is not None
    if tenant.layers.silo("keys"):
        own_vault(scope)
        scope.grants.append(("workload_key_user", ref("azurerm_key_vault_key", "main", "resource_versionless_id"),
                             "Key Vault Crypto User"))
        scope.output("key_vault_id", ref("azurerm_key_vault", "main", "id"), "The tenant's Key Vault")
        if tenant.layers.keeps_pooled("keys"):
            # Migrating: the tenant's key in the pool vault stays until decommission (data wrapped with it).
            kept = _pool_vault_key(scope)
            scope.kept_grants.append(("keys", "workload_key_user", kept.attr("resource_versionless_id"),
                                      "Key Vault Crypto User"))
        return
    key = _pool_vault_key(scope)
    scope.grants.append(("workload_key_user", key.attr("resource_versionless_id"), "Key Vault Crypto User"))
    # The tenant's own node disks (silo compute) are encrypted with this key too, through the
    # cluster's disk encryption set and its own identity (see compute.py).
    scope.cmk_key_id = key.attr("versionless_id")
    scope.cmk_key_resource_id = key.attr("resource_versionless_id")
    if needs_cmk:
        encryption_identity(scope)
        role_assignment(scope, "encryption_key_user", key.attr("resource_versionless_id"),
                        "Key Vault Crypto Service Encryption User", _encryption_principal())


def _pool_vault_key(scope: Scope) -> ResourceHandle:
    """The tenant's own key in the pool's Key Vault (pooled keys layer)."""
    return scope.stack.resource("azurerm_key_vault_key", "tenant", {
        "name": scope.claimed(KEY, "tenant"),
        "key_vault_id": pool_output("key_vault_id"),
        **KEY_BODY,
        "tags": scope.tags,
    })
