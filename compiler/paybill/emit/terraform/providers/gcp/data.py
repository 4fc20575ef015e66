"""Google Cloud data layers: Cloud SQL for PostgreSQL (private IP only, TLS with client certificates,
IAM database authentication, backups with point-in-time recovery, CMEK, deletion protection) and
Cloud Storage (uniform access, public access prevention, versioning, CMEK, access logs)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from paybill.emit.terraform.expr import Expr
from paybill.emit.terraform.providers.gcp.common import Ctx, name, with_depends
from paybill.emit.terraform.providers.gcp.network import GcpNetwork
from paybill.emit.terraform.providers.gcp.sizing import (
    BUCKET_NAME,
    OFFBOARDING_RETENTION_DAYS,
    PITR_DAYS_MAX,
    POSTGRES_VERSION,
    SIZES,
    SQL_INSTANCE_NAME,
)
from paybill.emit.terraform.stack import Stack
from paybill.models.plan import DatabaseSizing

# Logging flags Google's CIS benchmark asks for on Cloud SQL for PostgreSQL, plus IAM authentication.
DATABASE_FLAGS = (
    ("cloudsql.iam_authentication", "on"),
    ("cloudsql.enable_pgaudit", "on"),
    ("pgaudit.log", "ddl,role"),
    ("log_checkpoints", "on"),
    ("log_hostname", "on"),
    ("log_statement", "ddl"),
    ("log_duration", "on"),
    ("log_connections", "on"),
    ("log_disconnections", "on"),
    ("log_lock_waits", "on"),
    ("log_min_error_statement", "error"),
    ("log_min_messages", "error"),
    ("log_temp_files", "0"),
    ("log_min_duration_statement", "-1"),
)
SOFT_DELETE_SECONDS = 7 * 86400
SOFT_DELETE_OFFBOARDING_SECONDS = 90 * 86400
"""Cloud Storage keeps soft-deleted objects at most 90 days."""
NONCURRENT_DAYS = 30
ACCESS_LOG_DAYS = 365


@dataclass(frozen=True, slots=True)
class SqlInstance:
    name: Expr
    connection_name: Expr
    private_ip: Expr


def retention_days(sizing: DatabaseSizing, offboarding: bool) -> int:
    """Plan retention, raised to the offboarding export window while the tenant leaves."""
    days = sizing.backup_retention_days
    return max(days, OFFBOARDING_RETENTION_DAYS) if offboarding else days


def emit_sql_instance(stack: Stack, ctx: Ctx, sizing: DatabaseSizing, *, key: Expr, network: GcpNetwork,
                      depends_on: list[str], offboarding: bool) -> SqlInstance:
    days = retention_days(sizing, offboarding)
    settings = {
        "tier": SIZES[sizing.size].sql_tier,
        "edition": "ENTERPRISE",
        "availability_type": "REGIONAL" if sizing.high_availability else "ZONAL",
        "disk_type": "PD_SSD",
        "disk_size": sizing.storage_gb,
        "disk_autoresize": True,
        "disk_autoresize_limit": sizing.storage_gb * 4,
        "deletion_protection_enabled": True,
        "retain_backups_on_delete": True,
        "backup_configuration": {
            "enabled": True,
            "start_time": "03:00",
            "point_in_time_recovery_enabled": True,
            "transaction_log_retention_days": min(days, PITR_DAYS_MAX),
            "backup_retention_settings": {"retained_backups": days, "retention_unit": "COUNT"},
        },
        "ip_configuration": {
            "ipv4_enabled": False,
            "private_network": network.network_id,
            "allocated_ip_range": network.psa_range_name,
            "ssl_mode": "TRUSTED_CLIENT_CERTIFICATE_REQUIRED",
            "enable_private_path_for_google_cloud_services": False,
        },
        "database_flags": [{"name": flag, "value": value} for flag, value in DATABASE_FLAGS],
        "insights_config": {
            "query_insights_enabled": True,
            "record_client_address": False,
            "record_application_tags": False,
        },
        "password_validation_policy": {
            "enable_password_policy": True,
            "min_length": 20,
            "complexity": "COMPLEXITY_DEFAULT",
            "disallow_username_substring": True,
        },
        "maintenance_window": {"day": 7, "hour": 4, "update_track": "stable"},
        "user_labels": dict(ctx.tags),
    }
    instance = stack.resource("google_sql_database_instance", "main", with_depends({
        "name": name(ctx, SQL_INSTANCE_NAME),
        "region": ctx.region,
        "database_version": POSTGRES_VERSION,
        "encryption_key_name": key,
        "deletion_protection": True,
        "settings": settings,
    }, depends_on))
    return SqlInstance(instance.attr("name"), instance.attr("connection_name"), instance.attr("private_ip_address"))


def _secure_bucket(ctx: Ctx, role: str, key: Expr) -> dict[str, Any]:
    """What every paybill bucket has: private, uniform access, versioned, encrypted with ``key``."""
    return {
        "name": ctx.claimed(BUCKET_NAME, role),
        "location": ctx.region.upper(),
        "storage_class": "STANDARD",
        "uniform_bucket_level_access": True,
        "public_access_prevention": "enforced",
        "force_destroy": False,
        "versioning": {"enabled": True},
        "encryption": {"default_kms_key_name": key},
        "labels": dict(ctx.tags),
    }


def emit_buckets(stack: Stack, ctx: Ctx, *, key: Expr, depends_on: list[str], offboarding: bool) -> Expr:
    """The data bucket and its access-log bucket; returns the data bucket's name."""
    logs = stack.resource("google_storage_bucket", "access_logs", with_depends({
        **_secure_bucket(ctx, "logs", key),
        "lifecycle_rule": [{"action": {"type": "Delete"}, "condition": {"age": ACCESS_LOG_DAYS}}],
    }, depends_on))
    # Cloud Storage writes usage and access logs as this Google group.
    stack.resource("google_storage_bucket_iam_member", "access_logs_writer", {
        "bucket": logs.attr("name"),
        "role": "roles/storage.objectCreator",
        "member": "group:cloud-storage-analytics@google.com",
    })
    noncurrent = OFFBOARDING_RETENTION_DAYS if offboarding else NONCURRENT_DAYS
    data = stack.resource("google_storage_bucket", "data", with_depends({
        **_secure_bucket(ctx, "data", key),
        "logging": {"log_bucket": logs.attr("name"), "log_object_prefix": "data/"},
        "soft_delete_policy": {
            "retention_duration_seconds": SOFT_DELETE_OFFBOARDING_SECONDS if offboarding else SOFT_DELETE_SECONDS,
        },
        "lifecycle_rule": [{
            "action": {"type": "Delete"},
            "condition": {"days_since_noncurrent_time": noncurrent, "with_state": "ARCHIVED"},
        }],
    }, depends_on))
    return data.attr("name")
