"""Drive Terraform emission: one stack per pool and per live tenant, handed to its cloud's emitter."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from paybill.clouds.names import NameClaims
from paybill.clouds.registry import find as find_profile
from paybill.diagnostics import DiagnosticSink
from paybill.emit.cache import document_fingerprint, unit_key
from paybill.emit.contract import EmitContext, Emitter, OutputTree
from paybill.emit.files import ScratchWriter, Written
from paybill.emit.terraform.backend import backend_block, remote_state_body
from paybill.emit.terraform.context import PoolContext, TenantContext
from paybill.emit.terraform.decommission import as_last_live, lift_protections, removed_path
from paybill.emit.terraform.providers import CLOUD_EMITTERS
from paybill.emit.terraform.remote import POOL_STATE, pool_output
from paybill.emit.terraform.stack import Stack
from paybill.forked import Parallelism
from paybill.load.document import SpecDocument
from paybill.models.tenant import Tenant
from paybill.resolve import ResolvedCloud, ResolvedModel, ResolvedTenant, StackUnit
from paybill.resolve.build import tenant_network_claim
from paybill.resolve.layers import plan_layers
from paybill.resolve.names import tenant_names
from paybill.resolve.network import allocate_networks
from paybill.store import UnitStore
from paybill.validate.index import SpecIndex

__all__ = ["POOL_STATE", "TERRAFORM_EMITTER", "build_stacks", "emit_terraform", "pool_output"]


@dataclass(frozen=True, slots=True)
class StackInfo:
    """What the manifest and the graph need to know about an emitted stack.

    Slotted: the compile keeps one per stack to its end (96,000 at 100,000 tenants), and an
    instance ``__dict__`` cost ~150 bytes each more.
    """

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
                            tuple(sorted(stack.sources)), (), stack.resource_count())


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
                            tuple(sorted(stack.sources)), unit.depends_on, stack.resource_count())


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
        built = _build_stack(unit, setup)
        if built is not None:
            yield built


def _build_stack(unit: StackUnit, setup: _Setup) -> tuple[Stack, StackInfo] | None:
    if unit.kind == "pool":
        return _pool_stack(unit, setup)
    return _tenant_stack(unit, setup.model.tenants[unit.owner.name])


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


@dataclass(frozen=True)
class BuiltStack:
    """One rendered stack: plain data, so it pickles and is stored.

    Building a stack is a pure function of its unit's inputs, and stacks share nothing while they
    are built (their cloud names were claimed, and collisions reported, by resolve: PB0601), so a
    stack built here, in a helper process or read from the unit store is the same.
    """

    path: str
    content: bytes | None
    """The rendered bytes; None: kept in place, the file at the store's ``content_root / path``
    already holds exactly these bytes (the output folder's journal says so: :attr:`UnitStore.in_place`)
    and the writer keeps it without this compile reading it."""
    info: StackInfo
    digest: bytes
    """SHA-256 of ``content`` (stored with it: the entry's own hash covers both)."""

    def to_plain(self, content_root: Path | None = None) -> tuple[object, ...]:
        """The stored form; with ``content_root`` (the output folder this compile is written to) the
        bytes are left out: the file at ``content_root / path`` is read back and checked by digest."""
        content = None if content_root is not None else self.content
        info = self.info  # its fields are immutable: a flat tuple (dataclasses.astuple deep-copies, ~50x slower)
        return (self.path, content, (info.address, info.path, info.kind, info.cloud, info.provider, info.sources,
                                     info.depends_on, info.resources), self.digest)

    @classmethod
    def from_plain(cls, value: object, content_root: Path | None = None,
                   in_place: Mapping[str, bytes] | None = None) -> BuiltStack | None:
        """The stored form back, or None when it is not the shape this code stores, or its bytes
        (left in the output folder) are not there any more with the stored digest.

        ``in_place``: digests of the files in ``content_root`` as its writer recorded them (path ->
        SHA-256); a stack whose file is recorded there with its digest comes back with ``content``
        None (kept in place, not read: the writer verifies before it relies on it)."""
        try:
            path, content, info, digest = cast("tuple[Any, Any, Any, Any]", value)  # checked below
            kept = content is None and in_place is not None and isinstance(path, str) \
                and isinstance(digest, bytes) and in_place.get(path) == digest
            if content is None and content_root is not None and isinstance(path, str) and not kept:
                content = _read_output(content_root, path, digest)
            if not isinstance(content, bytes) and not kept:  # not stored, or its file changed or went away
                return None
            built = cls(path, content, StackInfo(*info), digest)
        except (TypeError, ValueError):
            return None
        ok = isinstance(built.digest, bytes) and len(built.digest) == hashlib.sha256().digest_size
        return built if ok and isinstance(built.path, str) and (kept or isinstance(built.content, bytes)) else None


@dataclass(frozen=True)
class WrittenStack:
    """A stack rendered and already written into the output's scratch tree (:mod:`paybill.emit.files`):
    its bytes are not kept."""

    path: str
    info: StackInfo
    written: Written

    def to_plain(self) -> tuple[object, ...]:
        """The stored form of :meth:`BuiltStack.to_plain` with a ``content_root``: bytes left out."""
        info = self.info  # a flat tuple, as BuiltStack.to_plain (astuple deep-copies: ~15 us a stack)
        return (self.path, None, (info.address, info.path, info.kind, info.cloud, info.provider, info.sources,
                                  info.depends_on, info.resources), self.written.digest)


Built = BuiltStack | WrittenStack
WRITE_CHUNK = 1000
"""Stacks rendered between two writes when a compile streams its output: bounds the bytes held."""


def _read_output(root: Path, path: str, digest: object) -> bytes | None:
    """The bytes of ``root / path`` if they hash to ``digest`` (a file edited, replaced or gone: None)."""
    if ".." in path.split("/") or path.startswith("/"):
        return None
    try:
        with open(os.path.join(root, path), "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    return data if hashlib.sha256(data).digest() == digest else None


def _build_rendered(unit: StackUnit, model: ResolvedModel) -> BuiltStack | None:
    """Build and render ``unit``."""
    built = _build_stack(unit, _Setup(model))
    if built is None:
        return None
    stack, info = built
    content = stack.render()
    # info.path, not stack.path (a property: a new string each call): one path string per stack
    return BuiltStack(info.path, content, info, hashlib.sha256(content).digest())


def _build_all(units: list[StackUnit], model: ResolvedModel, writer: ScratchWriter | None = None
               ) -> list[Built | None]:
    """Build and render ``units``; with ``writer``, write them every :data:`WRITE_CHUNK` stacks and keep
    only their digests (this runs in a forked helper for half the stacks, which then writes its own)."""
    if writer is None:
        return [_build_rendered(unit, model) for unit in units]
    done: list[Built | None] = []
    for start in range(0, len(units), WRITE_CHUNK):
        chunk = [_build_rendered(unit, model) for unit in units[start:start + WRITE_CHUNK]]
        ready = {stack.path: stack.content for stack in chunk if stack is not None and stack.content is not None}
        written = writer.write_now(ready, {stack.path: stack.digest for stack in chunk if stack is not None})
        done.extend(WrittenStack(stack.path, stack.info, written[stack.path]) if stack is not None else None
                    for stack in chunk)
    return done


def split_point(units: list[StackUnit]) -> int:
    """Where the helper's share starts: half the stacks (tenant stacks cost about the same each)."""
    return len(units) // 2


@functools.cache
def _code_identity(provider: str) -> str:
    """Which code builds a provider's stacks and which provider versions it pins (part of every unit key).

    The compiler's own hash is in every stored entry's stamp (:mod:`paybill.store`); this adds what
    that hash cannot see: an emitter or a profile registered at run time (a test's fake cloud).
    """
    emitter = CLOUD_EMITTERS.get(provider)
    profile = find_profile(provider)
    pins = tuple((p.source, p.version) for p in profile.terraform) if profile is not None else ()
    return f"{type(emitter).__module__}.{type(emitter).__qualname__} {pins}"


def _unit_key(unit: StackUnit, model: ResolvedModel, texts: dict[int, tuple[object, bytes | None]] | None = None
              ) -> str | None:
    """A hash of exactly what building ``unit`` reads (None: some input cannot be named, never reused).

    A pool stack reads its pool and cloud documents, its network and the names of its live tenants;
    a tenant stack its tenant, plan, cloud and pool documents (its layer plan and migration come
    from the tenant document), its network and the stacks it depends on. Documents count by path,
    position in the file and the SHA-256 of the file's bytes. The stack's claimed cloud names are
    derived from those same documents (:mod:`paybill.resolve.names`), so they need no part of their own.

    ``texts``: a memo of each document's part (by identity; a plan's or a cloud's is shared by
    thousands of tenants), for :func:`build_units`; the key is the same with or without it.
    """
    if texts is not None and unit.kind == "tenant":
        tenant = model.tenants[unit.owner.name]
        parts: list[bytes | None] = [_text(part) for part in ("tenant", unit.address, unit.depends_on)]
        for document in (tenant.document, tenant.plan.document, tenant.cloud.document):
            parts.append(_document_text(document, texts))
        parts.append(_document_text(tenant.pool.document, texts) if tenant.pool is not None else _text(""))
        parts.extend((_text(tenant.network or ""), _text(_code_identity(tenant.cloud.provider))))
        known = [part for part in parts if part is not None]
        return hashlib.sha256(b"".join(known)).hexdigest() if len(known) == len(parts) else None
    if unit.kind == "pool":
        pool = model.pools[unit.owner.name]
        return unit_key("pool", unit.address, document_fingerprint(pool.document),
                        document_fingerprint(pool.cloud.document), pool.network or "", tuple(pool.tenants),
                        _code_identity(pool.cloud.provider))
    tenant = model.tenants[unit.owner.name]
    pool_doc = document_fingerprint(tenant.pool.document) if tenant.pool is not None else ""
    return unit_key("tenant", unit.address, unit.depends_on, document_fingerprint(tenant.document),
                    document_fingerprint(tenant.plan.document), document_fingerprint(tenant.cloud.document),
                    pool_doc, tenant.network or "", _code_identity(tenant.cloud.provider))


def _text(part: object) -> bytes:
    """One part of a key as :func:`paybill.emit.cache.unit_key` hashes it."""
    return repr(part).encode("utf-8", "surrogateescape") + b"\0"


def _document_text(document: SpecDocument, texts: dict[int, tuple[object, bytes | None]]) -> bytes | None:
    known = texts.get(id(document))
    if known is None or known[0] is not document:
        fingerprint = document_fingerprint(document)
        known = texts[id(document)] = (document, _text(fingerprint) if fingerprint is not None else None)
    return known[1]


def build_units(units: list[StackUnit], model: ResolvedModel, store: UnitStore | None,
                parallelism: Parallelism, writer: ScratchWriter | None = None) -> list[Built | None]:
    """Every unit's :class:`BuiltStack` (None where no stack is built), in unit order.

    Units whose key is in ``store`` are read from it; the others are built (when ``parallelism``
    finds enough of them, half by a forked helper) and stored. With ``writer`` (the compile streams
    its output), built stacks are written as they are rendered and come back as
    :class:`WrittenStack`, unless the store keeps stack bytes itself (no ``content_root``).
    """
    if store is not None and store.content_root is None:
        writer = None
    texts: dict[int, tuple[object, bytes | None]] = {}
    keys = [_unit_key(unit, model, texts) if store is not None else None for unit in units]
    built: list[Built | None] = [None] * len(units)
    todo: list[int] = []
    # Entries without bytes (an output folder holds them) fit one index entry: one read, not 10,000.
    indexed = store is not None and store.content_root is not None
    index = store.load_index(NAMESPACE) if store is not None and indexed else {}
    now: dict[str, tuple[str, object]] = {}  # the next index: what each unit stores
    for i, (unit, key) in enumerate(zip(units, keys, strict=True)):
        found = store.get_indexed(index, NAMESPACE, unit.address, key) \
            if store is not None and key is not None else None
        reused = BuiltStack.from_plain(found, store.content_root, store.in_place) \
            if found is not None and store is not None else None
        if reused is None:
            todo.append(i)
        else:
            built[i] = reused
            if key is not None and store is not None and indexed:
                now[unit.address] = (key, reused.to_plain(store.content_root))
    todo_units = [units[i] for i in todo]
    mine, theirs = parallelism.split_in_two(todo_units, lambda part: _build_all(part, model, writer),
                                            lambda part: _build_all(part, model, writer), split_point)
    fresh = mine + (theirs or [])
    for i, stack in zip(todo, fresh, strict=True):
        built[i] = stack
        key = keys[i]
        if store is not None and key is not None and stack is not None:
            plain = stack.to_plain() if isinstance(stack, WrittenStack) else stack.to_plain(store.content_root)
            if indexed:  # the index entry is the record: no second copy per stack
                now[units[i].address] = (key, plain)
            else:
                store.put(NAMESPACE, units[i].address, key, plain)
    if store is not None and indexed and now != index:
        store.save_index(NAMESPACE, {unit.address: now[unit.address] for unit in units if unit.address in now})
    return built


NAMESPACE = "terraform"
"""The unit store namespace of built stacks (decommission configurations: ``terraform-removed``)."""


def emit_terraform(ctx: EmitContext) -> OutputTree:
    """The ``terraform/`` part of the output tree; stack facts go to ``ctx.facts.terraform``.

    Stacks are filled in from the resolved model (:mod:`paybill.resolve`): the layout, the linked
    cloud, plan and pool of each tenant, the allocated networks and the claimed cloud names. A
    stack whose inputs are unchanged since a compile stored it (``ctx.store``) is not built again.
    """
    setup, units, result = _prepare(ctx)
    files: list[tuple[str, bytes]] = []
    for stack in build_units(units, setup.model, ctx.store, ctx.parallelism, ctx.writer):
        if stack is None:
            continue
        if isinstance(stack, WrittenStack):
            ctx.written[stack.path] = stack.written
            ctx.digests[stack.path] = stack.written.digest
        elif stack.content is None:  # unchanged, already in the output folder: the writer keeps it
            ctx.kept[stack.path] = stack.digest
            ctx.digests[stack.path] = stack.digest
        else:
            files.append((stack.path, stack.content))
            ctx.digests[stack.path] = stack.digest
        result.stacks.append(stack.info)
    for unit in setup.model.removed:
        decommission = _stored_decommission(unit, setup, ctx.store)
        if decommission is not None:
            path, content, removed_info = decommission
            files.append((path, content))
            result.decommissioned.append(removed_info)
    ctx.facts.terraform = result
    return dict(files)


def _stored_decommission(unit: StackUnit, setup: _Setup, store: UnitStore | None
                         ) -> tuple[str, bytes, RemovedInfo] | None:
    """:func:`_decommission_stack` through the unit store (its key: the deleted tenant's unit key)."""
    key = _unit_key(unit, setup.model) if store is not None else None
    if store is None or key is None:
        return _decommission_stack(unit, setup)
    found = store.get(REMOVED_NAMESPACE, unit.address, key)
    try:
        path, content, info = cast("tuple[Any, Any, Any]", found)  # checked below
        removed = RemovedInfo(*info)
        if isinstance(path, str) and isinstance(content, bytes):
            return path, content, removed
    except (TypeError, ValueError):  # absent, or not the shape this code stores
        pass
    built = _decommission_stack(unit, setup)
    if built is not None:
        store.put(REMOVED_NAMESPACE, unit.address, key, (built[0], built[1], dataclasses.astuple(built[2])))
    return built


REMOVED_NAMESPACE = "terraform-removed"


TERRAFORM_EMITTER = Emitter(name="terraform", emit=emit_terraform)
