"""Azure database layer: PostgreSQL flexible server, VNet-integrated, Entra-only, customer-managed key.

One server per pool and per silo-database tenant, in the delegated ``postgres`` subnet with a
private DNS zone (no public network access), zone-redundant high availability when the plan asks
for it, backups kept for the plan's days (7 at least, Azure's minimum; 35 while offboarding),
storage auto-grow, the owner's customer managed key (versionless, so key rotation needs nothing)
and Microsoft Entra authentication only: no password exists. The Entra administrator is a dedicated
"database admin" identity the migration runner (``paybill sql apply``) federates to. Server
parameters require TLS 1.2+ and log connections; logs go to Log Analytics. Deletion protection is
a ``CanNotDelete`` lock plus ``prevent_destroy`` (why both: :func:`.common.delete_lock`): storage
auto-grow can take the server past ``storage_mb``, after which azurerm plans a *replacement*; that
plan now fails instead of destroying the data (raise the plan's ``sizing.database.storageGb`` to match).

Geo-redundant backup is off: with a customer managed key it needs a second key and identity in the
paired region, which a Cloud spec does not describe yet. Tenants with a pooled database are rows
in the pool server's database, separated by row-level security (see :mod:`paybill.emit.sql`).
"""

from __future__ import annotations

from paybill.contract.sql_names import database_key, snake
from paybill.emit.terraform.expr import ref
from paybill.emit.terraform.providers.azure.common import (
    IDENTITY,
    POSTGRES_SERVER,
    POSTGRES_VERSION,
    SIZES,
    Scope,
    delete_lock,
    diagnostics,
    pool_output,
    postgres_storage_mb,
)

MIN_BACKUP_DAYS, MAX_BACKUP_DAYS = 7, 35
CONFIGURATION = (
    ("require_secure_transport", "on"),
    ("ssl_min_protocol_version", "TLSv1.2"),
    ("log_connections", "on"),
    ("log_disconnections", "on"),
    ("log_checkpoints", "on"),
)


def own_server(scope: Scope) -> None:
    assert scope.network is not None and scope.zones is not None
    assert scope.cmk_key_id is not None and scope.cmk_identity_id is not None
    stack = scope.stack
    tenant = scope.tenant
    sizing = scope.sizing.database
    size = SIZES[sizing.size]
    offboarding = tenant is not None and tenant.offboarding
    admin = stack.resource("azurerm_user_assigned_identity", "database_admin", scope.located({
        "name": scope.claimed(IDENTITY, "db-admin"),
    }))
    retention = (MAX_BACKUP_DAYS if offboarding
                 else min(MAX_BACKUP_DAYS, max(MIN_BACKUP_DAYS, sizing.backup_retention_days)))
    body = scope.located({
        "name": scope.claimed(POSTGRES_SERVER),
        "version": POSTGRES_VERSION,
        "sku_name": size.postgres_ha_sku if sizing.high_availability else size.postgres_sku,
        "storage_mb": postgres_storage_mb(sizing.storage_gb),
        "auto_grow_enabled": True,
        "backup_retention_days": retention,
        "geo_redundant_backup_enabled": False,
        "delegated_subnet_id": scope.network.postgres_subnet_id,
        "private_dns_zone_id": scope.zones.postgres,
        "public_network_access_enabled": False,
        "zone": "1",
        "authentication": {
            "active_directory_auth_enabled": True,
            "password_auth_enabled": False,
            "tenant_id": scope.azure.tenant_id,
        },
        "identity": {"type": "UserAssigned", "identity_ids": [scope.cmk_identity_id]},
        "customer_managed_key": {
            "key_vault_key_id": scope.cmk_key_id,
            "primary_user_assigned_identity_id": scope.cmk_identity_id,
        },
        "maintenance_window": {"day_of_week": 0, "start_hour": 3, "start_minute": 0},
        "depends_on": ["azurerm_role_assignment.encryption_key_user"]
        + (["azurerm_private_dns_zone_virtual_network_link.postgres"] if _own_zone_link(scope) else []),
    })
    if sizing.high_availability:
        body["high_availability"] = {"mode": "ZoneRedundant", "standby_availability_zone": "2"}
    server = stack.resource("azurerm_postgresql_flexible_server", "main", body)
    for name, value in CONFIGURATION:
        stack.resource("azurerm_postgresql_flexible_server_configuration", name.replace(".", "_"), {
            "name": name, "server_id": server.attr("id"), "value": value,
        })
    stack.resource("azurerm_postgresql_flexible_server_active_directory_administrator", "admin", {
        "server_name": server.attr("name"),
        "resource_group_name": scope.resource_group,
        "tenant_id": scope.azure.tenant_id,
        "object_id": admin.attr("principal_id"),
        "principal_name": admin.attr("name"),
        "principal_type": "ServicePrincipal",
    })
    db_name = snake(database_key(scope.kind, scope.name))
    stack.resource("azurerm_postgresql_flexible_server_database", "app", {
        "name": db_name,
        "server_id": server.attr("id"),
        "charset": "UTF8",
        "collation": "en_US.utf8",
    })
    delete_lock(scope, "database", server, "the PostgreSQL server")
    diagnostics(scope, "database", server.attr("id"), log_groups=["allLogs"])
    scope.output("postgres_fqdn", server.attr("fqdn"), "Private host name of the PostgreSQL server")
    scope.output("postgres_database", db_name, "Database name")
    scope.output("postgres_admin_client_id", admin.attr("client_id"),
                 "Client id of the Entra administrator identity (migration runner)")


def _own_zone_link(scope: Scope) -> bool:
    return "postgres" in scope.stack.resources.get("azurerm_private_dns_zone_virtual_network_link", {})


def emit_pool_database(scope: Scope) -> None:
    own_server(scope)
    scope.output("postgres_server_id", ref("azurerm_postgresql_flexible_server", "main", "id"),
                 "The pool's PostgreSQL server")


def emit_tenant_database(scope: Scope) -> None:
    tenant = scope.tenant
    assert tenant is not None
    if tenant.layers.silo("database"):
        own_server(scope)
        return
    scope.output("postgres_fqdn", pool_output("postgres_fqdn"), "Private host name of the pool's PostgreSQL server")
