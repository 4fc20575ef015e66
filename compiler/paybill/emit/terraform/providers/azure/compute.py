"""Azure compute layer: AKS. A shared cluster per pool, a dedicated cluster per silo-compute tenant.

Same choice and reasons as AWS (one deployment target type for every isolation model, one
workload identity mechanism): the tenant's pods run as its user-assigned identity through AKS
workload identity. Clusters are private (API server reachable only inside the VNet), Entra ID
integrated with Azure RBAC for Kubernetes and local accounts disabled, Standard tier (uptime SLA),
Azure CNI overlay with Cilium network policy (pods use 100.64.0.0/16, never the address space),
the OIDC issuer and workload identity on, encryption at host on every node (temp disks and caches;
needs the subscription's ``EncryptionAtHost`` feature), Azure Policy and Container Insights (to the stack's
workspace), automatic patch upgrades. The system pool runs only critical add-ons; tenant
workloads run in a ``workload`` user pool sized from the plan. Suspending a silo tenant scales that
pool to zero nodes (a user pool may; the system pool keeps one small node so the cluster and all
data remain and resuming is one apply).

Node disks: every node's OS disk is *ephemeral* (on the VM's local temp disk, sizes and limits in
``common.SIZES``), and the cluster's disk encryption set encrypts node disks with the stack's own
customer-managed key (the pool's key, a silo tenant's own vault key or its key in the pool vault).
The set has its own system-assigned identity, given *Key Vault Crypto Service Encryption User* on
that one key (RBAC vault, no access policies), and follows key rotation (``auto_key_rotation_enabled``
with the versionless key id). Ephemeral disks pick up a rotated key when a node is reimaged, which
the weekly ``NodeImage`` channel does (Microsoft's BYOK-for-AKS page: "gradual usage of new CMK").
The cluster identity gets *Reader* on the set, which it needs to attach disks encrypted with it.
On an existing cluster, adding the set replaces the cluster (AKS accepts it only at creation), and
the OS disk type change rotates the system pool (``temporary_name_for_rotation``) and replaces the
workload pool.

A pooled tenant gets a namespace on the pool cluster (:mod:`..kubernetes_tenancy`), configured
with ``kubelogin`` from the pool's outputs; the pool grants the Terraform runner *Azure Kubernetes
Service RBAC Cluster Admin* so it can create namespaces.
"""

from __future__ import annotations

from paybill.emit.terraform.expr import Expr, raw, ref
from paybill.emit.terraform.providers.azure.common import (
    AKS_CLUSTER,
    AKS_SERVER_APP_ID,
    DISK_ENCRYPTION_SET,
    IDENTITY,
    KUBERNETES_VERSION,
    SIZES,
    SYSTEM_NODE_OS_DISK_GB,
    SYSTEM_NODE_VM_SIZE,
    Scope,
    client_config,
    pool_output,
    pool_output_inner,
    role_assignment,
)
from paybill.emit.terraform.providers.kubernetes_tenancy import emit_tenant_namespace

ZONES = ["1", "2", "3"]
MAX_PODS = 110
"""Per node; overlay pods do not consume subnet addresses, so the Kubernetes default limit is fine."""


def disk_encryption_set(scope: Scope, cluster_principal: Expr) -> Expr:
    """The set encrypting the cluster's node disks with the stack's key; returns its id."""
    assert scope.cmk_key_id is not None and scope.cmk_key_resource_id is not None
    des = scope.stack.resource("azurerm_disk_encryption_set", "aks", scope.located({
        "name": scope.claimed(DISK_ENCRYPTION_SET),
        "key_vault_key_id": scope.cmk_key_id,
        "auto_key_rotation_enabled": True,
        "encryption_type": "EncryptionAtRestWithCustomerKey",
        "identity": {"type": "SystemAssigned"},
    }))
    role_assignment(scope, "disk_encryption_key_user", scope.cmk_key_resource_id,
                    "Key Vault Crypto Service Encryption User", des.attr("identity", "0", "principal_id"))
    role_assignment(scope, "cluster_disk_encryption_reader", des.attr("id"), "Reader", cluster_principal)
    return des.attr("id")


