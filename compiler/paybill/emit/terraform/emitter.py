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
from paybill.graph.stacks import StackUnit, removed_stacks, stack_units
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


def _pool_stack(unit: StackUnit, index: SpecIndex, names: NameRegistry, networks: dict[str, str],
                members: dict[str, list[str]]) -> tuple[Stack, StackInfo] | None:
    doc = unit.owner
    cloud_doc = index.get("Cloud", doc.model.spec.cloud)
    provider = cloud_doc.model.spec.provider
    if provider not in CLOUD_EMITTERS or doc.ref not in networks:
        return None
    pctx = PoolContext(doc, doc.model, cloud_doc.model, cloud_doc, networks[doc.ref], names,
                       sorted(members.get(doc.name, [])))
    stack = _new_stack(pctx.address, [doc.path, cloud_doc.path], cloud_doc, pctx.region, pctx.tags)
    CLOUD_EMITTERS[provider].emit_pool(pctx, stack)
    return stack, StackInfo(stack.address, stack.path, "pool", cloud_doc.name, provider,
                            tuple(sorted(stack.sources)), (), stack.resource_count())


def _tenant_stack(unit: StackUnit, index: SpecIndex, names: NameRegistry,
                  networks: dict[str, str]) -> tuple[Stack, StackInfo] | None:
    doc = unit.owner
    tenant = doc.model
    cloud_doc = index.get("Cloud", tenant.spec.placement.cloud)
    provider = cloud_doc.model.spec.provider
    if provider not in CLOUD_EMITTERS:
        return None
    layers = plan_layers(tenant)
    if layers.silo("network") and doc.ref not in networks:
        return None  # a network diagnostic was reported
    plan_doc = index.get("Plan", tenant.spec.plan)
    pool_doc = index.get("Pool", tenant.spec.placement.pool) if tenant.spec.placement.pool else None
    tctx = TenantContext(doc, tenant, plan_doc.model, cloud_doc.model, cloud_doc,
                         pool_doc.model if pool_doc else None, layers, networks.get(doc.ref), names)
    sources = [doc.path, plan_doc.path, cloud_doc.path] + ([pool_doc.path] if pool_doc else [])
    stack = _new_stack(tctx.address, sources, cloud_doc, tctx.region, tctx.tags)
    for pool_address in unit.depends_on:  # the unit says when the tenant reads its pool's outputs
        stack.data_source("terraform_remote_state", POOL_STATE,
                          remote_state_body(cloud_doc.model.spec.state_backend, pool_address))
    stack.depends_on_stacks = list(unit.depends_on)
    CLOUD_EMITTERS[provider].emit_tenant(tctx, stack)
    return stack, StackInfo(stack.address, stack.path, "tenant", cloud_doc.name, provider,
                            tuple(sorted(stack.sources)), unit.depends_on, stack.resource_count())


def build_stacks(ctx: EmitContext) -> tuple[list[Stack], TerraformResult]:
    """Build every stack in memory (validation has passed, so every reference resolves).

    Which stacks exist and what each reads comes from :func:`paybill.graph.stacks.stack_units`, the
    layout the graph, the waves and the manifest use too; this function only fills them in.
    """
    index = ctx.index
    units = ctx.shared.get("stack_units") or stack_units(index)
    names = NameRegistry(ctx.sink)
    networks = allocate_networks(_network_claims(index), ctx.sink)
    members: dict[str, list[str]] = {}
    for unit in units:
        if unit.kind == "tenant" and unit.owner.model.spec.placement.pool:
            members.setdefault(unit.owner.model.spec.placement.pool, []).append(unit.owner.name)
    result = TerraformResult(removed=[unit.address for unit in removed_stacks(index)])
    stacks: list[Stack] = []
    for unit in units:
        built = (_pool_stack(unit, index, names, networks, members) if unit.kind == "pool"
                 else _tenant_stack(unit, index, names, networks))
        if built is not None:
            stacks.append(built[0])
            result.stacks.append(built[1])
    return stacks, result


def emit_terraform(ctx: EmitContext) -> OutputTree:
    """The ``terraform/`` part of the output tree; stack facts go to ``ctx.shared['terraform']``."""
    stacks, result = build_stacks(ctx)
    ctx.shared["terraform"] = result
    return {stack.path: stack.render() for stack in stacks}


TERRAFORM_EMITTER = Emitter(name="terraform", emit=emit_terraform)
