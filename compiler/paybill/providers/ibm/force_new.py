"""ForceNew arguments of the resource types the ibm emitter writes (see :class:`TerraformProvider`).

IBM-Cloud/ibm 2.x: ``ForceNew: true`` in the resource schemas at IBM-Cloud/terraform-provider-ibm v2.5.0
(9f9b7ecfc432), files ``ibm/service/<service>/resource_ibm_<name>.go`` (VPC schema keys are package
constants, resolved); every attribute the emitter sets (in the example specs' stacks) was compared with
the schema. Types with ``()`` have no ForceNew argument among those the emitter sets (or at all).

Changed from the 1.x table: ``ibm_database.location`` is not ForceNew in 2.x (no ForceNew, no
CustomizeDiff forcing it: Terraform plans a location change as an in-place update).

One-way changes (:data:`CONDITIONAL`): a smaller ``ibm_database`` disk is no replacement but is
refused: ``validateGroupsDiff`` -> ``validateGroupScaling`` (``ibm/service/database/resource_ibm_database.go``)
fails the plan with "can not scale disk down" when the deployment's group cannot scale down, which
PostgreSQL disks cannot. Memory and members scale both ways.
"""

from paybill.clouds.profile import ConditionalReplace

FORCE_NEW: dict[str, tuple[str, ...]] = {
    "ibm_container_vpc_cluster": ("name", "network_plugin", "pod_subnet", "resource_group_id", "service_subnet",
                                  "vpc_id"),
    "ibm_container_vpc_worker_pool": ("cluster", "flavor", "host_pool_id", "resource_group_id", "secondary_storage",
                                      "vpc_id", "worker_pool_name"),
    "ibm_cos_bucket": ("bucket_name", "cross_region_location", "key_protect", "kms_key_crn", "region_location",
                       "resource_instance_id", "satellite_location_id", "single_site_location", "storage_class"),
    "ibm_database": ("backup_encryption_key_crn", "key_protect_instance", "key_protect_key", "plan",
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

CONDITIONAL: tuple[ConditionalReplace, ...] = (
    ConditionalReplace("ibm_database", "group.disk.allocation_mb", "shrinks",
                       "ibm/service/database/resource_ibm_database.go: CustomizeDiff validateGroupsDiff -> "
                       "validateGroupScaling (value < allocation && !CanScaleDown: error)", effect="refused",
                       why="IBM Cloud Databases cannot scale a disk down: terraform plan fails for this stack"),
)
"""One-way changes (see :class:`ConditionalReplace`)."""
