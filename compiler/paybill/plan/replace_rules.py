"""Which argument changes force Terraform to replace (destroy and re-create) a resource.

Terraform providers mark such arguments ``ForceNew`` in their schemas; the JSON schema Terraform
exports does not carry that flag, so paybill keeps this table for every resource type its emitters
write. Facts come from each provider's documentation and schema source for the pinned major
version: AWS docs mark "(Forces new resource)" (and ``ForceNew`` in the schema where the docs are
silent), azurerm docs "Changing this forces a new ... to be created", Google and IBM ``ForceNew``
in the resource schemas (IBM docs also say "Forces new resource"), OCI docs mark the *other*
arguments "(Updatable)", Kubernetes docs say ``metadata.name`` "Cannot be updated". Only arguments
paybill sets, or could set, matter; the table lists the ones found for every type we emit.

A test compiles the example specs and fails when an emitted type is missing here, so a new emitter
cannot silently fall back to "update". Nested arguments use dots (``settings.edition``); a nested
path matches when the value at that path differs.

A resource is also replaced when the *provider configuration* it is managed with moves it, even if
its own arguments are byte-identical: a provider block's region, account, subscription, project or
cluster is where every resource of that provider lives. :data:`PROVIDER_SCOPES` lists, per
provider, the configuration keys that say *which account* (every resource of the provider moves)
and *which region* (only regional resources that do not set their own region move; IAM and other
account-wide types stay). Terraform then plans those resources as replaced: AWS 6.x records each
resource's region in state and forces replacement when it changes, the other providers plan a
create in the new place once refresh no longer finds the old object. Values that read a data source
(``${data.terraform_remote_state.pool.outputs.eks_host}``) count as changed when that data source's
configuration changes (a remote state counts as the stack whose state it reads, so moving a pool's
state to another bucket moves nothing), so a tenant stack pointed at another pool's cluster replaces
its Kubernetes objects. A change of the stack's backend (where its state is stored) is not a replacement but a
state move: see :mod:`paybill.plan.stackconfig`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_AWS: dict[str, tuple[str, ...]] = {
    # hashicorp/aws 6.x
    "aws_cloudwatch_log_group": ("name", "name_prefix", "log_group_class"),
    "aws_db_instance": ("availability_zone", "backup_target", "character_set_name", "custom_iam_instance_profile",
                        "db_name", "engine", "identifier", "identifier_prefix", "kms_key_id",
                        "nchar_character_set_name", "restore_to_point_in_time", "snapshot_identifier",
                        "storage_encrypted", "timezone", "username"),
    "aws_db_parameter_group": ("description", "family", "name", "name_prefix"),
    "aws_db_subnet_group": ("name", "name_prefix"),
    "aws_default_security_group": ("vpc_id",),
    "aws_eks_addon": ("addon_name", "cluster_name"),
    "aws_eks_cluster": ("name", "role_arn", "encryption_config", "kubernetes_network_config.service_ipv4_cidr",
                        "kubernetes_network_config.ip_family", "bootstrap_self_managed_addons", "outpost_config"),
    "aws_eks_node_group": ("ami_type", "capacity_type", "cluster_name", "disk_size", "instance_types",
                           "node_group_name", "node_group_name_prefix", "node_role_arn", "remote_access",
                           "subnet_ids"),
    "aws_eks_pod_identity_association": ("cluster_name", "namespace", "service_account"),
    "aws_flow_log": ("deliver_cross_account_role", "destination_options", "eni_id", "iam_role_arn",
                     "log_destination", "log_destination_type", "log_format", "max_aggregation_interval",
                     "subnet_id", "traffic_type", "transit_gateway_attachment_id", "transit_gateway_id", "vpc_id"),
    "aws_iam_policy": ("description", "name", "name_prefix", "path"),
    "aws_iam_role": ("name", "name_prefix"),
    "aws_iam_role_policy": ("name", "name_prefix", "role"),
    "aws_iam_role_policy_attachment": ("policy_arn", "role"),
    "aws_kms_alias": ("name", "name_prefix"),
    "aws_kms_grant": ("constraints", "grant_creation_tokens", "grantee_principal", "key_id", "name", "operations",
                      "retiring_principal"),
    "aws_kms_key": ("custom_key_store_id", "customer_master_key_spec", "key_usage", "multi_region", "xks_key_id"),
    "aws_route_table": ("vpc_id",),
    "aws_route_table_association": ("gateway_id", "subnet_id"),
    "aws_s3_access_point": ("account_id", "bucket", "bucket_account_id", "name",
                            "public_access_block_configuration", "vpc_configuration"),
    "aws_s3_bucket": ("bucket", "bucket_prefix", "object_lock_enabled"),
    "aws_s3_bucket_lifecycle_configuration": ("bucket", "expected_bucket_owner"),
    "aws_s3_bucket_logging": ("bucket", "expected_bucket_owner"),
    "aws_s3_bucket_ownership_controls": ("bucket",),
    "aws_s3_bucket_policy": ("bucket",),
    "aws_s3_bucket_public_access_block": ("bucket",),
    "aws_s3_bucket_server_side_encryption_configuration": ("bucket", "expected_bucket_owner"),
    "aws_s3_bucket_versioning": ("bucket", "expected_bucket_owner"),
    "aws_security_group": ("description", "name", "name_prefix", "vpc_id"),
    "aws_subnet": ("availability_zone", "availability_zone_id", "cidr_block", "outpost_arn", "vpc_id"),
    "aws_vpc": ("cidr_block", "ipv4_ipam_pool_id", "ipv4_netmask_length"),
    "aws_vpc_endpoint": ("service_name", "service_region", "vpc_endpoint_type", "vpc_id"),
    "aws_vpc_security_group_ingress_rule": ("security_group_id",),
}

_AZURERM: dict[str, tuple[str, ...]] = {
    # hashicorp/azurerm 4.x, "Changing this forces a new ... to be created"
    "azurerm_disk_encryption_set": ("encryption_type", "location", "name", "resource_group_name"),
    "azurerm_federated_identity_credential": ("name", "parent_id", "user_assigned_identity_id"),
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
    "azurerm_private_dns_zone_virtual_network_link": ("name", "private_dns_zone_name", "private_dns_zone_id",
                                                      "resource_group_name", "virtual_network_id"),
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
                                  "storage_account_id", "storage_account_name"),
    "azurerm_storage_management_policy": ("storage_account_id",),
    "azurerm_subnet": ("name", "resource_group_name", "virtual_network_name"),
    "azurerm_subnet_network_security_group_association": ("network_security_group_id", "subnet_id"),
    "azurerm_user_assigned_identity": ("location", "name", "resource_group_name"),
    "azurerm_virtual_network": ("edge_zone", "location", "name", "resource_group_name"),
}

_GOOGLE: dict[str, tuple[str, ...]] = {
    # hashicorp/google 6.x, ForceNew in the resource schemas
    "google_cloud_run_v2_service": ("location", "name", "project"),
    "google_compute_firewall": ("direction", "name", "network", "project"),
    "google_compute_global_address": ("address", "address_type", "description", "ip_version", "name", "network",
                                      "prefix_length", "project", "purpose"),
    "google_compute_network": ("auto_create_subnetworks", "description", "internal_ipv6_range", "name",
                               "network_profile", "project"),
    "google_compute_router": ("encrypted_interconnect_router", "name", "network", "project", "region"),
    "google_compute_router_nat": ("name", "project", "region", "router", "type"),
    "google_compute_subnetwork": ("description", "name", "network", "project", "region", "reserved_internal_range"),
    "google_container_cluster": ("cluster_ipv4_cidr", "datapath_provider", "default_max_pods_per_node", "description",
                                 "enable_autopilot", "enable_kubernetes_alpha", "enable_tpu", "initial_node_count",
                                 "ip_allocation_policy", "location", "name", "network", "networking_mode", "project",
                                 "subnetwork"),
    "google_container_node_pool": ("cluster", "initial_node_count", "location", "max_pods_per_node", "name",
                                   "name_prefix", "placement_policy", "project", "queued_provisioning"),
    "google_gke_hub_membership_binding": ("location", "membership_binding_id", "membership_id", "project"),
    "google_gke_hub_namespace": ("project", "scope", "scope_id", "scope_namespace_id"),
    "google_gke_hub_scope": ("project", "scope_id"),
    "google_kms_crypto_key": ("crypto_key_backend", "destroy_scheduled_duration", "import_only", "key_ring", "name",
                              "purpose", "skip_initial_version_creation"),
    "google_kms_crypto_key_iam_member": ("condition", "crypto_key_id", "member", "role"),
    "google_kms_key_ring": ("location", "name", "project"),
    "google_project_iam_member": ("condition", "member", "project", "role"),
    "google_service_account": ("account_id", "project"),
    "google_service_account_iam_member": ("condition", "member", "role", "service_account_id"),
    "google_service_networking_connection": ("network", "service"),
    "google_sql_database": ("instance", "name", "project"),
    "google_sql_database_instance": ("encryption_key_name", "name", "project", "region"),
    "google_sql_user": ("host", "instance", "name", "project", "type"),
    "google_storage_bucket": ("enable_object_retention", "hierarchical_namespace", "location", "name", "project"),
    "google_storage_bucket_iam_member": ("bucket", "condition", "member", "role"),
}

_OCI: dict[str, tuple[str, ...]] = {
    # oracle/oci 7.x: every argument not marked "(Updatable)"
    "oci_containerengine_cluster": ("cluster_pod_network_options", "compartment_id", "endpoint_config.subnet_id",
                                    "kms_key_id", "vcn_id"),
    "oci_containerengine_node_pool": ("cluster_id", "compartment_id"),
    "oci_containerengine_virtual_node_pool": ("cluster_id", "compartment_id"),
    "oci_core_nat_gateway": ("public_ip_id", "vcn_id"),
    "oci_core_network_security_group": ("vcn_id",),
    "oci_core_network_security_group_security_rule": ("network_security_group_id",),
    "oci_core_route_table": ("vcn_id",),
    "oci_core_security_list": ("vcn_id",),
    "oci_core_service_gateway": ("vcn_id",),
    "oci_core_subnet": ("availability_domain", "dns_label", "prohibit_internet_ingress", "prohibit_public_ip_on_vnic",
                        "vcn_id"),
    "oci_core_vcn": ("byoipv6cidr_details", "cidr_block", "dns_label", "ipv6private_cidr_blocks", "is_ipv6enabled"),
    "oci_identity_compartment": (),
    "oci_identity_policy": ("compartment_id", "name"),
    "oci_kms_key": ("key_shape", "protection_mode", "external_key_reference"),
    "oci_kms_vault": ("vault_type", "external_key_manager_metadata"),
    "oci_logging_log": ("configuration", "log_type"),
    "oci_logging_log_group": (),
    "oci_objectstorage_bucket": ("name", "namespace", "storage_tier"),
    "oci_objectstorage_object_lifecycle_policy": ("bucket", "namespace"),
    "oci_psql_db_system": ("availability_domain", "credentials", "db_version", "network_details.subnet_id",
                           "source", "system_type"),
    "oci_vault_secret": ("key_id", "secret_name", "vault_id"),
}

_IBM: dict[str, tuple[str, ...]] = {
    # IBM-Cloud/ibm 1.x, "Forces new resource" and ForceNew in the schemas
    "ibm_container_vpc_cluster": ("name", "network_plugin", "pod_subnet", "resource_group_id", "service_subnet",
                                  "vpc_id"),
    "ibm_container_vpc_worker_pool": ("cluster", "flavor", "host_pool_id", "resource_group_id", "secondary_storage",
                                      "vpc_id", "worker_pool_name"),
    "ibm_cos_bucket": ("bucket_name", "cross_region_location", "key_protect", "kms_key_crn", "region_location",
                       "resource_instance_id", "satellite_location_id", "single_site_location", "storage_class"),
    "ibm_database": ("backup_encryption_key_crn", "key_protect_instance", "key_protect_key", "location", "plan",
                     "resource_group_id", "service"),
    "ibm_iam_access_group": (),
    "ibm_iam_access_group_policy": ("access_group_id",),
    "ibm_iam_authorization_policy": ("resource_attributes", "source_resource_group_id", "source_resource_instance_id",
                                     "source_resource_type", "source_service_account", "source_service_name",
                                     "subject_attributes", "target_resource_group_id", "target_resource_instance_id",
                                     "target_resource_type", "target_service_name"),
    "ibm_iam_service_id": (),
    "ibm_iam_service_policy": ("iam_id", "iam_service_id"),
    "ibm_is_flow_log": ("resource_group", "storage_bucket", "target"),
    "ibm_is_security_group": ("resource_group", "vpc"),
    "ibm_is_security_group_rule": ("group",),
    "ibm_is_subnet": ("ip_version", "ipv4_cidr_block", "resource_group", "total_ipv4_address_count", "vpc", "zone"),
    "ibm_is_vpc": ("address_prefix_management", "resource_group"),
    "ibm_is_vpc_address_prefix": ("cidr", "vpc", "zone"),
    "ibm_kms_key": ("description", "encrypted_nonce", "expiration_date", "instance_id", "iv_value", "key_name",
                    "key_ring_id", "payload", "standard_key"),
    "ibm_kms_key_policies": ("endpoint_type", "instance_id"),
    "ibm_resource_group": (),
    "ibm_resource_instance": ("location", "resource_group_id", "service"),
}

_KUBERNETES: dict[str, tuple[str, ...]] = {
    # hashicorp/kubernetes 2.x: metadata.name and metadata.namespace "Cannot be updated"
    "kubernetes_limit_range_v1": ("metadata.name", "metadata.namespace", "metadata.generate_name"),
    "kubernetes_namespace_v1": ("metadata.name", "metadata.generate_name"),
    "kubernetes_network_policy_v1": ("metadata.name", "metadata.namespace", "metadata.generate_name"),
    "kubernetes_resource_quota_v1": ("metadata.name", "metadata.namespace", "metadata.generate_name"),
    "kubernetes_service_account_v1": ("metadata.name", "metadata.namespace", "metadata.generate_name"),
}

REPLACE_ARGUMENTS: dict[str, frozenset[str]] = {
    type_: frozenset(arguments)
    for table in (_AWS, _AZURERM, _GOOGLE, _OCI, _IBM, _KUBERNETES)
    for type_, arguments in table.items()
}

DATA_STORE_TYPES: frozenset[str] = frozenset({
    # databases and object storage
    "aws_db_instance", "aws_s3_bucket",
    "azurerm_postgresql_flexible_server", "azurerm_postgresql_flexible_server_database", "azurerm_storage_account",
    "azurerm_storage_container",
    "google_sql_database_instance", "google_sql_database", "google_storage_bucket",
    "oci_psql_db_system", "oci_objectstorage_bucket",
    "ibm_database", "ibm_cos_bucket",
    # keys: destroying a key makes every byte encrypted with it unreadable (crypto-shredding)
    "aws_kms_key", "azurerm_key_vault", "azurerm_key_vault_key", "google_kms_crypto_key", "oci_kms_key",
    "oci_kms_vault", "ibm_kms_key",
})


def known_type(type_: str) -> bool:
    return type_ in REPLACE_ARGUMENTS


def value_at(body: Any, path: str) -> Any:
    """The value at a dotted argument path (``a.b.c``), taking the first element of nested blocks."""
    node: Any = body
    for part in path.split("."):
        if isinstance(node, list):
            node = node[0] if node else None
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def forcing_arguments(type_: str, before: Mapping[str, Any], after: Mapping[str, Any],
                      changed: tuple[str, ...]) -> tuple[str, ...]:
    """The changed arguments (or nested paths under them) that force replacement of ``type_``."""
    rules = REPLACE_ARGUMENTS.get(type_, frozenset())
    hits = []
    for rule in sorted(rules):
        top = rule.split(".", 1)[0]
        if top in changed and value_at(before, rule) != value_at(after, rule):
            hits.append(rule)
    return tuple(hits)


@dataclass(frozen=True, slots=True)
class ProviderScope:
    """Which provider configuration keys decide where a provider's resources live."""

    account: tuple[str, ...]
    """Keys naming the account, subscription, project, tenancy or cluster: every resource moves."""
    location: tuple[str, ...] = ()
    """Keys naming the default region: regional resources that do not set :attr:`own_location` move."""
    own_location: tuple[str, ...] = ()
    """Resource arguments that override the provider's region (then the provider's does not matter)."""
    global_types: frozenset[str] = frozenset()
    """Types that do not live in a region (a region change leaves them where they are)."""


