"""ForceNew arguments of the resource types the gcp emitter writes (see :class:`TerraformProvider`).

hashicorp/google 8.x: ``ForceNew: true`` in the resource schemas at hashicorp/terraform-provider-google
e03b7622a26c (main just after "Merge feature branch major release 8.0.0"), files
``google/services/<service>/resource_<type>.go``; ``node_config.*`` from ``container/node_config.go``
(``schemaNodeConfig``, shared by clusters and node pools); the ``*_iam_member`` entries from
``tpgiamresource/resource_iam_member.go`` (role, member, condition) and each parent's ``iam_*.go``.
Every attribute the emitter sets (in the example specs' stacks) was compared with the schema.

Changed from the 6.x table: ``google_compute_firewall.network`` is no longer ForceNew (updated in
place); ``google_kms_crypto_key.skip_initial_version_creation`` is not ForceNew (create-only, ignored
afterwards); added ``version_template.protection_level`` (crypto key), ``master_auth.client_certificate_config``
and ``node_config.{oauth_scopes,service_account,shielded_instance_config}`` (cluster),
``node_config.{boot_disk_kms_key,metadata,oauth_scopes,service_account,shielded_instance_config}`` (node pool).

ForceNew only under a condition (``CustomizeDiff``) is in :data:`CONDITIONAL`, read at the same
commit: a *shrinking* ``settings.disk_size`` of ``google_sql_database_instance`` replaces it only
when ``disk_autoresize`` is off; while it is on (the default, and what paybill emits) the provider
clears the diff (``diskSizeCutomizeDiff``) and the instance keeps its disk, which the plan reports
as PB0941 rather than a smaller disk. Also: removing ``settings.ip_configuration.private_network``; a
``google_compute_subnetwork.ip_cidr_range`` that no longer contains the old range; unlocking a
locked ``google_storage_bucket.retention_policy`` (locking is an in-place update; paybill sets no
retention policy today).

Not modelled (the emitter sets none of them): ``settings.auto_upgrade_enabled`` turned off and the
cluster's ``enable_l4_ilb_subsetting`` / ``enable_fqdn_network_policy`` one-way switches.
"""

from paybill.clouds.profile import ConditionalReplace, Flag

FORCE_NEW: dict[str, tuple[str, ...]] = {
    "google_cloud_run_v2_service": ("location", "name", "project"),
    "google_compute_firewall": ("direction", "name", "project"),
    "google_compute_global_address": ("address", "address_type", "description", "ip_version", "name", "network",
                                      "prefix_length", "project", "purpose"),
    "google_compute_network": ("auto_create_subnetworks", "description", "internal_ipv6_range", "name",
                               "network_profile", "project"),
    "google_compute_router": ("encrypted_interconnect_router", "name", "network", "project", "region"),
    "google_compute_router_nat": ("name", "project", "region", "router", "type"),
    "google_compute_subnetwork": ("description", "name", "network", "project", "region", "reserved_internal_range"),
    "google_container_cluster": ("cluster_ipv4_cidr", "datapath_provider", "default_max_pods_per_node", "description",
                                 "enable_autopilot", "enable_kubernetes_alpha", "enable_tpu", "initial_node_count",
                                 "ip_allocation_policy", "location", "master_auth.client_certificate_config", "name",
                                 "network", "networking_mode", "node_config.oauth_scopes",
                                 "node_config.service_account", "node_config.shielded_instance_config", "project",
                                 "subnetwork"),
    "google_container_node_pool": ("cluster", "initial_node_count", "location", "max_pods_per_node", "name",
                                   "name_prefix", "node_config.boot_disk_kms_key", "node_config.metadata",
                                   "node_config.oauth_scopes", "node_config.service_account",
                                   "node_config.shielded_instance_config", "placement_policy", "project",
                                   "queued_provisioning"),
    "google_gke_hub_membership_binding": ("location", "membership_binding_id", "membership_id", "project"),
    "google_gke_hub_namespace": ("project", "scope", "scope_id", "scope_namespace_id"),
    "google_gke_hub_scope": ("project", "scope_id"),
    "google_kms_crypto_key": ("crypto_key_backend", "destroy_scheduled_duration", "import_only", "key_ring", "name",
                              "purpose", "version_template.protection_level"),
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

_SQL = "google/services/sql/resource_sql_database_instance.go"
_AUTORESIZE = "settings.disk_autoresize"
CONDITIONAL: tuple[ConditionalReplace, ...] = (
    ConditionalReplace("google_sql_database_instance", "settings.disk_size", "shrinks",
                       f"{_SQL}: diskSizeCutomizeDiff (old > new, disk_autoresize false: ForceNew)",
                       only_if=Flag(_AUTORESIZE, value=False, default=True)),
    ConditionalReplace("google_sql_database_instance", "settings.disk_size", "shrinks",
                       f"{_SQL}: diskSizeCutomizeDiff (old > new, disk_autoresize true or unset: d.Clear)",
                       effect="kept", only_if=Flag(_AUTORESIZE, value=True, default=True),
                       why="with disk_autoresize on, the provider ignores a smaller disk_size and the instance "
                           "keeps its disk"),
    ConditionalReplace("google_sql_database_instance", "settings.ip_configuration.private_network", "removed",
                       f"{_SQL}: privateNetworkCustomizeDiff (old != \"\" && new == \"\")"),
    ConditionalReplace("google_compute_subnetwork", "ip_cidr_range", "shrinks",
                       "google/services/compute/resource_compute_subnetwork.go: CustomizeDiff "
                       "customdiff.ForceNewIfChange(\"ip_cidr_range\", IsShrinkageIpCidr) (the new range does not "
                       "contain the old range's first and last address)"),
    ConditionalReplace("google_storage_bucket", "retention_policy.is_locked", "turned_off",
                       "google/services/storage/resource_storage_bucket.go: CustomizeDiff "
                       "customdiff.ForceNewIfChange(\"retention_policy.0.is_locked\", isPolicyLocked) (old true, new "
                       "false)"),
)
"""Arguments whose change replaces the resource only in one direction (see :class:`ConditionalReplace`)."""
