"""IBM Cloud tenant stack: the tenant's resource group and silo layers, and its isolation inside the
pooled ones.

Tenant-owned resources live in the tenant's own resource group when it has any silo layer, in the
pool's otherwise. Every tenant-owned store is encrypted with the tenant's root key (its own Key
Protect instance when keys are silo, the pool's instance when pooled). IAM policies for Cloud Object
Storage are written per bucket, so a pooled tenant's storage is a bucket of its own in the pool's
Object Storage instance (under the tenant's key), and its service ID's policy names that bucket only.
"""

from __future__ import annotations

from paybill.emit.terraform.context import TenantContext
from paybill.emit.terraform.expr import Expr
from paybill.emit.terraform.providers.ibm import compute, data, security
from paybill.emit.terraform.providers.ibm.common import name, tags
from paybill.emit.terraform.providers.ibm.network import IbmNetwork, emit_network
from paybill.emit.terraform.providers.ibm.sizing import RESOURCE_GROUP_NAME, SYSTEM_WORKER_FLAVOR, ZONES
from paybill.emit.terraform.remote import pool_output
from paybill.emit.terraform.stack import Stack


def _resource_group(stack: Stack, ctx: TenantContext) -> Expr:
    if not ctx.layers.silo_layers:
        return pool_output("resource_group_id")
    group = stack.resource("ibm_resource_group", "tenant", {
        "name": name(ctx, RESOURCE_GROUP_NAME),
        "tags": tags(ctx),
    }).attr("id")
    stack.output("resource_group_id", group, "The tenant's own resource group.")
    security.emit_operators(stack, ctx, group)
    return group


def emit_tenant(ctx: TenantContext, stack: Stack) -> None:
    """Validation ran the profile's capability checks (PB0651): the layout is buildable."""
    layers = ctx.layers
    group = _resource_group(stack, ctx)

    if layers.silo("keys"):
        guid = security.emit_kms_instance(stack, ctx, group)
        authorizations = [f"ibm_iam_authorization_policy.{local}_to_kms" for local, _ in security.KMS_CONSUMERS]
    else:
        guid, authorizations = pool_output("kms_instance_guid"), []
    keys = security.emit_root_key(stack, ctx, guid)
    stack.output("data_key_crn", keys.key_crn, "The tenant's root key (CRN).")
    service_id = security.emit_service_id(stack, ctx)
    stack.output("service_id", service_id, "The tenant's workload identity (service ID).")
    security.grant(stack, ctx, "use_root_key", service_id, ["Reader"], {
        "service": "kms", "resource_instance_id": guid, "resource_type": "key", "resource": keys.key_id,
    })

    if layers.silo("storage"):
        cos_id, cos_guid = data.emit_cos_instance(stack, ctx, group)
        waits = authorizations[1:2]
    else:
        cos_id, cos_guid, waits = pool_output("cos_instance_id"), None, []

    if layers.silo("network"):
        assert ctx.network_cidr is not None
        flow_bucket, flow_waits = None, []
        if cos_guid is not None:
            flow_bucket, authorization = data.emit_flow_log_bucket(
                stack, ctx, cos_instance=cos_id, cos_guid=cos_guid, key_crn=keys.key_crn, depends_on=waits)
            flow_waits = [authorization]
        elif ctx.pool is not None and "network" in ctx.pool.spec.layers:
            flow_bucket = pool_output("flow_log_bucket")
        network = emit_network(stack, ctx, ctx.network_cidr, group, flow_bucket, flow_waits)
        stack.output("vpc_id", network.vpc_id, "The tenant's own VPC.")
    else:
        network = IbmNetwork(pool_output("vpc_id"),
                             [(f"{ctx.region}-{i}", pool_output(f"subnet_{i}_id")) for i in range(1, ZONES + 1)],
                             pool_output("security_group_id"))

    if layers.silo("database"):
        database = data.emit_database(stack, ctx, ctx.sizing.database, resource_group=group, keys=keys,
                                      depends_on=authorizations[:1])
        stack.output("database_id", database.id, "The tenant's own Databases for PostgreSQL deployment (CRN).")
    else:
        stack.output("database_id", pool_output("database_id"),
                     "The pool's deployment; the tenant's database and role are created by paybill's SQL output.")

    bucket = data.emit_bucket(stack, ctx, "data", cos_instance=cos_id, key_crn=keys.key_crn,
                              quota_gb=ctx.sizing.storage_gb, offboarding=ctx.offboarding, depends_on=waits)
    stack.output("bucket_name", bucket, "The tenant's bucket.")
    security.grant(stack, ctx, "bucket_objects", service_id, ["Object Writer", "Object Reader"], {
        "service": "cloud-object-storage", "resource_type": "bucket", "resource": bucket,
    })

    if layers.silo("compute"):
        cluster = compute.emit_cluster(stack, ctx, network=network, resource_group=group, keys=keys,
                                       flavor=SYSTEM_WORKER_FLAVOR, workers_per_zone=1,
                                       depends_on=authorizations[2:4])
        stack.output("cluster_id", cluster, "The tenant's dedicated Kubernetes cluster.")
        workers_group = group
    else:
        cluster, workers_group = pool_output("cluster_id"), pool_output("resource_group_id")
    compute.emit_tenant_workers(stack, ctx, cluster=cluster, network=network, resource_group=workers_group,
                                keys=keys)
