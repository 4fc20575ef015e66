"""Google Cloud compute layer.

* Pool: one regional, private GKE Standard cluster (private nodes and endpoint, Workload Identity,
  Dataplane V2, Shielded nodes, Binary Authorization, application-layer secrets encryption with the
  pool key) registered in the project's fleet, with an autoscaled node pool sized from the pool spec.
* Pooled tenant: a namespace on that shared cluster, created through GKE fleet team management (a
  fleet scope, a fleet namespace, and a binding of the pool cluster's membership to the scope), and a
  Workload Identity binding so only the tenant namespace's ``workload`` Kubernetes service account
  acts as the tenant's Google service account. Suspended: the binding is dropped, so the namespace
  and its pods leave the shared cluster (compute zero); the scope and namespace definitions stay and
  come back on reactivation. Namespaces hold no data: data lives in the database and storage layers.
* Silo tenant: a dedicated Cloud Run service (its own revisions and instances, its own service
  account and key, internal ingress, Direct VPC egress into the network that holds its database).
  Chosen over a dedicated GKE cluster per tenant because it scales to exactly zero (suspension is
  ``MANUAL`` scaling with zero instances), needs no subnet secondary ranges (so it also fits a
  bridge tenant whose network is the pool's), and costs nothing while idle. The first revision runs
  a public bootstrap image; the deploy pipeline owns the image from then on (``ignore_changes``).
"""

from __future__ import annotations

from paybill.emit.terraform.context import PoolContext, TenantContext
from paybill.emit.terraform.expr import Expr, raw
from paybill.emit.terraform.providers.gcp.common import name, project_id, with_depends
from paybill.emit.terraform.providers.gcp.identity import TenantIdentity
from paybill.emit.terraform.providers.gcp.network import GcpNetwork
from paybill.emit.terraform.providers.gcp.sizing import (
    BOOTSTRAP_IMAGE,
    GKE_NAME,
    K8S_NAME,
    RUN_SERVICE_NAME,
    SERVICE_ACCOUNT_ID,
    SIZES,
)
from paybill.emit.terraform.remote import pool_output
from paybill.emit.terraform.stack import Stack

NODE_ROLES = ("roles/container.defaultNodeServiceAccount", "roles/artifactregistry.reader")
WORKLOAD_KSA = "workload"
"""The Kubernetes service account in a tenant namespace that may act as the tenant (Workload Identity)."""


def workload_pool(ctx: PoolContext | TenantContext) -> str:
    return f"{project_id(ctx)}.svc.id.goog"


def tenant_namespace(ctx: TenantContext) -> str:
    return ctx.claimed(K8S_NAME, "namespace")


def emit_pool_cluster(stack: Stack, ctx: PoolContext, network: GcpNetwork, cidr: str, key: Expr,
                      depends_on: dict[str, str]) -> None:
    project = project_id(ctx)
    size = SIZES[ctx.sizing.compute]
    nodes = stack.resource("google_service_account", "nodes", {
        "account_id": name(ctx, SERVICE_ACCOUNT_ID, "nodes"),
        "display_name": f"paybill pool {ctx.name} GKE nodes",
        "description": "Least-privilege node identity (logs, metrics, image pulls); workloads use Workload Identity.",
    })
    for role in NODE_ROLES:
        stack.resource("google_project_iam_member", "nodes_" + role.split(".")[-1].lower(), {
            "project": project,
            "role": role,
            "member": nodes.attr("member"),
        })
    cluster = stack.resource("google_container_cluster", "main", with_depends({
        "name": name(ctx, GKE_NAME),
        "location": ctx.region,
        "network": network.network_id,
        "subnetwork": network.subnetwork_id,
        "networking_mode": "VPC_NATIVE",
        # Dataplane V2 enforces Kubernetes network policies itself; the Calico add-on stays off.
        "datapath_provider": "ADVANCED_DATAPATH",
        "network_policy": {"enabled": False},
        "ip_allocation_policy": {
            "cluster_secondary_range_name": "pods",
            "services_secondary_range_name": "services",
            "stack_type": "IPV4",
        },
        "private_cluster_config": {
            "enable_private_nodes": True,
            "enable_private_endpoint": True,
            "master_global_access_config": {"enabled": False},
        },
        "master_authorized_networks_config": {
            "cidr_blocks": [{"cidr_block": cidr, "display_name": "pool network"}],
        },
        "master_auth": {"client_certificate_config": {"issue_client_certificate": False}},
        "remove_default_node_pool": True,
        "initial_node_count": 1,
        # The short-lived default pool gets the same hardened identity as the real one.
        "node_config": {
            "service_account": nodes.attr("email"),
            "oauth_scopes": ["https://www.googleapis.com/auth/cloud-platform"],
            "workload_metadata_config": {"mode": "GKE_METADATA"},
            "shielded_instance_config": {"enable_secure_boot": True, "enable_integrity_monitoring": True},
        },
        "deletion_protection": True,
        "release_channel": {"channel": "REGULAR"},
        "workload_identity_config": {"workload_pool": workload_pool(ctx)},
        "enable_shielded_nodes": True,
        "enable_legacy_abac": False,
        "enable_intranode_visibility": True,
        "binary_authorization": {"evaluation_mode": "PROJECT_SINGLETON_POLICY_ENFORCE"},
        "database_encryption": {"state": "ENCRYPTED", "key_name": key},
        "logging_config": {"enable_components": ["SYSTEM_COMPONENTS", "WORKLOADS"]},
        "monitoring_config": {"enable_components": ["SYSTEM_COMPONENTS"], "managed_prometheus": {"enabled": True}},
        "security_posture_config": {"mode": "BASIC", "vulnerability_mode": "VULNERABILITY_BASIC"},
        "maintenance_policy": {"daily_maintenance_window": {"start_time": "03:00"}},
        "fleet": {"project": project},
        "resource_labels": dict(ctx.tags),
    }, [depends_on["gke"]]))
    stack.resource("google_container_node_pool", "general", with_depends({
        "name": "general",
        "cluster": cluster.attr("id"),
        "location": ctx.region,
        "autoscaling": {
            "total_min_node_count": size.nodes_min,
            "total_max_node_count": size.nodes_max,
            "location_policy": "BALANCED",
        },
        "management": {"auto_repair": True, "auto_upgrade": True},
        "upgrade_settings": {"strategy": "SURGE", "max_surge": 1, "max_unavailable": 0},
        "node_config": {
            "machine_type": size.node_machine,
            "image_type": "COS_CONTAINERD",
            "disk_type": "pd-balanced",
            "disk_size_gb": 100,
            "boot_disk_kms_key": key,
            "service_account": nodes.attr("email"),
            "oauth_scopes": ["https://www.googleapis.com/auth/cloud-platform"],
            "workload_metadata_config": {"mode": "GKE_METADATA"},
            "shielded_instance_config": {"enable_secure_boot": True, "enable_integrity_monitoring": True},
            "metadata": {"disable-legacy-endpoints": "true"},
            "resource_labels": dict(ctx.tags),
        },
    }, [depends_on["compute"]]))
    stack.output("cluster_id", cluster.attr("id"), "Shared GKE cluster (id).")
    stack.output("fleet_membership_id", raw("google_container_cluster.main.fleet[0].membership_id"),
                 "Fleet membership of the shared cluster; tenant namespaces bind to it.")
    stack.output("fleet_membership_location", raw("google_container_cluster.main.fleet[0].membership_location"),
                 "Location of that fleet membership.")


