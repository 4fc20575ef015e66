"""Every cloud's quota table, by provider."""

from __future__ import annotations

from paybill.quotas import aws, azure, gcp, ibm, oci
from paybill.quotas.model import Quota

QUOTAS: dict[str, tuple[Quota, ...]] = {"aws": aws.QUOTAS, "azure": azure.QUOTAS, "gcp": gcp.QUOTAS,
                                        "ibm": ibm.QUOTAS, "oci": oci.QUOTAS}


def quota_names(provider: str) -> list[str]:
    return sorted(q.name for q in QUOTAS.get(provider, ()))