_LOCATION_ARGUMENTS = ("location", "region", "zone")

PROVIDER_SCOPES: dict[str, ProviderScope] = {
    # AWS: the account (allowed_account_ids, or the role assumed into another account) and the region;
    # 6.x resources may set their own `region`. IAM is global: a region change keeps roles and policies.
    "aws": ProviderScope(("allowed_account_ids", "assume_role.role_arn"), ("region",), ("region",),
                         frozenset(t for t in _AWS if t.startswith("aws_iam_"))),
    # azurerm has no provider region: `location` is a resource argument (and forces replacement there).
    "azurerm": ProviderScope(("subscription_id", "tenant_id")),
    # google: region and zone are only defaults for resources that take a location argument and leave it
    # unset; global resources (networks, service accounts, IAM members) and children of a located parent
    # (a key in a key ring, a database in an instance) have no location argument at all.
    "google": ProviderScope(("project",), ("region", "zone"), _LOCATION_ARGUMENTS,
                            frozenset(t for t, a in _GOOGLE.items() if not set(_LOCATION_ARGUMENTS) & set(a))),
    # OCI: identity (compartments, policies) lives in the home region and is the same from every region.
    "oci": ProviderScope(("tenancy_ocid",), ("region",), (),
                         frozenset(t for t in _OCI if t.startswith("oci_identity_"))),
    # IBM: the account comes from the API key (not in the configuration); VPC and cluster resources are
    # regional, IAM and resource groups are account-wide, and service instances, databases, COS buckets
    # and Key Protect keys carry their own location or belong to a located service instance.
    "ibm": ProviderScope((), ("region",), ("location", "region_location", "cross_region_location",
                                           "single_site_location"),
                         frozenset(t for t in _IBM if not t.startswith(("ibm_is_", "ibm_container_")))),
    # kubernetes: the cluster is the account; every object lives in it.
    "kubernetes": ProviderScope(("host", "config_path", "config_context", "config_context_cluster")),
}


def placement_keys(provider: str) -> tuple[str, ...]:
    """The configuration keys of ``provider`` that decide where its resources live (dotted paths)."""
    scope = PROVIDER_SCOPES.get(provider)
    return (*scope.account, *scope.location) if scope else ()


def provider_moves(provider: str, type_: str, body: Mapping[str, Any],
                   changed_keys: tuple[str, ...]) -> tuple[str, ...]:
    """The changed provider configuration keys that move (and so replace) a resource of ``type_``."""
    scope = PROVIDER_SCOPES.get(provider)
    if scope is None:
        return ()
    hits = [key for key in changed_keys if key in scope.account]
    if type_ not in scope.global_types and not any(body.get(arg) is not None for arg in scope.own_location):
        hits += [key for key in changed_keys if key in scope.location]
    return tuple(sorted(hits))
