"""Azure object storage layer: a locked-down storage account, or a container in the pool's account.

Accounts: StorageV2, zone-redundant, TLS 1.2 minimum and HTTPS only, no public blob access, no
shared keys / SAS (Entra ID only, also for the portal), no local users, no cross-tenant
replication, infrastructure (double) encryption plus the owner's customer managed key, no public
network access (a private endpoint for blob), blob versioning, change feed and soft delete
(30 days; a year while offboarding), old versions deleted after 90 days (a year while
offboarding), blob read/write/delete logs to Log Analytics, and a delete lock.

A tenant with pooled storage gets a private container in the pool account; its workload identity
is *Storage Blob Data Contributor* on that container only. A silo tenant gets the same role on the
``data`` container of its own account.
"""

from __future__ import annotations

from paybill.emit.terraform.expr import concat
from paybill.emit.terraform.providers.azure.common import (
    CONTAINER,
    STORAGE_ACCOUNT,
    Scope,
    delete_lock,
    diagnostics,
    pool_output,
)
from paybill.emit.terraform.stack import ResourceHandle

BLOB_ROLE = "Storage Blob Data Contributor"


def own_account(scope: Scope) -> ResourceHandle:
    assert scope.network is not None and scope.zones is not None
    assert scope.cmk_key_id is not None and scope.cmk_identity_id is not None
    stack = scope.stack
    tenant = scope.tenant
    offboarding = tenant is not None and tenant.offboarding
    retention = 365 if offboarding else 30
    account = stack.resource("azurerm_storage_account", "main", scope.located({
        "name": scope.claimed(STORAGE_ACCOUNT),
        "account_kind": "StorageV2",
        "account_tier": "Standard",
        "account_replication_type": "ZRS",
        "access_tier": "Hot",
        "min_tls_version": "TLS1_2",
        "https_traffic_only_enabled": True,
        "allow_nested_items_to_be_public": False,
        "shared_access_key_enabled": False,
        "default_to_oauth_authentication": True,
        "public_network_access_enabled": False,
        "local_user_enabled": False,
        "cross_tenant_replication_enabled": False,
        "infrastructure_encryption_enabled": True,
        "identity": {"type": "UserAssigned", "identity_ids": [scope.cmk_identity_id]},
        "customer_managed_key": {
            "key_vault_key_id": scope.cmk_key_id,
            "user_assigned_identity_id": scope.cmk_identity_id,
        },
        "network_rules": {"default_action": "Deny", "bypass": ["AzureServices"]},
        "blob_properties": {
            "versioning_enabled": True,
            "change_feed_enabled": True,
            "delete_retention_policy": {"days": retention},
            "container_delete_retention_policy": {"days": retention},
        },
        "depends_on": ["azurerm_role_assignment.encryption_key_user"],
    }))
    stack.resource("azurerm_private_endpoint", "blob", scope.located({
        "name": f"pe-st-{scope.kind}-{scope.name}",
        "subnet_id": scope.network.endpoints_subnet_id,
        "private_service_connection": {
            "name": "blob",
            "private_connection_resource_id": account.attr("id"),
            "subresource_names": ["blob"],
            "is_manual_connection": False,
        },
        "private_dns_zone_group": {"name": "blob", "private_dns_zone_ids": [scope.zones.blob]},
    }))
    stack.resource("azurerm_storage_management_policy", "main", {
        "storage_account_id": account.attr("id"),
        "rule": [{
            "name": "expire-old-versions",
            "enabled": True,
            "filters": {"blob_types": ["blockBlob"]},
            "actions": {"version": {"delete_after_days_since_creation": 365 if offboarding else 90}},
        }],
    })
    delete_lock(scope, "storage", account, "the storage account")
    diagnostics(scope, "storage_blob", concat(account.attr("id"), "/blobServices/default"),
                log_categories=["StorageDelete", "StorageRead", "StorageWrite"])
    return account


def _container(scope: Scope, local: str, name: str, account_id: str) -> ResourceHandle:
    return scope.stack.resource("azurerm_storage_container", local, {
        "name": name,
        "storage_account_id": account_id,
        "container_access_type": "private",
    })


def emit_pool_storage(scope: Scope) -> None:
    account = own_account(scope)
    scope.output("storage_account_id", account.attr("id"), "The pool's storage account")
    scope.output("storage_account_name", account.attr("name"), "Name of the pool's storage account")


def emit_tenant_storage(scope: Scope) -> None:
    tenant = scope.tenant
    assert tenant is not None
    if tenant.layers.silo("storage"):
        account = own_account(scope)
        container = _container(scope, "data", "data", account.attr("id"))
        scope.output("storage_account_name", account.attr("name"), "The tenant's dedicated storage account")
        if tenant.layers.keeps_pooled("storage"):  # migrating: the pool container stays until decommission
            kept = _pool_container(scope)
            scope.kept_grants.append(("storage", "workload_blob", kept.attr("id"), BLOB_ROLE))
    else:
        container = _pool_container(scope)
        scope.output("storage_account_name", pool_output("storage_account_name"), "The pool's storage account")
    scope.grants.append(("workload_blob", container.attr("id"), BLOB_ROLE))
    scope.output("storage_container", container.attr("name"), "The tenant's blob container")


def _pool_container(scope: Scope) -> ResourceHandle:
    """The tenant's container in the pool's storage account (pooled storage layer)."""
    name = scope.claimed(CONTAINER)
    return _container(scope, "tenant", name, pool_output("storage_account_id"))
