"""ForceNew arguments of the resource types the oci emitter writes (see :class:`TerraformProvider`).

oracle/oci 8.x (entries written for 7.x, see the profile's ``checked``): every argument not marked "(Updatable)"
"""

FORCE_NEW: dict[str, tuple[str, ...]] = {
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
