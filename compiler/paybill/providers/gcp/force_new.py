"""ForceNew arguments of the resource types the gcp emitter writes (see :class:`TerraformProvider`).

hashicorp/google 8.x (entries written for 6.x, see the profile's ``checked``), ForceNew in the resource schemas
"""

FORCE_NEW: dict[str, tuple[str, ...]] = {
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
