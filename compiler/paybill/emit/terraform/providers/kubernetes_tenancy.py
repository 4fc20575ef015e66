"""A tenant's namespace on a pool's shared Kubernetes cluster (pooled compute), for any cloud.

Pooled compute means the tenant's workloads run on the pool's managed cluster (EKS, AKS...). The
unit of isolation there is a Kubernetes namespace with a resource quota, default limits, a network
policy that refuses traffic from other namespaces, Pod Security ``restricted`` enforcement and one
service account the cloud's workload identity is bound to. Those are Kubernetes objects, so they
are created by the ``hashicorp/kubernetes`` provider, configured from the pool stack's outputs
(endpoint and CA read through ``terraform_remote_state``; credentials from the cloud's own token
mechanism). That needs the Terraform runner to reach the cluster's *private* API endpoint (pools
expose no public endpoint), i.e. a runner inside the platform network, the same requirement the
private Key Vault/KMS data planes already impose; we accept it rather than leave namespaces to a
manual step, because a namespace without its quota and network policy is not isolation.

The cloud-side half (an EKS Pod Identity association, an Azure federated credential) lives in the
cloud's module; this module only knows Kubernetes. Suspension sets the quota to zero pods: nothing
new can be scheduled for the tenant while its data stays untouched, and the cloud module denies
the tenant identity so already running pods lose access at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from paybill.emit.terraform.context import TenantContext
from paybill.emit.terraform.expr import Expr, raw
from paybill.emit.terraform.stack import Stack
from paybill.providers.kubernetes import KUBERNETES, NAMESPACE

KUBERNETES_PROVIDER = KUBERNETES.required()
"""The pin, from :mod:`paybill.providers.kubernetes`."""

APP_SERVICE_ACCOUNT = "paybill-app"
"""The service account the tenant's application pods run as; the cloud identity is bound to it."""

SILO_APP_NAMESPACE = "paybill"
"""Namespace of the application on a tenant's dedicated cluster (created by the GitOps deployer)."""


# Namespace quota per abstract compute size: (cpu requests, memory requests, max pods). Limits are
# twice the requests so bursty tenants are not throttled at once, but a tenant can never take the
# whole shared node group.
QUOTAS: dict[str, tuple[int, int, int]] = {
    "xsmall": (1, 2, 10),
    "small": (2, 4, 20),
    "medium": (4, 8, 40),
    "large": (8, 16, 80),
    "xlarge": (16, 32, 160),
}


@dataclass(frozen=True)
class TenantNamespace:
    name: str
    namespace_ref: Expr
    service_account: str


def namespace_name(ctx: TenantContext) -> str:
    return ctx.claimed(NAMESPACE)


def emit_tenant_namespace(
    stack: Stack, ctx: TenantContext, provider_config: dict[str, Any], sa_annotations: dict[str, Any]
) -> TenantNamespace:
    """Namespace, quota, limit range, network policy and service account of one tenant."""
    stack.required_providers["kubernetes"] = dict(KUBERNETES_PROVIDER)
    stack.provider("kubernetes", provider_config)
    name = namespace_name(ctx)
    labels = {
        **ctx.tags,
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/audit": "restricted",
    }
    stack.resource("kubernetes_namespace_v1", "tenant", {"metadata": {"name": name, "labels": labels}})
    ns = raw("kubernetes_namespace_v1.tenant.metadata[0].name")
    cpu, memory, pods = QUOTAS[ctx.sizing.compute]
    stack.resource("kubernetes_resource_quota_v1", "tenant", {
        "metadata": {"name": "paybill-quota", "namespace": ns},
        "spec": {"hard": {
            "requests.cpu": str(cpu),
            "requests.memory": f"{memory}Gi",
            "limits.cpu": str(cpu * 2),
            "limits.memory": f"{memory * 2}Gi",
            # Suspended: nothing new may be scheduled; the data layers are untouched.
            "pods": "0" if ctx.suspended else str(pods),
            "services.loadbalancers": "0",
            "services.nodeports": "0",
        }},
    })
    stack.resource("kubernetes_limit_range_v1", "tenant", {
        "metadata": {"name": "paybill-defaults", "namespace": ns},
        "spec": {"limit": [{
            "type": "Container",
            "default": {"cpu": "500m", "memory": "512Mi"},
            "default_request": {"cpu": "100m", "memory": "128Mi"},
        }]},
    })
    stack.resource("kubernetes_network_policy_v1", "same_namespace_only", {
        "metadata": {"name": "paybill-same-namespace-only", "namespace": ns},
        "spec": {
            "pod_selector": {},
            "policy_types": ["Ingress"],
            "ingress": [{"from": [{"pod_selector": {}}]}],
        },
    })
    stack.resource("kubernetes_service_account_v1", "app", {
        "metadata": {"name": APP_SERVICE_ACCOUNT, "namespace": ns, "labels": dict(ctx.tags),
                     **({"annotations": sa_annotations} if sa_annotations else {})},
        # The workload identity webhooks/agents project their own tokens; the legacy token is not needed.
        "automount_service_account_token": False,
    })
    return TenantNamespace(name, ns, APP_SERVICE_ACCOUNT)
