"""OCI data layers: OCI Database with PostgreSQL in a private subnet, and Object Storage buckets.

* PostgreSQL: private endpoint only (the service has no public one), its NSG admits 5432 from the
  VCN, clients connect with TLS, regionally durable storage, daily backups kept per the plan (90 days
  while offboarding), HA as a multi-node system, the admin password generated inside the Vault
  (never in Terraform state). OCI encrypts it at rest with Oracle-managed keys: the service offers no
  customer-managed key. The plan's ``storageGb`` is not applied: its storage grows automatically.
  The resource has no deletion-protection argument, so ``prevent_destroy`` stands in for it.
* Buckets: ``NoPublicAccess``, versioning, the owner's Vault key, object events, read and write
  logs, previous versions expired after 30 days (90 while offboarding), ``prevent_destroy``.
"""

from __future__ import annotations

from dataclasses import dataclass

from paybill.emit.terraform.expr import Expr
from paybill.emit.terraform.providers.oci.common import Ctx, name, namespace, service_log, tags, waits
from paybill.emit.terraform.providers.oci.network import OciNetwork
from paybill.emit.terraform.providers.oci.sizing import (
    BUCKET_NAME,
    DISPLAY_NAME,
    OFFBOARDING_RETENTION_DAYS,
    POSTGRES_VERSION,
    PREVIOUS_VERSION_DAYS,
    PSQL_SHAPE,
    SIZES,
)
from paybill.emit.terraform.stack import Stack
from paybill.models.plan import DatabaseSizing


@dataclass(frozen=True, slots=True)
class PsqlSystem:
    id: Expr
    endpoint: Expr


def emit_log_group(stack: Stack, ctx: Ctx, compartment: Expr) -> Expr:
    group = stack.resource("oci_logging_log_group", "main", {
        "compartment_id": compartment,
        "display_name": name(ctx, DISPLAY_NAME, "logs"),
        "description": f"paybill {ctx.address}: flow, bucket and service logs.",
        "freeform_tags": tags(ctx),
    })
    return group.attr("id")


def emit_psql(stack: Stack, ctx: Ctx, sizing: DatabaseSizing, *, compartment: Expr, network: OciNetwork,
              secret: tuple[Expr, Expr], offboarding: bool) -> PsqlSystem:
    size = SIZES[sizing.size]
    days = sizing.backup_retention_days
    if offboarding:
        days = max(days, OFFBOARDING_RETENTION_DAYS)
    system = stack.resource("oci_psql_db_system", "main", {
        "compartment_id": compartment,
        "display_name": name(ctx, DISPLAY_NAME, "postgres"),
        "description": f"paybill {ctx.address} PostgreSQL",
        "db_version": POSTGRES_VERSION,
        "shape": PSQL_SHAPE,
        "instance_ocpu_count": size.db_ocpus,
        "instance_memory_size_in_gbs": size.db_memory_gb,
        "instance_count": 2 if sizing.high_availability else 1,
        "storage_details": {"system_type": "OCI_OPTIMIZED_STORAGE", "is_regionally_durable": True},
        "network_details": {"subnet_id": network.subnets["db"], "nsg_ids": [network.db_nsg_id]},
        "credentials": {
            "username": "paybill_admin",
            "password_details": {"password_type": "VAULT_SECRET", "secret_id": secret[0],
                                 "secret_version": secret[1]},
        },
        "management_policy": {
            "backup_policy": {"kind": "DAILY", "backup_start": "03:00", "retention_days": days},
            "maintenance_window_start": "sun 04:00",
        },
        "freeform_tags": tags(ctx),
        "lifecycle": {"prevent_destroy": True},
    })
    return PsqlSystem(system.attr("id"), system.attr("network_details", "0", "primary_db_endpoint_private_ip"))


def emit_bucket(stack: Stack, ctx: Ctx, local: str, *, compartment: Expr, key: Expr, log_group: Expr,
                offboarding: bool, depends_on: list[str]) -> Expr:
    """A private bucket named after its owner; returns its name."""
    ns = namespace(stack, ctx)
    bucket = stack.resource("oci_objectstorage_bucket", local, {
        "compartment_id": compartment,
        "namespace": ns,
        "name": name(ctx, BUCKET_NAME, "data"),
        "access_type": "NoPublicAccess",
        "storage_tier": "Standard",
        "versioning": "Enabled",
        "kms_key_id": key,
        "object_events_enabled": True,
        "freeform_tags": tags(ctx),
        "lifecycle": {"prevent_destroy": True},
        **waits(depends_on),
    })
    stack.resource("oci_objectstorage_object_lifecycle_policy", local, {
        "namespace": ns,
        "bucket": bucket.attr("name"),
        "rules": [{
            "name": "expire-previous-versions",
            "action": "DELETE",
            "target": "previous-object-versions",
            "is_enabled": True,
            "time_amount": OFFBOARDING_RETENTION_DAYS if offboarding else PREVIOUS_VERSION_DAYS,
            "time_unit": "DAYS",
        }],
        **waits(depends_on),
    })
    for category in ("read", "write"):
        service_log(stack, ctx, f"{local}_{category}",
                    display_name=name(ctx, DISPLAY_NAME, local, category),
                    log_group=log_group, compartment=compartment, service="objectstorage", category=category,
                    resource=bucket.attr("name"))
    return bucket.attr("name")
