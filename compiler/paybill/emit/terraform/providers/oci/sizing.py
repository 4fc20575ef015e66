"""Oracle Cloud (OCI): the one sizing table, the name rules and the constants every OCI layer shares."""

from __future__ import annotations

from dataclasses import dataclass

from paybill.emit.terraform.postgres_versions import postgres_major
from paybill.providers.oci import PROFILE


@dataclass(frozen=True, slots=True)
class OciSize:
    """Concrete OCI capacity for one abstract size (each layer reads its own columns)."""

    db_ocpus: int
    db_memory_gb: int
    """OCI Database with PostgreSQL flexible shape, per instance node."""
    node_ocpus: int
    node_memory_gb: int
    nodes: int
    """OKE managed node pool (pool clusters and silo tenant clusters): flexible shape and node count."""
    virtual_nodes: int
    """OKE virtual node pool of a pooled tenant on the shared cluster."""


SIZES: dict[str, OciSize] = {
    "xsmall": OciSize(1, 16, 1, 8, 1, 1),
    "small": OciSize(2, 32, 2, 16, 2, 1),
    "medium": OciSize(4, 64, 4, 32, 3, 2),
    "large": OciSize(8, 128, 8, 64, 3, 3),
    "xlarge": OciSize(16, 256, 16, 128, 6, 5),
}

POSTGRES_VERSION = str(postgres_major("oci"))
"""``oci_psql_db_system.db_version`` (the major from :mod:`paybill.emit.terraform.postgres_versions`)."""
PSQL_SHAPE = "PostgreSQL.VM.Standard.E5.Flex"
NODE_SHAPE = "VM.Standard.E5.Flex"
POD_SHAPE = "Pod.Standard.E4.Flex"
OFFBOARDING_RETENTION_DAYS = 90
PREVIOUS_VERSION_DAYS = 30
LOG_RETENTION_DAYS = 90
"""OCI Logging keeps logs 30-180 days, in steps of 30."""
FAULT_DOMAINS = ["FAULT-DOMAIN-1", "FAULT-DOMAIN-2", "FAULT-DOMAIN-3"]
WORKLOAD_KSA = "workload"
"""The Kubernetes service account whose pods act as the tenant (OKE workload identity)."""

# Name rules (OCI documentation: display names are free text; these are the constrained ones).
COMPARTMENT_NAME = PROFILE.name_rule("oci-compartment")
DISPLAY_NAME = PROFILE.name_rule("oci-display-name")
DNS_LABEL = PROFILE.name_rule("oci-dns-label")
BUCKET_NAME = PROFILE.name_rule("oci-bucket")
POLICY_NAME = PROFILE.name_rule("oci-policy")
SECRET_NAME = PROFILE.name_rule("oci-secret")
VAULT_NAME = PROFILE.name_rule("oci-vault")
K8S_NAME = PROFILE.name_rule("oke-name")
