"""ForceNew arguments of the resource types the aws emitter writes (see :class:`TerraformProvider`).

hashicorp/aws 6.x

One-way changes (:data:`CONDITIONAL`): a smaller ``aws_db_instance.allocated_storage`` is no
replacement. RDS cannot shrink storage, and the provider's ``DiffSuppressFunc`` on
``allocated_storage`` (``internal/service/rds/instance.go``) hides the change while storage
autoscaling is on (``max_allocated_storage`` above the new value, which paybill always sets): the
instance keeps its storage, and the plan says so (PB0941) rather than promising a smaller disk.
"""

from paybill.clouds.profile import ConditionalReplace

FORCE_NEW: dict[str, tuple[str, ...]] = {
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

CONDITIONAL: tuple[ConditionalReplace, ...] = (
    ConditionalReplace("aws_db_instance", "allocated_storage", "shrinks",
                       "internal/service/rds/instance.go: allocated_storage DiffSuppressFunc (old > new && "
                       "max_allocated_storage > new: no diff)", effect="kept",
                       why="RDS cannot shrink storage; with storage autoscaling on, the provider ignores the smaller "
                           "value and the instance keeps its allocated storage"),
)
"""One-way changes (see :class:`ConditionalReplace`)."""
