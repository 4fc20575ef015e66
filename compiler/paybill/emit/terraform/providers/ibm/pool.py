"""IBM Cloud pool stack: the pool's resource group and the shared layers it offers, and its outputs."""

from __future__ import annotations

from paybill.emit.terraform.context import PoolContext
from paybill.emit.terraform.providers.ibm import compute, data, security
from paybill.emit.terraform.providers.ibm.common import name, tags
from paybill.emit.terraform.providers.ibm.network import emit_network
from paybill.emit.terraform.providers.ibm.sizing import RESOURCE_GROUP_NAME, SIZES
from paybill.emit.terraform.stack import Stack


def emit_pool(ctx: PoolContext, stack: Stack) -> None:
    """Validation ran the profile's capability checks (PB0652): the layout is buildable."""
    layers = set(ctx.pool.spec.layers)
    group = stack.resource("ibm_resource_group", "main", {
        "name": name(ctx, RESOURCE_GROUP_NAME),
        "tags": tags(ctx),
    }).attr("id")
    stack.output("resource_group_id", group, "The pool's resource group.")
    # The pool's own root key encrypts every shared store; offering 'keys' also hosts tenants' keys.
    guid = security.emit_kms_instance(stack, ctx, group)
    keys = security.emit_root_key(stack, ctx, guid)
    authorizations = [f"ibm_iam_authorization_policy.{local}_to_kms" for local, _ in security.KMS_CONSUMERS]
    stack.output("kms_instance_guid", guid, "The pool's Key Protect instance (pooled tenants' keys live here).")
    stack.output("data_key_id", keys.key_id, "The pool's root key (id).")
    stack.output("data_key_crn", keys.key_crn, "The pool's root key (CRN).")

    flow_bucket, flow_waits = None, []
    if "storage" in layers or "network" in layers:
        cos_id, cos_guid = data.emit_cos_instance(stack, ctx, group)
        stack.output("cos_instance_id", cos_id, "The pool's Object Storage instance (pooled tenants' buckets).")
        if "network" in layers:
            flow_bucket, authorization = data.emit_flow_log_bucket(
                stack, ctx, cos_instance=cos_id, cos_guid=cos_guid, key_crn=keys.key_crn,
                depends_on=[authorizations[1]])
            flow_waits = [authorization]
            stack.output("flow_log_bucket", flow_bucket, "Bucket receiving VPC flow logs.")
    network = None
    if "network" in layers:
        network = emit_network(stack, ctx, ctx.network_cidr, group, flow_bucket, flow_waits)
        stack.output("vpc_id", network.vpc_id, "Shared VPC.")
        for i, (zone, subnet) in enumerate(network.subnets, start=1):
            stack.output(f"subnet_{i}_id", subnet, f"Shared private subnet in {zone}.")
        stack.output("security_group_id", network.security_group_id, "Security group of application workers.")
    if "database" in layers and network is not None:
        database = data.emit_database(stack, ctx, ctx.sizing.database, resource_group=group, keys=keys,
                                      depends_on=[authorizations[0]])
        stack.output("database_id", database.id, "Shared Databases for PostgreSQL deployment (CRN).")
    if "compute" in layers and network is not None:
        size = SIZES[ctx.sizing.compute]
        cluster = compute.emit_cluster(stack, ctx, network=network, resource_group=group, keys=keys,
                                       flavor=size.worker_flavor, workers_per_zone=size.workers_per_zone,
                                       depends_on=[authorizations[2], authorizations[3]])
        stack.output("cluster_id", cluster, "Shared Kubernetes cluster.")
    stack.output("tenants", ctx.tenants, "Live tenants placed in this pool (documentation only).")
