"""IBM Cloud: the one sizing table, the name rules and the constants every IBM layer shares."""

from __future__ import annotations

from dataclasses import dataclass

from paybill.emit.terraform.postgres_versions import postgres_major
from paybill.providers.ibm import PROFILE


@dataclass(frozen=True, slots=True)
class IbmSize:
    """Concrete IBM Cloud capacity for one abstract size (each layer reads its own columns)."""

    db_cpus: int
    db_memory_mb: int
    """Databases for PostgreSQL (classic ``standard`` plan), per member."""
    worker_flavor: str
    workers_per_zone: int
    """VPC worker pool flavor and workers per zone (pool clusters and tenant worker pools)."""


SIZES: dict[str, IbmSize] = {
    "xsmall": IbmSize(0, 4096, "bx2.2x8", 1),
    "small": IbmSize(3, 8192, "bx2.4x16", 1),
    "medium": IbmSize(6, 16384, "bx2.8x32", 1),
    "large": IbmSize(12, 32768, "bx2.16x64", 2),
    "xlarge": IbmSize(24, 65536, "bx2.32x128", 3),
}
"""``db_cpus`` 0 means shared CPU (no dedicated cores), the smallest classic allocation."""

POSTGRES_VERSION = str(postgres_major("ibm"))
"""``ibm_database.version`` (the major from :mod:`paybill.emit.terraform.postgres_versions`)."""
DATABASE_SERVICE = "databases-for-postgresql"
DATABASE_PLAN = "standard"
"""The classic plan: the one that supports backup encryption with a customer key (Gen2 does not)."""
ZONES = 3
SYSTEM_WORKER_FLAVOR = "bx2.4x16"
"""Default worker pool of a dedicated (silo) cluster: one small worker per zone for cluster add-ons."""
OFFBOARDING_RETENTION_DAYS = 90
NONCURRENT_DAYS = 30
KEY_ROTATION_MONTHS = 3
GIB = 1024**3

# Name rules (IBM Cloud documentation).
RESOURCE_GROUP_NAME = PROFILE.name_rule("ibm-resource-group")
VPC_NAME = PROFILE.name_rule("ibm-vpc")
INSTANCE_NAME = PROFILE.name_rule("ibm-resource-instance")
CLUSTER_NAME = PROFILE.name_rule("ibm-cluster")
WORKER_POOL_NAME = PROFILE.name_rule("ibm-worker-pool")
KEY_NAME = PROFILE.name_rule("ibm-kms-key")
BUCKET_NAME = PROFILE.name_rule("ibm-cos-bucket")
IAM_NAME = PROFILE.name_rule("ibm-iam")
