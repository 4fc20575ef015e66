"""Google Cloud: the one sizing table, the name rules and the constants every GCP layer shares."""

from __future__ import annotations

from dataclasses import dataclass

from paybill.emit.terraform.postgres_versions import postgres_major
from paybill.providers.gcp import PROFILE


@dataclass(frozen=True, slots=True)
class GcpSize:
    """Concrete Google Cloud capacity for one abstract size (each layer reads its own columns)."""

    sql_tier: str
    """Cloud SQL Enterprise edition custom tier (vCPU, memory MiB)."""
    node_machine: str
    """GKE node machine type (pool clusters)."""
    nodes_min: int
    nodes_max: int
    """Total node count bounds of the regional node pool (all zones together)."""
    run_cpu: str
    run_memory: str
    run_min: int
    run_max: int
    """Cloud Run limits and instance bounds (silo compute)."""


SIZES: dict[str, GcpSize] = {
    "xsmall": GcpSize("db-custom-1-3840", "e2-standard-2", 1, 3, "1", "512Mi", 0, 2),
    "small": GcpSize("db-custom-2-7680", "e2-standard-4", 1, 6, "1", "1Gi", 0, 4),
    "medium": GcpSize("db-custom-4-15360", "n2-standard-4", 3, 9, "2", "2Gi", 1, 10),
    "large": GcpSize("db-custom-8-30720", "n2-standard-8", 3, 15, "4", "4Gi", 1, 20),
    "xlarge": GcpSize("db-custom-16-61440", "n2-standard-16", 6, 30, "8", "8Gi", 2, 40),
}

POSTGRES_VERSION = f"POSTGRES_{postgres_major('gcp')}"
"""Cloud SQL ``database_version`` (the major from :mod:`paybill.emit.terraform.postgres_versions`)."""
OFFBOARDING_RETENTION_DAYS = 90
"""Backups kept for an offboarding tenant (export window), whatever the plan says."""
PITR_DAYS_MAX = 7
"""Cloud SQL Enterprise edition keeps transaction logs for point-in-time recovery 1-7 days."""
KEY_ROTATION = "7776000s"
"""90 days."""
KEY_DESTROY_DELAY = "2592000s"
"""30 days between a key version's destruction request and its destruction (immutable once set)."""
PODS_RANGE = "100.64.0.0/14"
SERVICES_RANGE = "100.68.0.0/20"
"""GKE secondary ranges (RFC 6598 shared space): VPC-local, so every pool VPC can use the same ones."""
BOOTSTRAP_IMAGE = "us-docker.pkg.dev/cloudrun/container/hello"
"""First revision of a silo tenant's Cloud Run service; the deploy pipeline owns every later image."""
SERVICE_AGENTS = {
    "sql": "gcp-sa-cloud-sql",
    "storage": "gs-project-accounts",
    "gke": "container-engine-robot",
    "compute": "compute-system",
    "run": "serverless-robot-prod",
}
"""Google-managed service agents (``service-<project number>@<domain>.iam.gserviceaccount.com``) that
must be allowed to use a customer-managed key before the service can encrypt with it."""

# Name rules (Google Cloud documentation: resource naming conventions per product).
COMPUTE_NAME = PROFILE.name_rule("gcp-compute")
KEY_RING_NAME = PROFILE.name_rule("gcp-kms-key-ring")
CRYPTO_KEY_NAME = PROFILE.name_rule("gcp-kms-crypto-key")
SQL_INSTANCE_NAME = PROFILE.name_rule("gcp-sql-instance")
SQL_DATABASE_NAME = PROFILE.name_rule("gcp-sql-database")
BUCKET_NAME = PROFILE.name_rule("gcs-bucket")
SERVICE_ACCOUNT_ID = PROFILE.name_rule("gcp-service-account")
GKE_NAME = PROFILE.name_rule("gke")
K8S_NAME = PROFILE.name_rule("k8s-namespace")
RUN_SERVICE_NAME = PROFILE.name_rule("cloud-run-service")