def own_cluster(scope: Scope) -> None:
    assert scope.network is not None and scope.workspace_id is not None
    stack = scope.stack
    tenant = scope.tenant
    identity = stack.resource("azurerm_user_assigned_identity", "cluster", scope.located({
        "name": scope.claimed(IDENTITY, "aks"),
    }))
    role_assignment(scope, "cluster_network", scope.network.aks_subnet_id, "Network Contributor",
                    identity.attr("principal_id"))
    des_id = disk_encryption_set(scope, identity.attr("principal_id"))
    name = scope.claimed(AKS_CLUSTER)
    cluster = stack.resource("azurerm_kubernetes_cluster", "main", scope.located({
        "name": name,
        "dns_prefix": name[:54].rstrip("-"),
        "kubernetes_version": KUBERNETES_VERSION,
        "sku_tier": "Standard",
        "private_cluster_enabled": True,
        "private_dns_zone_id": "System",
        "local_account_disabled": True,
        "role_based_access_control_enabled": True,
        "azure_active_directory_role_based_access_control": {
            "azure_rbac_enabled": True,
            "tenant_id": scope.azure.tenant_id,
        },
        "oidc_issuer_enabled": True,
        "workload_identity_enabled": True,
        "azure_policy_enabled": True,
        "automatic_upgrade_channel": "patch",
        "node_os_upgrade_channel": "NodeImage",
        "image_cleaner_enabled": True,
        "image_cleaner_interval_hours": 48,
        "identity": {"type": "UserAssigned", "identity_ids": [identity.attr("id")]},
        "disk_encryption_set_id": des_id,
        "default_node_pool": {
            "name": "system",
            "vm_size": SYSTEM_NODE_VM_SIZE,
            "auto_scaling_enabled": True,
            "min_count": 1,
            "max_count": 3,
            "only_critical_addons_enabled": True,
            "vnet_subnet_id": scope.network.aks_subnet_id,
            "zones": ZONES,
            "os_disk_type": "Ephemeral",
            "os_disk_size_gb": SYSTEM_NODE_OS_DISK_GB,
            "host_encryption_enabled": True,
            "max_pods": MAX_PODS,
            "temporary_name_for_rotation": "systemtmp",
            "upgrade_settings": {"max_surge": "10%"},
            "tags": scope.tags,
        },
        "network_profile": {
            "network_plugin": "azure",
            "network_plugin_mode": "overlay",
            "network_policy": "cilium",
            "network_data_plane": "cilium",
            "load_balancer_sku": "standard",
            "outbound_type": "loadBalancer",
            "pod_cidr": "100.64.0.0/16",
            "service_cidr": "172.20.0.0/16",
            "dns_service_ip": "172.20.0.10",
        },
        "node_provisioning_profile": {"mode": "Manual"},
        "oms_agent": {"log_analytics_workspace_id": scope.workspace_id, "msi_auth_for_monitoring_enabled": True},
        "key_vault_secrets_provider": {"secret_rotation_enabled": True},
        "depends_on": ["azurerm_role_assignment.cluster_network", "azurerm_role_assignment.disk_encryption_key_user",
                       "azurerm_role_assignment.cluster_disk_encryption_reader"],
    }))
    size = SIZES[scope.sizing.compute]
    low, desired, high = size.nodes
    pool = {
        "name": "workload",
        "kubernetes_cluster_id": cluster.attr("id"),
        "vm_size": size.node_vm_size,
        "os_disk_type": "Ephemeral",
        "os_disk_size_gb": size.node_os_disk_gb,
        "mode": "User",
        "host_encryption_enabled": True,
        "max_pods": MAX_PODS,
        "vnet_subnet_id": scope.network.aks_subnet_id,
        "zones": ZONES,
        "upgrade_settings": {"max_surge": "33%"},
        "tags": scope.tags,
    }
    if tenant is not None and tenant.suspended:
        pool.update({"auto_scaling_enabled": False, "node_count": 0})  # scaled to zero; data remains
    else:
        pool.update({"auto_scaling_enabled": True, "min_count": low, "node_count": desired, "max_count": high})
    stack.resource("azurerm_kubernetes_cluster_node_pool", "workload", pool)
    role_assignment(scope, "runner_cluster_admin", cluster.attr("id"), "Azure Kubernetes Service RBAC Cluster Admin",
                    client_config(scope))
    scope.oidc_issuer = cluster.attr("oidc_issuer_url")


def emit_pool_compute(scope: Scope) -> None:
    own_cluster(scope)
    cluster = "azurerm_kubernetes_cluster"
    scope.output("aks_cluster_id", ref(cluster, "main", "id"), "The pool's AKS cluster")
    scope.output("aks_oidc_issuer_url", ref(cluster, "main", "oidc_issuer_url"), "OIDC issuer of the cluster")
    scope.output("aks_host", raw(f"{cluster}.main.kube_config[0].host"), "Private API server URL", sensitive=True)
    scope.output("aks_ca", raw(f"{cluster}.main.kube_config[0].cluster_ca_certificate"),
                 "Base64 CA certificate of the API server", sensitive=True)


def emit_tenant_compute(scope: Scope) -> str:
    """Returns the namespace the tenant's application runs in."""
    tenant = scope.tenant
    assert tenant is not None
    layers = tenant.layers
    if layers.silo("compute"):
        from paybill.emit.terraform.providers.kubernetes_tenancy import SILO_APP_NAMESPACE

        own_cluster(scope)
        scope.output("aks_cluster_name", ref("azurerm_kubernetes_cluster", "main", "name"),
                     "The tenant's dedicated AKS cluster")
        if not layers.keeps_pooled("compute"):
            return SILO_APP_NAMESPACE
        # Migrating: the namespace on the pool cluster stays until decommission; the workload
        # identity federates with one cluster, the one the application runs on (the pool's until cut-over).
        own_issuer = scope.oidc_issuer
        name = _pool_namespace(scope)
        if layers.active_silo("compute"):
            scope.oidc_issuer = own_issuer
            return SILO_APP_NAMESPACE
        return name
    return _pool_namespace(scope)


def _pool_namespace(scope: Scope) -> str:
    """The tenant's namespace on the pool's AKS cluster (pooled compute); returns its name."""
    tenant = scope.tenant
    assert tenant is not None
    scope.oidc_issuer = pool_output("aks_oidc_issuer_url")
    ns = emit_tenant_namespace(scope.stack, tenant, {
        "host": pool_output("aks_host"),
        "cluster_ca_certificate": raw(f"base64decode({pool_output_inner('aks_ca')})"),
        "exec": {
            "api_version": "client.authentication.k8s.io/v1beta1",
            "command": "kubelogin",
            "args": ["get-token", "--login", "azurecli", "--server-id", AKS_SERVER_APP_ID],
        },
    }, sa_annotations={"azure.workload.identity/client-id": scope.workload_identity["client_id"]})
    scope.output("namespace", ns.name, "The tenant's namespace on the pool cluster")
    return ns.name
