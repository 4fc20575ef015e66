"""ForceNew arguments of the resource types the azure emitter writes (see :class:`TerraformProvider`).

hashicorp/azurerm 5.x, "Changing this forces a new ... to be created". The 4.x entries were checked
against the 5.0 upgrade guide (website/docs/guides/5.0-upgrade-guide.html.markdown): it removes
``federated_identity_credential.parent_id``, ``private_dns_zone_virtual_network_link``'s
``private_dns_zone_name`` and ``resource_group_name`` and ``storage_container.storage_account_name``
(dropped here; their replacements ``user_assigned_identity_id``, ``private_dns_zone_id`` and
``storage_account_id`` were already listed) and adds no ForceNew argument to the types below. Per-type
resource pages of 5.x were not re-read: entries 4.x documented and 5.0 did not change are assumed.

Conditional ForceNews (:data:`CONDITIONAL`), read in the ``CustomizeDiff`` of
``internal/services/postgres/postgresql_flexible_server_resource.go`` (main with the 5.0 feature
flags): a smaller ``storage_mb`` (``newMb > 0 && oldMb > newMb``) or a lower major ``version``
replaces the PostgreSQL Flexible Server. Not modelled, because the emitter never changes them that
way: an ``identity.type`` that drops ``UserAssigned`` (always ``UserAssigned`` here) and a changed
``administrator_login`` (never set: Entra ID authentication only). The check compares the state
with the configuration and ignores ``auto_grow_enabled``: once Azure grows a server's storage past
the configured ``storage_mb``, the next ``terraform plan`` replaces it even with no spec change
(outside what ``paybill plan`` compares; the emitter would need ``ignore_changes`` on ``storage_mb``).
"""

from paybill.clouds.profile import ConditionalReplace

FORCE_NEW: dict[str, tuple[str, ...]] = {
    "azurerm_disk_encryption_set": ("encryption_type", "location", "name", "resource_group_name"),
    "azurerm_federated_identity_credential": ("name", "user_assigned_identity_id"),
    "azurerm_key_vault": ("location", "name", "resource_group_name"),
    "azurerm_key_vault_key": ("curve", "key_size", "key_type", "key_vault_id", "name"),
    "azurerm_kubernetes_cluster": ("disk_encryption_set_id", "dns_prefix", "dns_prefix_private_cluster", "edge_zone",
                                   "kubelet_identity", "linux_profile.admin_username", "location", "name",
                                   "network_profile.dns_service_ip", "network_profile.ip_versions",
                                   "network_profile.load_balancer_sku", "network_profile.network_plugin",
                                   "network_profile.service_cidr", "network_profile.service_cidrs",
                                   "node_resource_group", "private_cluster_enabled", "private_dns_zone_id",
                                   "resource_group_name", "default_node_pool.type"),
    "azurerm_kubernetes_cluster_node_pool": ("capacity_reservation_group_id", "eviction_policy", "gpu_instance",
                                             "host_group_id", "kubernetes_cluster_id", "name",
                                             "node_public_ip_prefix_id", "os_sku", "os_type", "priority",
                                             "proximity_placement_group_id", "spot_max_price"),
    "azurerm_log_analytics_workspace": ("location", "name", "resource_group_name"),
    "azurerm_management_lock": ("lock_level", "name", "notes", "scope"),
    "azurerm_monitor_diagnostic_setting": ("name", "target_resource_id"),
    "azurerm_network_security_group": ("location", "name", "resource_group_name"),
    "azurerm_postgresql_flexible_server": ("customer_managed_key", "delegated_subnet_id",
                                           "geo_redundant_backup_enabled", "location", "name",
                                           "point_in_time_restore_time_in_utc", "private_dns_zone_id",
                                           "resource_group_name", "source_server_id"),
    "azurerm_postgresql_flexible_server_active_directory_administrator": ("object_id", "principal_name",
                                                                          "principal_type", "resource_group_name",
                                                                          "server_name", "tenant_id"),
    "azurerm_postgresql_flexible_server_configuration": ("name", "server_id"),
    "azurerm_postgresql_flexible_server_database": ("charset", "collation", "name", "server_id"),
    "azurerm_private_dns_zone": ("name", "resource_group_name"),
    "azurerm_private_dns_zone_virtual_network_link": ("name", "private_dns_zone_id", "virtual_network_id"),
    "azurerm_private_endpoint": ("custom_network_interface_name", "edge_zone", "location", "name",
                                 "private_service_connection.is_manual_connection",
                                 "private_service_connection.name",
                                 "private_service_connection.private_connection_resource_id",
                                 "private_service_connection.subresource_names", "resource_group_name", "subnet_id"),
    "azurerm_resource_group": ("location", "name"),
    "azurerm_role_assignment": ("condition", "condition_version", "delegated_managed_identity_resource_id", "name",
                                "principal_id", "principal_type", "role_definition_id", "role_definition_name",
                                "scope"),
    "azurerm_storage_account": ("account_tier", "dns_endpoint_type", "edge_zone", "infrastructure_encryption_enabled",
                                "is_hns_enabled", "location", "name", "nfsv3_enabled", "queue_encryption_key_type",
                                "resource_group_name", "table_encryption_key_type"),
    "azurerm_storage_container": ("default_encryption_scope", "encryption_scope_override_enabled", "name",
                                  "storage_account_id"),
    "azurerm_storage_management_policy": ("storage_account_id",),
    "azurerm_subnet": ("name", "resource_group_name", "virtual_network_name"),
    "azurerm_subnet_network_security_group_association": ("network_security_group_id", "subnet_id"),
    "azurerm_user_assigned_identity": ("location", "name", "resource_group_name"),
    "azurerm_virtual_network": ("edge_zone", "location", "name", "resource_group_name"),
}

_FLEXIBLE_SERVER = "internal/services/postgres/postgresql_flexible_server_resource.go: CustomizeDiff"
CONDITIONAL: tuple[ConditionalReplace, ...] = (
    ConditionalReplace("azurerm_postgresql_flexible_server", "storage_mb", "shrinks",
                       f"{_FLEXIBLE_SERVER} (newMb > 0 && oldMb > newMb: ForceNew(\"storage_mb\"))"),
    ConditionalReplace("azurerm_postgresql_flexible_server", "version", "shrinks",
                       f"{_FLEXIBLE_SERVER} (oldVersion > newVersion: ForceNew(\"version\"))"),
)
"""Arguments whose change replaces the resource only in one direction (see :class:`ConditionalReplace`)."""
