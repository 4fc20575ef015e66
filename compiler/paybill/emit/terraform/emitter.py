"""Drive Terraform emission: one stack per pool and per live tenant, handed to its cloud's emitter."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field

from paybill.clouds.names import NameClaims
from paybill.diagnostics import Diagnostic, DiagnosticSink
from paybill.emit.contract import EmitContext, Emitter, OutputTree
from paybill.emit.terraform.backend import backend_block, remote_state_body
from paybill.emit.terraform.context import PoolContext, TenantContext
from paybill.emit.terraform.decommission import as_last_live, lift_protections, removed_path
from paybill.emit.terraform.providers import CLOUD_EMITTERS
from paybill.emit.terraform.remote import POOL_STATE, pool_output
from paybill.emit.terraform.stack import Stack
from paybill.forked import split_in_two
from paybill.models.tenant import Tenant
from paybill.quotas.usage import stack_usage
from paybill.resolve import ResolvedCloud, ResolvedModel, ResolvedTenant, StackUnit
from paybill.resolve.build import tenant_network_claim
from paybill.resolve.layers import plan_layers
from paybill.resolve.names import tenant_names
from paybill.resolve.network import allocate_networks
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
    quota_usage: tuple[tuple[str, str, int], ...] = ()
    """(quota, scope reference, count) of the cloud quotas this stack uses (:mod:`paybill.quotas.usage`)."""


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


def _new_stack(address: str, sources: list[str], cloud: ResolvedCloud, region: str, tags: dict[str, str]) -> Stack:
    stack = Stack(address=address, sources=sources)
    stack.backend = backend_block(cloud.cloud.spec.state_backend, address)
    CLOUD_EMITTERS[cloud.provider].configure(stack, cloud.cloud, region, tags)
    return stack


@dataclass
class _Setup:
    """What building any one stack needs; computed once, before stacks are built (and shared by forks).

    Everything a stack reads comes from the resolved model: linked objects, allocated networks and
    claimed cloud names (checked for collisions by resolve, PB0601), never a lookup by name.
    """

    model: ResolvedModel

    @property
    def index(self) -> SpecIndex:
        return self.model.index


def _pool_stack(unit: StackUnit, setup: _Setup) -> tuple[Stack, StackInfo] | None:
    pool = setup.model.pools[unit.owner.name]
    cloud = pool.cloud
    if cloud.provider not in CLOUD_EMITTERS or pool.network is None:
        return None  # a warning (PB0695) or a network finding (PB0602, PB0603) was reported
    pctx = PoolContext(pool.document, pool.pool, cloud.cloud, cloud.document, pool.network, list(pool.tenants),
                       pool.names or NameClaims())
    stack = _new_stack(pctx.address, [pool.document.path, cloud.document.path], cloud, pctx.region, pctx.tags)
    CLOUD_EMITTERS[cloud.provider].emit_pool(pctx, stack)
    return stack, StackInfo(stack.address, stack.path, "pool", cloud.name, cloud.provider,
                            tuple(sorted(stack.sources)), (), stack.resource_count(),
                            stack_usage(cloud.provider, stack.resources))


def _tenant_stack(unit: StackUnit, resolved: ResolvedTenant) -> tuple[Stack, StackInfo] | None:
    """The stack of ``resolved`` laid out as ``unit`` (a deleted tenant's last live stack is built too)."""
    cloud, tenant = resolved.cloud, resolved.tenant
    if cloud.provider not in CLOUD_EMITTERS:
        return None
    layers = resolved.layers
    if layers.silo("network") and resolved.network is None:
        return None  # a network finding (PB0602, PB0603) was reported
    plan, pool = resolved.plan, resolved.pool
    tctx = TenantContext(resolved.document, tenant, plan.plan, cloud.cloud, cloud.document,
                         pool.pool if pool else None, layers, resolved.network, resolved.names or NameClaims())
    sources = [resolved.document.path, plan.document.path, cloud.document.path] + ([pool.document.path] if pool else [])
    stack = _new_stack(tctx.address, sources, cloud, tctx.region, tctx.tags)
    for pool_address in unit.depends_on:  # the unit says when the tenant reads its pool's outputs
        stack.data_source("terraform_remote_state", POOL_STATE,
                          remote_state_body(cloud.cloud.spec.state_backend, pool_address))
    stack.depends_on_stacks = list(unit.depends_on)
    CLOUD_EMITTERS[cloud.provider].emit_tenant(tctx, stack)
    return stack, StackInfo(stack.address, stack.path, "tenant", cloud.name, cloud.provider,
                            tuple(sorted(stack.sources)), unit.depends_on, stack.resource_count(),
                            stack_usage(cloud.provider, stack.resources))


def _decommission_stack(unit: StackUnit, setup: _Setup) -> tuple[str, bytes, RemovedInfo] | None:
    """The decommission configuration of a deleted tenant's stack: its last live stack, protections lifted.

    Its cloud names and network are derived again, outside the live model: they are pure functions
    of the tenant's name and specs, and a deleted tenant must not make live ones collide.
    """
    resolved = setup.model.tenants[unit.owner.name]
    live_doc = as_last_live(unit.owner)
    tenant: Tenant = live_doc.model
    layers = plan_layers(tenant)
    network = None
    if layers.silo("network"):
        claim = tenant_network_claim(live_doc, tenant, resolved.cloud)
        network = allocate_networks([claim], DiagnosticSink()).get(live_doc.ref)
    live = dataclasses.replace(resolved, document=live_doc, tenant=tenant, layers=layers, network=network,
                               names=tenant_names(tenant, layers, resolved.pool.pool if resolved.pool else None,
                                                  resolved.cloud))
    built = _tenant_stack(dataclasses.replace(unit, owner=live_doc), live)
    if built is None:
        return None
    stack, info = built
    lifted = lift_protections(stack.resources)
    path = removed_path(unit.address)
    return path, stack.render(), RemovedInfo(unit.address, path, info.resources, tuple(lifted.unprotect))


def _prepare(ctx: EmitContext) -> tuple[_Setup, list[StackUnit], TerraformResult]:
    model = ctx.model()
    result = TerraformResult(removed=[unit.address for unit in model.removed])
    return _Setup(model), list(model.units), result


def _build(units: list[StackUnit], setup: _Setup) -> Iterator[tuple[Stack, StackInfo]]:
    for unit in units:
        if unit.kind == "pool":
            built = _pool_stack(unit, setup)
        else:
            built = _tenant_stack(unit, setup.model.tenants[unit.owner.name])
        if built is not None:
            yield built


def build_stacks(ctx: EmitContext) -> tuple[list[Stack], TerraformResult]:
    """Build every stack in memory (validation has passed, so every reference resolves).

    Which stacks exist and what each reads comes from the resolved model (``ResolvedModel.units``), the
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


def _render_apart(units: list[StackUnit], setup: _Setup, sink: DiagnosticSink) -> tuple[Rendered, list[Diagnostic]]:
    """:func:`_render` in a helper process, with the diagnostics it reported, for the parent."""
    reported = len(sink)
    rendered = _render(units, setup)
    return rendered, sink.items()[reported:]


PARALLEL_MIN_STACKS = 2000
"""From this many stacks on, the second half is built and rendered by a forked helper process."""


def split_point(units: list[StackUnit]) -> int:
    """Where the helper's share starts: half the stacks (tenant stacks cost about the same each)."""
    return len(units) // 2


def emit_terraform(ctx: EmitContext) -> OutputTree:
    """The ``terraform/`` part of the output tree; stack facts go to ``ctx.shared['terraform']``.

    Stacks are filled in from the resolved model (:mod:`paybill.resolve`): the layout, the linked
    cloud, plan and pool of each tenant, and the allocated networks.

    Large repositories are split in two: a forked helper (:mod:`paybill.forked`) builds the second
    half of the stacks while this process builds the first. Stacks share no state while they are
    built (cloud names were claimed, and their collisions reported, by resolve), so the halves are
    independent.
    """
    setup, units, result = _prepare(ctx)
    (files, infos), theirs = split_in_two(units, PARALLEL_MIN_STACKS, lambda part: _render(part, setup),
                                          lambda part: _render_apart(part, setup, ctx.sink), split_point)
    if theirs is not None:
        (their_files, their_infos), diagnostics = theirs
        ctx.sink.extend(diagnostics)
        files += their_files
        infos += their_infos
    result.stacks = infos
    for unit in setup.model.removed:
        decommission = _decommission_stack(unit, setup)
        if decommission is not None:
            path, content, removed_info = decommission
            files.append((path, content))
            result.decommissioned.append(removed_info)
    ctx.shared["terraform"] = result
    return dict(files)


TERRAFORM_EMITTER = Emitter(name="terraform", emit=emit_terraform)
