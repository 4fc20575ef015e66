"""The AWS cloud emitter (hashicorp/aws 6.x).

One module per layer (:mod:`.network`, :mod:`.keys`, :mod:`.identity`, :mod:`.database`,
:mod:`.storage`, :mod:`.compute`), the shared scope, names and the one sizing table in
:mod:`.common`. This module only decides the order layers run in, because later layers consume
what earlier ones produced (a database needs the VPC and the key; the tenant role's policy needs
every resource the tenant may touch):

* pool stack: log bucket, network, key, tenant permissions boundary, database, bucket, EKS.
* tenant stack: log bucket (when it has its own VPC or bucket), network (own or the pool's),
  tenant role, keys, database, storage, compute, and last the role's policy. Every layer asks the
  isolation planner (``ctx.layers``) whether it builds a dedicated resource or the tenant's slice
  of the pool's.

Tags: the provider's ``default_tags`` put ``PoolContext.tags`` / ``TenantContext.tags``
(``paybill-tenant``, ``paybill-plan``, ``paybill-isolation``, ``managed-by``...) on every taggable
resource, so resources only add a ``Name`` where the console needs one.
"""

from __future__ import annotations

from typing import Any

from paybill.emit.terraform.context import PoolContext, TenantContext
from paybill.emit.terraform.providers.aws import compute, database, identity, keys, network, storage
from paybill.emit.terraform.providers.aws.common import AWS_PROVIDER, Scope
from paybill.emit.terraform.providers.base import StackEmitter
from paybill.emit.terraform.providers.kubernetes_tenancy import SILO_APP_NAMESPACE, namespace_name
from paybill.emit.terraform.stack import Stack


def configure(stack: Stack, cloud: Any, region: str, tags: dict[str, str]) -> None:
    stack.required_providers["aws"] = dict(AWS_PROVIDER)
    stack.provider("aws", {
        "region": region,
        "allowed_account_ids": [cloud.spec.aws.account_id],
        "default_tags": {"tags": dict(tags)},
    })


def emit_pool(ctx: PoolContext, stack: Stack) -> None:
    scope = Scope(stack, ctx, "pool", ctx.sizing)
    storage.emit_log_bucket(scope)
    scope.network = network.emit_pool_network(scope, ctx.network_cidr)
    scope.compute_cidrs = [ctx.network_cidr]
    scope.compute_vpc_id = scope.network.vpc_id
    keys.emit_pool_keys(scope)
    identity.emit_pool_identity(scope)
    database.emit_pool_database(scope)
    storage.emit_pool_storage(scope)
    compute.emit_pool_compute(scope)


def emit_tenant(ctx: TenantContext, stack: Stack) -> None:
    layers = ctx.layers
    scope = Scope(stack, ctx, "tenant", ctx.sizing)
    if layers.silo("network") or layers.silo("storage"):
        storage.emit_log_bucket(scope)
    scope.network = network.emit_tenant_network(scope)
    # Where the application pods run decides who may reach the database and the access point.
    if layers.silo("compute"):
        scope.compute_cidrs = [scope.network.cidr]
        scope.compute_vpc_id = scope.network.vpc_id
    else:
        scope.compute_cidrs = [network.pool_network().cidr]
        scope.compute_vpc_id = network.pool_network().vpc_id
    if layers.keeps_pooled("compute"):  # during a migration the old pods still reach the new stores
        scope.compute_cidrs.append(network.pool_network().cidr)
    # The role trusts the cluster the application runs on: the pool's until cut-over.
    namespace = SILO_APP_NAMESPACE if layers.active_silo("compute") else namespace_name(ctx)
    identity.declare_tenant_role(scope, cluster_arn=compute.tenant_cluster_arn(scope), namespace=namespace)
    keys.emit_tenant_keys(scope)
    database.emit_tenant_database(scope)
    storage.emit_tenant_storage(scope)
    compute.emit_tenant_compute(scope, namespace)
    identity.finish_tenant_identity(scope)


AWS_EMITTER = StackEmitter("aws", configure, emit_pool, emit_tenant)
