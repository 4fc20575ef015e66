"""Google Cloud: the one sizing table, the name rules and the constants every GCP layer shares."""

from __future__ import annotations

from dataclasses import dataclass

from paybill.emit.terraform.naming import NameRule
from paybill.emit.terraform.postgres_versions import postgres_major


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
COMPUTE_NAME = NameRule("gcp-compute", 63)
"""Networks, subnetworks, firewalls, routers, addresses: RFC 1035, 1-63."""
KEY_RING_NAME = NameRule("gcp-kms-key-ring", 63, alphabet="a-z0-9_-")
"""Key rings are permanent in Cloud KMS (never deleted), so their names can never be reused."""
CRYPTO_KEY_NAME = NameRule("gcp-kms-crypto-key", 63, alphabet="a-z0-9_-")
SQL_INSTANCE_NAME = NameRule("gcp-sql-instance", 63)
"""Lower case, digits, hyphens; ``project:instance`` <= 98 holds for any 30-character project id."""
SQL_DATABASE_NAME = NameRule("gcp-sql-database", 63, alphabet="a-z0-9_", separator="_")
BUCKET_NAME = NameRule("gcs-bucket", 63, scope="global")
"""Globally unique across Google Cloud, 3-63; the project id is part of every derived name."""
SERVICE_ACCOUNT_ID = NameRule("gcp-service-account", 30, min_len=6)
GKE_NAME = NameRule("gke", 40)
"""Clusters and node pools: 1-40."""
K8S_NAME = NameRule("k8s-namespace", 63)
"""Fleet scopes, namespaces and membership bindings: RFC 1123 labels."""
RUN_SERVICE_NAME = NameRule("cloud-run-service", 49)
