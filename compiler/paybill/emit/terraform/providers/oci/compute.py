"""OCI compute layer (Container Engine for Kubernetes, OKE).

* Pool: an enhanced OKE cluster with a private API endpoint, VCN-native pod networking, Kubernetes
  secrets encrypted with the pool key, and a managed node pool sized from the pool spec (in-transit
  and at-rest encrypted boot volumes, legacy metadata endpoints off).
* Pooled tenant: its own *virtual node pool* on the shared cluster: serverless nodes where every pod
  runs in its own VM-isolated sandbox, labelled and tainted ``paybill-tenant=<tenant>`` so only the
  tenant's pods (which tolerate the taint and select the label) land there; billed per pod. Chosen
  over a bare namespace because OCI has no namespace resource and this gives the tenant hypervisor
  isolation and a compute knob of its own. Suspended: the virtual node pool is removed, the tenant's
  pods stay pending (compute zero), nothing else changes.
* Silo tenant: a dedicated enhanced cluster and managed node pool in the tenant's compartment (and
  its own VCN when the network is silo). Suspended: the node pool is scaled to zero nodes.

Kubernetes versions and node images come from OKE's option data sources at creation time and are
then left alone (``ignore_changes``): upgrades are a deliberate operation, not a side effect of a
compile.
"""

from __future__ import annotations

from paybill.emit.terraform.context import TenantContext
from paybill.emit.terraform.expr import Expr, raw
from paybill.emit.terraform.providers.oci.common import Ctx, availability_domain, name, tags, waits
from paybill.emit.terraform.providers.oci.network import OciNetwork
from paybill.emit.terraform.providers.oci.sizing import (
    DISPLAY_NAME,
    FAULT_DOMAINS,
    K8S_NAME,
    NODE_SHAPE,
    POD_SHAPE,
    SIZES,
)
from paybill.emit.terraform.remote import pool_output
from paybill.emit.terraform.stack import Stack

NODE_IMAGE = (
    "[for s in data.oci_containerengine_node_pool_option.main.sources : s.image_id "
    'if strcontains(s.source_name, "Oracle-Linux-8") '
    '&& strcontains(s.source_name, "OKE-${trimprefix(oci_containerengine_cluster.main.kubernetes_version, "v")}") '
    '&& !strcontains(s.source_name, "aarch64") && !strcontains(s.source_name, "GPU")][0]'
)
"""The newest Oracle Linux 8 OKE image for the cluster's Kubernetes version (x86, no GPU)."""


def emit_cluster(stack: Stack, ctx: Ctx, *, compartment: Expr, network: OciNetwork, key: Expr,
                 node_count: int, depends_on: list[str]) -> Expr:
    """A private enhanced cluster and its managed node pool; returns the cluster id."""
    size = SIZES[ctx.sizing.compute]
    freeform = tags(ctx)
    stack.data_source("oci_containerengine_cluster_option", "main", {"cluster_option_id": "all"})
    cluster = stack.resource("oci_containerengine_cluster", "main", {
        "compartment_id": compartment,
        "name": name(ctx, K8S_NAME),
        "vcn_id": network.vcn_id,
        "type": "ENHANCED_CLUSTER",
        "kubernetes_version": raw("reverse(data.oci_containerengine_cluster_option.main.kubernetes_versions)[0]"),
        "cluster_pod_network_options": [{"cni_type": "OCI_VCN_IP_NATIVE"}],
        "endpoint_config": {
            "is_public_ip_enabled": False,
            "subnet_id": network.subnets["api"],
            "nsg_ids": [network.app_nsg_id],
        },
        "kms_key_id": key,
        "options": {
            "service_lb_subnet_ids": [network.subnets["nodes"]],
            "add_ons": {"is_kubernetes_dashboard_enabled": False, "is_tiller_enabled": False},
            "persistent_volume_config": {"freeform_tags": freeform},
            "service_lb_config": {"freeform_tags": freeform},
        },
        "freeform_tags": freeform,
        "lifecycle": {"ignore_changes": ["kubernetes_version"]},
        **waits(depends_on),
    })
    stack.data_source("oci_containerengine_node_pool_option", "main", {
        "node_pool_option_id": cluster.attr("id"),
        "compartment_id": compartment,
    })
    stack.resource("oci_containerengine_node_pool", "main", {
        "compartment_id": compartment,
        "cluster_id": cluster.attr("id"),
        "name": name(ctx, K8S_NAME, "nodes"),
        "kubernetes_version": cluster.attr("kubernetes_version"),
        "node_shape": NODE_SHAPE,
        "node_shape_config": {"ocpus": size.node_ocpus, "memory_in_gbs": size.node_memory_gb},
        "node_source_details": {"source_type": "IMAGE", "image_id": raw(NODE_IMAGE), "boot_volume_size_in_gbs": 100},
        "node_metadata": {"areLegacyImdsEndpointsDisabled": "true"},
        "node_config_details": {
            "size": node_count,
            "is_pv_encryption_in_transit_enabled": True,
            "kms_key_id": key,
            "nsg_ids": [network.app_nsg_id],
            "placement_configs": [{
                "availability_domain": availability_domain(stack, ctx),
                "subnet_id": network.subnets["nodes"],
                "fault_domains": FAULT_DOMAINS,
            }],
            "node_pool_pod_network_option_details": {
                "cni_type": "OCI_VCN_IP_NATIVE",
                "pod_subnet_ids": [network.subnets["pods"]],
                "pod_nsg_ids": [network.app_nsg_id],
                "max_pods_per_node": 31,
            },
            "freeform_tags": freeform,
        },
        "initial_node_labels": [{"key": "paybill-owner", "value": ctx.name}],
        "freeform_tags": freeform,
        "lifecycle": {"ignore_changes": ["kubernetes_version", "node_source_details[0].image_id"]},
    })
    return cluster.attr("id")


def emit_virtual_node_pool(stack: Stack, ctx: TenantContext, network: OciNetwork) -> None:
    """The pooled tenant's serverless nodes on the shared cluster (none while suspended)."""
    if ctx.suspended:
        return
    freeform = tags(ctx)
    stack.resource("oci_containerengine_virtual_node_pool", "tenant", {
        "compartment_id": pool_output("compartment_id"),
        "cluster_id": pool_output("cluster_id"),
        "display_name": name(ctx, DISPLAY_NAME, "vnodes"),
        "size": SIZES[ctx.sizing.compute].virtual_nodes,
        "nsg_ids": [network.app_nsg_id],
        "placement_configurations": [{
            "availability_domain": availability_domain(stack, ctx),
            "fault_domain": FAULT_DOMAINS,
            "subnet_id": network.subnets["nodes"],
        }],
        "pod_configuration": {
            "shape": POD_SHAPE,
            "subnet_id": network.subnets["pods"],
            "nsg_ids": [network.app_nsg_id],
        },
        "initial_virtual_node_labels": [{"key": "paybill-tenant", "value": ctx.name}],
        "taints": [{"key": "paybill-tenant", "value": ctx.name, "effect": "NoSchedule"}],
        "virtual_node_tags": {"freeform_tags": freeform},
        "freeform_tags": freeform,
    })
