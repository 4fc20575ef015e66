"""IBM Cloud compute layer (IBM Cloud Kubernetes Service on VPC).

* Pool: a shared VPC cluster across three zones, private service endpoint only (public endpoint
  disabled), outbound traffic protection on, secrets encrypted with the pool's root key (``kms_config``)
  and worker boot volumes with it too; its default worker pool is sized from the pool spec.
* Pooled tenant: its own worker pool on the shared cluster, labelled and tainted
  ``paybill-tenant=<tenant>`` so only the tenant's pods (tolerating the taint, selecting the label)
  land on its workers. IBM Cloud has no namespace resource in its provider, and a worker pool gives
  the tenant dedicated workers and a compute knob of its own inside the shared control plane.
  Suspended: the worker pool is removed (compute zero; the tenant's pods stay pending).
* Silo tenant: a dedicated cluster (in its own VPC when the network is silo) with one small system
  worker per zone, plus the same tenant worker pool sized from the plan. Suspended: the tenant worker
  pool is removed; only the system workers remain.

Code Engine was the alternative; it needs a container image in every app definition, which specs
do not carry, so the unit here is infrastructure the deploy pipeline fills.
"""

from __future__ import annotations

from paybill.emit.terraform.context import TenantContext
from paybill.emit.terraform.expr import Expr
from paybill.emit.terraform.providers.ibm.common import Ctx, name, tags, waits
from paybill.emit.terraform.providers.ibm.network import IbmNetwork
from paybill.emit.terraform.providers.ibm.security import IbmKeys
from paybill.emit.terraform.providers.ibm.sizing import CLUSTER_NAME, SIZES, WORKER_POOL_NAME
from paybill.emit.terraform.stack import Stack


def emit_cluster(stack: Stack, ctx: Ctx, *, network: IbmNetwork, resource_group: Expr, keys: IbmKeys,
                 flavor: str, workers_per_zone: int, depends_on: list[str]) -> Expr:
    """A private VPC cluster; returns its id."""
    cluster = stack.resource("ibm_container_vpc_cluster", "main", {
        "name": name(ctx, CLUSTER_NAME),
        "vpc_id": network.vpc_id,
        "resource_group_id": resource_group,
        "flavor": flavor,
        "worker_count": workers_per_zone,
        "zones": [{"name": zone, "subnet_id": subnet} for zone, subnet in network.subnets],
        "disable_public_service_endpoint": True,
        "disable_outbound_traffic_protection": False,
        "security_groups": [network.security_group_id],
        "kms_config": {"instance_id": keys.instance_guid, "crk_id": keys.key_id, "private_endpoint": True},
        "kms_instance_id": keys.instance_guid,
        "crk": keys.key_id,
        "worker_labels": {"paybill-owner": ctx.name},
        "wait_till": "IngressReady",
        "tags": tags(ctx),
        **waits(depends_on),
    })
    return cluster.attr("id")


def emit_tenant_workers(stack: Stack, ctx: TenantContext, *, cluster: Expr, network: IbmNetwork,
                        resource_group: Expr, keys: IbmKeys) -> None:
    """The tenant's worker pool (none while suspended)."""
    if ctx.suspended:
        return
    size = SIZES[ctx.sizing.compute]
    stack.resource("ibm_container_vpc_worker_pool", "tenant", {
        "cluster": cluster,
        "worker_pool_name": name(ctx, WORKER_POOL_NAME),
        "vpc_id": network.vpc_id,
        "resource_group_id": resource_group,
        "flavor": size.worker_flavor,
        "worker_count": size.workers_per_zone,
        "zones": [{"name": zone, "subnet_id": subnet} for zone, subnet in network.subnets],
        "labels": {"paybill-tenant": ctx.name},
        "taints": [{"key": "paybill-tenant", "value": ctx.name, "effect": "NoSchedule"}],
        "security_groups": [network.security_group_id],
        "kms_instance_id": keys.instance_guid,
        "crk": keys.key_id,
    })

