"""The ``hashicorp/kubernetes`` provider, shared by the clouds whose tenants get a namespace on a pool cluster.

Its ForceNew table: ``metadata.name`` and ``metadata.namespace`` "Cannot be updated" (provider docs).
"""

from __future__ import annotations

from paybill.clouds.names import NameClaims, NameRule
from paybill.clouds.profile import ProviderScope, TerraformProvider

_FORCE_NEW: dict[str, tuple[str, ...]] = {
    "kubernetes_limit_range_v1": ("metadata.name", "metadata.namespace", "metadata.generate_name"),
    "kubernetes_namespace_v1": ("metadata.name", "metadata.generate_name"),
    "kubernetes_network_policy_v1": ("metadata.name", "metadata.namespace", "metadata.generate_name"),
    "kubernetes_resource_quota_v1": ("metadata.name", "metadata.namespace", "metadata.generate_name"),
    "kubernetes_service_account_v1": ("metadata.name", "metadata.namespace", "metadata.generate_name"),
}

KUBERNETES = TerraformProvider(
    name="kubernetes",
    source="hashicorp/kubernetes",
    version="~> 3.0",
    checked_major=3,
    force_new=_FORCE_NEW,
    data_stores=frozenset(),
    checked="v3 upgrade guide (docs/guides/v3-upgrade-guide.md): deprecates unversioned names, removes "
            "kubernetes_pod_security_policy, changes no metadata ForceNew of the *_v1 types used here",
    # the cluster is the account: every object lives in it.
    scope=ProviderScope(("host", "config_path", "config_context", "config_context_cluster")),
)
"""hashicorp/kubernetes 3.x is the current major (3.0.0, December 2025); ``*_v1`` resources only."""

NAMESPACE = NameRule("k8s-namespace", 63)
"""A tenant's namespace on a pool cluster (RFC 1123 label)."""


def claim_namespace(claims: NameClaims, tenant: str) -> None:
    """Claim a tenant's namespace on its pool's cluster (read back with ``claims.name(NAMESPACE)``)."""
    claims.add(NAMESPACE, ("tenant", tenant), purpose="Kubernetes namespace on the pool cluster")
