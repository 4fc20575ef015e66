"""ForceNew arguments of the resource types the oci emitter writes (see :class:`TerraformProvider`).

oracle/oci 8.x: ``ForceNew: true`` in the resource schemas at oracle/terraform-provider-oci v8.28.0
(8de3c480b4bf), files ``internal/service/<service>/<service>_<name>_resource.go``; every attribute the
emitter sets (in the example specs' stacks) was compared with the schema.
``oci_containerengine_cluster.endpoint_config.subnet_id`` is ForceNew through CustomizeDiff as soon as a
subnet was set (always, for paybill's clusters).

Changed from the 7.x table: ``oci_core_vcn``'s ``byoipv6cidr_details``, ``ipv6private_cidr_blocks`` and
``is_ipv6enabled`` are updatable in 8.x; ``oci_psql_db_system``'s whole ``credentials``, ``source`` and a
top-level ``availability_domain`` were too broad or misplaced: the ForceNew ones are
``credentials.username``, ``source.db_system_id``/``source.time_to_restore`` and
``storage_details.availability_domain``; added ``storage_details.is_regionally_durable`` and
``storage_details.system_type`` (both set by the emitter: a change replaces the database),
``network_details.primary_db_endpoint_private_ip``, ``oci_kms_key.management_endpoint`` (set by the
emitter: a change replaces the key), ``oci_containerengine_cluster.options.service_lb_subnet_ids`` and
the node pool's ``node_config_details.node_pool_pod_network_option_details.cni_type``.
"""

FORCE_NEW: dict[str, tuple[str, ...]] = {
    "oci_containerengine_cluster": ("cluster_pod_network_options", "compartment_id", "endpoint_config.subnet_id",
                                    "kms_key_id", "options.service_lb_subnet_ids", "vcn_id"),
    "oci_containerengine_node_pool": ("cluster_id", "compartment_id",
                                      "node_config_details.node_pool_pod_network_option_details.cni_type"),
    "oci_containerengine_virtual_node_pool": ("cluster_id", "compartment_id"),
    "oci_core_nat_gateway": ("public_ip_id", "vcn_id"),
    "oci_core_network_security_group": ("vcn_id",),
    "oci_core_network_security_group_security_rule": ("network_security_group_id",),
    "oci_core_route_table": ("vcn_id",),
    "oci_core_security_list": ("vcn_id",),
    "oci_core_service_gateway": ("vcn_id",),
    "oci_core_subnet": ("availability_domain", "dns_label", "prohibit_internet_ingress", "prohibit_public_ip_on_vnic",
                        "vcn_id"),
    "oci_core_vcn": ("cidr_block", "dns_label"),
    "oci_identity_compartment": (),
    "oci_identity_policy": ("compartment_id", "name"),
    "oci_kms_key": ("external_key_reference", "key_shape", "management_endpoint", "protection_mode"),
    "oci_kms_vault": ("vault_type", "external_key_manager_metadata"),
    "oci_logging_log": ("configuration", "log_type"),
    "oci_logging_log_group": (),
    "oci_objectstorage_bucket": ("name", "namespace", "storage_tier"),
    "oci_objectstorage_object_lifecycle_policy": ("bucket", "namespace"),
    "oci_psql_db_system": ("credentials.username", "db_version", "network_details.primary_db_endpoint_private_ip",
                           "network_details.subnet_id", "source.db_system_id", "source.time_to_restore",
                           "storage_details.availability_domain", "storage_details.is_regionally_durable",
                           "storage_details.system_type", "system_type"),
    "oci_vault_secret": ("key_id", "secret_name", "vault_id"),
}
