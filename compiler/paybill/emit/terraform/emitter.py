"""Drive Terraform emission: one stack per pool and per live tenant, handed to its cloud's emitter."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field

from paybill.diagnostics import Diagnostic, DiagnosticSink
from paybill.emit.contract import EmitContext, Emitter, OutputTree
from paybill.emit.terraform.backend import backend_block, remote_state_body
from paybill.emit.terraform.context import PoolContext, TenantContext
from paybill.emit.terraform.decommission import as_last_live, lift_protections, removed_path
from paybill.emit.terraform.naming import Claim, NameRegistry
from paybill.emit.terraform.network import NetworkClaim, allocate_networks
from paybill.emit.terraform.providers import CLOUD_EMITTERS
from paybill.emit.terraform.remote import POOL_STATE, pool_output
from paybill.emit.terraform.stack import Stack
from paybill.forked import split_in_two
from paybill.graph.planner import plan_layers
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


@dataclass(frozen=True)
class RemovedInfo:
    """A deleted tenant's decommission configuration (see :mod:`paybill.emit.terraform.decommission`)."""

    address: str
    path: str
    resources: int
    unprotect: tuple[str, ...]


@dataclass
class TerraformResult:
    stacks: list[StackInfo] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    decommissioned: list[RemovedInfo] = field(default_factory=list)


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


@dataclass
class _Setup:
    """What building any one stack needs; computed once, before stacks are built (and shared by forks)."""

    index: SpecIndex
    names: NameRegistry
    networks: dict[str, str]
    members: dict[str, list[str]]


def _pool_stack(unit: StackUnit, setup: _Setup) -> tuple[Stack, StackInfo] | None:
    index, doc = setup.index, unit.owner
    cloud_doc = index.get("Cloud", doc.model.spec.cloud)
    provider = cloud_doc.model.spec.provider
    if provider not in CLOUD_EMITTERS or doc.ref not in setup.networks:
        return None
    pctx = PoolContext(doc, doc.model, cloud_doc.model, cloud_doc, setup.networks[doc.ref], setup.names,
                       sorted(setup.members.get(doc.name, [])))
    stack = _new_stack(pctx.address, [doc.path, cloud_doc.path], cloud_doc, pctx.region, pctx.tags)
    CLOUD_EMITTERS[provider].emit_pool(pctx, stack)
    return stack, StackInfo(stack.address, stack.path, "pool", cloud_doc.name, provider,
                            tuple(sorted(stack.sources)), (), stack.resource_count())


def _tenant_stack(unit: StackUnit, setup: _Setup) -> tuple[Stack, StackInfo] | None:
    index, networks, doc = setup.index, setup.networks, unit.owner
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
                         pool_doc.model if pool_doc else None, layers, networks.get(doc.ref), setup.names)
    sources = [doc.path, plan_doc.path, cloud_doc.path] + ([pool_doc.path] if pool_doc else [])
    stack = _new_stack(tctx.address, sources, cloud_doc, tctx.region, tctx.tags)
    for pool_address in unit.depends_on:  # the unit says when the tenant reads its pool's outputs
        stack.data_source("terraform_remote_state", POOL_STATE,
                          remote_state_body(cloud_doc.model.spec.state_backend, pool_address))
    stack.depends_on_stacks = list(unit.depends_on)
    CLOUD_EMITTERS[provider].emit_tenant(tctx, stack)
    return stack, StackInfo(stack.address, stack.path, "tenant", cloud_doc.name, provider,
                            tuple(sorted(stack.sources)), unit.depends_on, stack.resource_count())


def _decommission_stack(unit: StackUnit, setup: _Setup) -> tuple[str, bytes, RemovedInfo] | None:
    """The decommission configuration of a deleted tenant's stack: its last live stack, protections lifted.

    Its cloud names and network are derived again outside the live registries: they are pure
    functions of the tenant's name and specs, and a deleted tenant must not make live ones collide.
    """
    live = dataclasses.replace(unit, owner=as_last_live(unit.owner))
    tenant = live.owner.model
    cloud = setup.index.model("Cloud", tenant.spec.placement.cloud)
    networks: dict[str, str] = {}
    if tenant.layer_placement("network") == "silo":
        claim = NetworkClaim(live.owner, tenant.spec.placement.cloud, cloud.spec.address_space,
                             tenant.spec.placement.network_cidr, ("spec", "placement", "networkCidr"))
        networks = allocate_networks([claim], DiagnosticSink())
    quiet = _Setup(setup.index, NameRegistry(DiagnosticSink()), networks, setup.members)
    built = _tenant_stack(live, quiet)
    if built is None:
        return None
    stack, info = built
    lifted = lift_protections(stack.resources)
    path = removed_path(unit.address)
    return path, stack.render(), RemovedInfo(unit.address, path, info.resources, tuple(lifted.unprotect))


