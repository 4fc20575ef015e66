"""IBM Cloud data layers.

* Databases for PostgreSQL (classic ``standard`` plan): private service endpoint only, disk and
  backups encrypted with the owner's Key Protect root key, ``deletion_protection``, members, memory,
  disk and CPU from the sizing table (three members when the plan asks for high availability). IBM
  Cloud Databases take daily backups and keep them 30 days (not configurable); PostgreSQL accepts TLS
  connections only. Offboarding changes nothing more here: deletion protection stays, and the
  service's own backup retention applies.
* Cloud Object Storage: an instance per owner, buckets on the private endpoint with the owner's key,
  object versioning (noncurrent versions expire after 30 days, 90 while offboarding), read/write/
  management activity tracking, request and usage metrics, a hard quota from the plan's
  ``storageGb``, and ``prevent_destroy`` (COS buckets have no deletion protection of their own).
"""

from __future__ import annotations

from dataclasses import dataclass

from paybill.emit.terraform.expr import Expr
from paybill.emit.terraform.providers.ibm.common import Ctx, name, tags, waits
from paybill.emit.terraform.providers.ibm.security import IbmKeys
from paybill.emit.terraform.providers.ibm.sizing import (
    BUCKET_NAME,
    DATABASE_PLAN,
    DATABASE_SERVICE,
    GIB,
    INSTANCE_NAME,
    NONCURRENT_DAYS,
    OFFBOARDING_RETENTION_DAYS,
    POSTGRES_VERSION,
    SIZES,
)
from paybill.emit.terraform.stack import Stack
from paybill.models.plan import DatabaseSizing


@dataclass(frozen=True, slots=True)
class IbmDatabase:
    id: Expr
    """The deployment's CRN (connection details come from service credentials, not Terraform)."""
    guid: Expr


def emit_database(stack: Stack, ctx: Ctx, sizing: DatabaseSizing, *, resource_group: Expr, keys: IbmKeys,
                  depends_on: list[str]) -> IbmDatabase:
    size = SIZES[sizing.size]
    group: dict[str, object] = {
        "group_id": "member",
        "members": {"allocation_count": 3 if sizing.high_availability else 2},
        "memory": {"allocation_mb": size.db_memory_mb},
        "disk": {"allocation_mb": sizing.storage_gb * 1024},
        "host_flavor": {"id": "multitenant"},
    }
    if size.db_cpus:
        group["cpu"] = {"allocation_count": size.db_cpus}
    database = stack.resource("ibm_database", "main", {
        "name": name(ctx, INSTANCE_NAME, "postgres"),
        "service": DATABASE_SERVICE,
        "plan": DATABASE_PLAN,
        "location": ctx.region,
        "version": POSTGRES_VERSION,
        "resource_group_id": resource_group,
        "service_endpoints": "private",
        "key_protect_instance": keys.instance_guid,
        "key_protect_key": keys.key_crn,
        "backup_encryption_key_crn": keys.key_crn,
        "deletion_protection": True,
        "group": [group],
        "tags": tags(ctx),
        **waits(depends_on),
    })
    return IbmDatabase(database.attr("id"), database.attr("guid"))


def emit_cos_instance(stack: Stack, ctx: Ctx, resource_group: Expr) -> tuple[Expr, Expr]:
    """(instance id, instance GUID) of the owner's Cloud Object Storage instance."""
    cos = stack.resource("ibm_resource_instance", "cos", {
        "name": name(ctx, INSTANCE_NAME, "cos"),
        "service": "cloud-object-storage",
        "plan": "standard",
        "location": "global",
        "resource_group_id": resource_group,
        "tags": tags(ctx),
    })
    return cos.attr("id"), cos.attr("guid")


def emit_bucket(stack: Stack, ctx: Ctx, local: str, *, cos_instance: Expr, key_crn: Expr, quota_gb: int | None,
                offboarding: bool, depends_on: list[str]) -> Expr:
    """A private, versioned, key-encrypted bucket; returns its name."""
    body: dict[str, object] = {
        "bucket_name": name(ctx, BUCKET_NAME, local),
        "resource_instance_id": cos_instance,
        "region_location": ctx.region,
        "storage_class": "smart",
        "endpoint_type": "private",
        "kms_key_crn": key_crn,
        "object_versioning": {"enable": True},
        "noncurrent_version_expiration": {
            "enable": True,
            "noncurrent_days": OFFBOARDING_RETENTION_DAYS if offboarding else NONCURRENT_DAYS,
        },
        "activity_tracking": {"read_data_events": True, "write_data_events": True, "management_events": True},
        "metrics_monitoring": {"usage_metrics_enabled": True, "request_metrics_enabled": True},
        "force_delete": False,
        "lifecycle": {"prevent_destroy": True},
        **waits(depends_on),
    }
    if quota_gb is not None:
        body["hard_quota"] = quota_gb * GIB
    bucket = stack.resource("ibm_cos_bucket", local, body)
    return bucket.attr("bucket_name")


def emit_flow_log_bucket(stack: Stack, ctx: Ctx, *, cos_instance: Expr, cos_guid: Expr, key_crn: Expr,
                         depends_on: list[str]) -> tuple[Expr, str]:
    """A bucket for VPC flow logs and the authorization letting the collector write to the instance;
    returns (bucket name, address of the authorization)."""
    authorization = stack.resource("ibm_iam_authorization_policy", "flow_logs_to_cos", {
        "source_service_name": "is",
        "source_resource_type": "flow-log-collector",
        "target_service_name": "cloud-object-storage",
        "target_resource_instance_id": cos_guid,
        "roles": ["Writer"],
        "description": f"VPC flow logs may write to {ctx.address}'s Object Storage instance.",
    })
    bucket = emit_bucket(stack, ctx, "flowlogs", cos_instance=cos_instance, key_crn=key_crn, quota_gb=None,
                         offboarding=False, depends_on=depends_on)
    return bucket, authorization.address