def emit_tenant_namespace(stack: Stack, ctx: TenantContext, identity: TenantIdentity) -> None:
    """The tenant's namespace on the pool's shared cluster, and who may act as the tenant in it."""
    labels = dict(ctx.tags)
    namespace = tenant_namespace(ctx)
    scope = stack.resource("google_gke_hub_scope", "tenant", {
        "scope_id": name(ctx, K8S_NAME),
        "namespace_labels": {"paybill-tenant": ctx.name},
        "labels": labels,
    })
    stack.resource("google_gke_hub_namespace", "tenant", {
        "scope_namespace_id": namespace,
        "scope_id": scope.attr("scope_id"),
        "scope": scope.attr("name"),
        "namespace_labels": labels,
        "labels": labels,
    })
    if not ctx.suspended:
        stack.resource("google_gke_hub_membership_binding", "pool_cluster", {
            "membership_binding_id": name(ctx, K8S_NAME, "pool"),
            "scope": scope.attr("name"),
            "membership_id": pool_output("fleet_membership_id"),
            "location": pool_output("fleet_membership_location"),
            "labels": labels,
        })
    stack.resource("google_service_account_iam_member", "workload_identity", {
        "service_account_id": identity.account_name,
        "role": "roles/iam.workloadIdentityUser",
        "member": f"serviceAccount:{workload_pool(ctx)}[{namespace}/{WORKLOAD_KSA}]",
    })
    stack.output("namespace", namespace, "The tenant's namespace on the pool's shared GKE cluster.")


def emit_tenant_service(stack: Stack, ctx: TenantContext, identity: TenantIdentity, network: GcpNetwork,
                        key: Expr, depends_on: dict[str, str]) -> None:
    """The silo tenant's dedicated Cloud Run service."""
    size = SIZES[ctx.sizing.compute]
    labels = dict(ctx.tags)
    if ctx.suspended:
        scaling = {"scaling_mode": "MANUAL", "manual_instance_count": 0}
    else:
        scaling = {"scaling_mode": "AUTOMATIC", "min_instance_count": size.run_min}
    service = stack.resource("google_cloud_run_v2_service", "tenant", with_depends({
        "name": name(ctx, RUN_SERVICE_NAME),
        "location": ctx.region,
        "description": f"paybill tenant {ctx.name} application (silo compute)",
        "ingress": "INGRESS_TRAFFIC_INTERNAL_ONLY",
        "invoker_iam_disabled": False,
        # Compute holds no data: a deleted tenant's stack is destroyed without a manual unlock.
        "deletion_protection": False,
        "scaling": scaling,
        "labels": labels,
        "template": {
            "service_account": identity.email,
            "encryption_key": key,
            "execution_environment": "EXECUTION_ENVIRONMENT_GEN2",
            "max_instance_request_concurrency": 80,
            "timeout": "300s",
            "scaling": {
                "min_instance_count": 0 if ctx.suspended else size.run_min,
                "max_instance_count": size.run_max,
            },
            "vpc_access": {
                "network_interfaces": [{"network": network.network_id, "subnetwork": network.subnetwork_id}],
                "egress": "ALL_TRAFFIC",
            },
            "containers": [{
                "name": "app",
                "image": BOOTSTRAP_IMAGE,
                "ports": {"container_port": 8080},
                "resources": {
                    "limits": {"cpu": size.run_cpu, "memory": size.run_memory},
                    "cpu_idle": True,
                    "startup_cpu_boost": True,
                },
            }],
            "labels": labels,
        },
        "traffic": [{"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", "percent": 100}],
        "lifecycle": {"ignore_changes": ["template[0].containers[0].image", "client", "client_version"]},
    }, [depends_on["run"]]))
    stack.output("service_uri", service.attr("uri"), "Internal URL of the tenant's Cloud Run service.")