def _prepare(ctx: EmitContext) -> tuple[_Setup, list[StackUnit], TerraformResult]:
    index = ctx.index
    units = ctx.shared.get("stack_units") or stack_units(index)
    names = NameRegistry(ctx.sink)
    networks = allocate_networks(_network_claims(index), ctx.sink)
    members: dict[str, list[str]] = {}
    for unit in units:
        if unit.kind == "tenant" and unit.owner.model.spec.placement.pool:
            members.setdefault(unit.owner.model.spec.placement.pool, []).append(unit.owner.name)
    result = TerraformResult(removed=[unit.address for unit in removed_stacks(index)])
    return _Setup(index, names, networks, members), units, result


def _build(units: list[StackUnit], setup: _Setup) -> Iterator[tuple[Stack, StackInfo]]:
    for unit in units:
        built = _pool_stack(unit, setup) if unit.kind == "pool" else _tenant_stack(unit, setup)
        if built is not None:
            yield built


def build_stacks(ctx: EmitContext) -> tuple[list[Stack], TerraformResult]:
    """Build every stack in memory (validation has passed, so every reference resolves).

    Which stacks exist and what each reads comes from :func:`paybill.graph.stacks.stack_units`, the
    layout the graph, the waves and the manifest use too; this function only fills them in.
    """
    setup, units, result = _prepare(ctx)
    stacks: list[Stack] = []
    for stack, info in _build(units, setup):
        stacks.append(stack)
        result.stacks.append(info)
    return stacks, result


Rendered = tuple[list[tuple[str, bytes]], list[StackInfo]]


def _render(units: list[StackUnit], setup: _Setup) -> Rendered:
    files, infos = [], []
    for stack, info in _build(units, setup):
        files.append((stack.path, stack.render()))
        infos.append(info)
    return files, infos


def _render_apart(
    units: list[StackUnit], setup: _Setup, reported: int
) -> tuple[Rendered, list[Claim], list[Diagnostic]]:
    """:func:`_render` in a helper process, with the name claims and diagnostics it made, for the parent."""
    setup.names.log = []
    rendered = _render(units, setup)
    return rendered, setup.names.log, setup.names.sink.items()[reported:]


PARALLEL_MIN_STACKS = 2000
"""From this many stacks on, the second half is built and rendered by a forked helper process."""


def split_point(units: list[StackUnit]) -> int:
    """Where the helper's share starts: half the stacks (tenant stacks cost about the same each)."""
    return len(units) // 2


def emit_terraform(ctx: EmitContext) -> OutputTree:
    """The ``terraform/`` part of the output tree; stack facts go to ``ctx.shared['terraform']``.

    Large repositories are split in two: a forked helper (:mod:`paybill.forked`) builds the second
    half of the stacks while this process builds the first. The helper's name claims are then
    replayed here, after ours, so name collisions are found and reported exactly as one process
    working in order would.
    """
    setup, units, result = _prepare(ctx)
    reported = len(ctx.sink)
    (files, infos), theirs = split_in_two(units, PARALLEL_MIN_STACKS, lambda part: _render(part, setup),
                                          lambda part: _render_apart(part, setup, reported), split_point)
    if theirs is not None:
        (their_files, their_infos), claims, diagnostics = theirs
        setup.names.replay(claims, ctx.index)
        ctx.sink.extend(diagnostics)
        files += their_files
        infos += their_infos
    result.stacks = infos
    for unit in removed_stacks(ctx.index):
        decommission = _decommission_stack(unit, setup)
        if decommission is not None:
            path, content, removed_info = decommission
            files.append((path, content))
            result.decommissioned.append(removed_info)
    ctx.shared["terraform"] = result
    return dict(files)


TERRAFORM_EMITTER = Emitter(name="terraform", emit=emit_terraform)
