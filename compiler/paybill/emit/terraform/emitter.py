"""Drive Terraform emission: one stack per pool and per live tenant, handed to its cloud's emitter."""

from __future__ import annotations

from dataclasses import dataclass, field

from paybill.emit.contract import EmitContext, Emitter, OutputTree
from paybill.emit.terraform.backend import backend_block, remote_state_body
from paybill.emit.terraform.context import PoolContext, TenantContext
from paybill.emit.terraform.naming import NameRegistry
from paybill.emit.terraform.network import NetworkClaim, allocate_networks
from paybill.emit.terraform.planner import plan_layers
from paybill.emit.terraform.providers import CLOUD_EMITTERS
from paybill.emit.terraform.remote import POOL_STATE, pool_output
from paybill.emit.terraform.stack import Stack
from paybill.validate.index import SpecIndex

__all__ = ["POOL_STATE", "TERRAFORM_EMITTER", "build_stacks", "emit_terraform", "pool_output"]


@dataclass(frozen=True)
class StackInfo:
    """What the manifest and the graph need to know about an emitted stack."""

    address: str
    path: str
    kind: str  # "pool" | "tenant"
    cloud: str
    provider: str
    sources: tuple[str, ...]
    depends_on: tuple[str, ...]
    resources: int


@dataclass
class TerraformResult:
    stacks: list[StackInfo] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def _network_claims(index: SpecIndex) -> list[NetworkClaim]:
    claims = []
    for doc in index.of_kind("Pool"):
        cloud = index.model("Cloud", doc.model.spec.cloud)
        claims.append(NetworkClaim(doc, doc.model.spec.cloud, cloud.spec.address_space,
                                   doc.model.spec.network_cidr, ("spec", "networkCidr")))
    for doc in index.of_kind("Tenant"):
        tenant = doc.model
        if tenant.spec.lifecycle == "deleted" or tenant.layer_placement("network") != "silo":
            continue
        cloud = index.model("Cloud", tenant.spec.placement.cloud)
        claims.append(NetworkClaim(doc, tenant.spec.placement.cloud, cloud.spec.address_space,
                                   tenant.spec.placement.network_cidr, ("spec", "placement", "networkCidr")))
    return claims


def _new_stack(address: str, sources: list[str], cloud_doc, region: str, tags: dict[str, str]) -> Stack:
    cloud = cloud_doc.model
    stack = Stack(address=address, sources=sources)
    stack.backend = backend_block(cloud.spec.state_backend, address)
    CLOUD_EMITTERS[cloud.spec.provider].configure(stack, cloud, region, tags)
    return stack


def build_stacks(ctx: EmitContext) -> tuple[list[Stack], TerraformResult]:
    """Build every stack in memory (validation has passed, so every reference resolves)."""
    index = ctx.index
    names = NameRegistry(ctx.sink)
    networks = allocate_networks(_network_claims(index), ctx.sink)
    result = TerraformResult()
    stacks: list[Stack] = []
    members: dict[str, list[str]] = {}
    for doc in index.of_kind("Tenant"):
        pool = doc.model.spec.placement.pool
        if pool and doc.model.spec.lifecycle != "deleted":
            members.setdefault(pool, []).append(doc.name)

    for doc in index.of_kind("Pool"):
        pool = doc.model
        cloud_doc = index.get("Cloud", pool.spec.cloud)
        provider = cloud_doc.model.spec.provider
        if provider not in CLOUD_EMITTERS or doc.ref not in networks:
            continue
        pctx = PoolContext(doc, pool, cloud_doc.model, cloud_doc, networks[doc.ref], names,
                           sorted(members.get(doc.name, [])))
        stack = _new_stack(pctx.address, [doc.path, cloud_doc.path], cloud_doc, pctx.region, pctx.tags)
        CLOUD_EMITTERS[provider].emit_pool(pctx, stack)
        stacks.append(stack)
        result.stacks.append(StackInfo(stack.address, stack.path, "pool", cloud_doc.name, provider,
                                       tuple(sorted(stack.sources)), (), stack.resource_count()))

    for doc in index.of_kind("Tenant"):
        tenant = doc.model
        if tenant.spec.lifecycle == "deleted":
            result.removed.append(f"tenant/{doc.name}")
            continue
        cloud_doc = index.get("Cloud", tenant.spec.placement.cloud)
        provider = cloud_doc.model.spec.provider
        if provider not in CLOUD_EMITTERS:
            continue
        plan_doc = index.get("Plan", tenant.spec.plan)
        pool_doc = index.get("Pool", tenant.spec.placement.pool) if tenant.spec.placement.pool else None
        layers = plan_layers(tenant)
        if layers.silo("network") and doc.ref not in networks:
            continue  # a network diagnostic was reported
        tctx = TenantContext(doc, tenant, plan_doc.model, cloud_doc.model, cloud_doc,
                             pool_doc.model if pool_doc else None, layers, networks.get(doc.ref), names)
        sources = [doc.path, plan_doc.path, cloud_doc.path] + ([pool_doc.path] if pool_doc else [])
        stack = _new_stack(tctx.address, sources, cloud_doc, tctx.region, tctx.tags)
        depends: tuple[str, ...] = ()
        if pool_doc is not None and layers.needs_pool:
            stack.data_source("terraform_remote_state", POOL_STATE,
                              remote_state_body(cloud_doc.model.spec.state_backend, tctx.pool_address))
            depends = (tctx.pool_address,)
        stack.depends_on_stacks = list(depends)
        CLOUD_EMITTERS[provider].emit_tenant(tctx, stack)
        stacks.append(stack)
        result.stacks.append(StackInfo(stack.address, stack.path, "tenant", cloud_doc.name, provider,
                                       tuple(sorted(stack.sources)), depends, stack.resource_count()))
    return stacks, result


def emit_terraform(ctx: EmitContext) -> OutputTree:
    """The ``terraform/`` part of the output tree; stack facts go to ``ctx.shared['terraform']``."""
    stacks, result = build_stacks(ctx)
    ctx.shared["terraform"] = result
    return {stack.path: stack.render() for stack in stacks}


TERRAFORM_EMITTER = Emitter(name="terraform", emit=emit_terraform)
