"""Build the resolved model from a validated index, then run the resolve rules over it.

The order is fixed: clouds and plans (they reference nothing), networks (allocated over every
pool and every live silo-network tenant at once, since a tenant's range can only be placed
knowing the others on its cloud), pools, tenants. Then every resolve rule reports its findings.

A spec whose reference does not resolve is left out of the model rather than guessed at: the
compile pipeline resolves only an index without validation errors, and validation has reported
the broken reference already.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TypeVar

from paybill.clouds import registry
from paybill.diagnostics import DiagnosticSink
from paybill.load.document import SpecDocument
from paybill.models.base import Envelope
from paybill.models.cloud import Cloud
from paybill.models.plan import Plan
from paybill.models.pool import Pool
from paybill.models.tenant import Tenant
from paybill.resolve.layers import LayerPlan, plan_layers
from paybill.resolve.model import ResolvedCloud, ResolvedModel, ResolvedPlan, ResolvedPool, ResolvedTenant
from paybill.resolve.name_memo import NamePlans
from paybill.resolve.names import cloud_account, pool_owner, tenant_owner
from paybill.resolve.network import NetworkAllocation, NetworkClaim, allocate
from paybill.resolve.quotas import quota_findings
from paybill.resolve.rules import RESOLVE_RULES
from paybill.resolve.units import StackUnit, last_live, pool_unit, tenant_unit
from paybill.store import UnitStore
from paybill.validate.index import SpecIndex
from paybill.validate.rules.base import Reporter

M = TypeVar("M", bound=Envelope)

TENANT_CIDR = ("spec", "placement", "networkCidr")
POOL_CIDR = ("spec", "networkCidr")


def _typed(document: SpecDocument, model: type[M]) -> M:
    """The document's validated model, checked to be of ``model``'s type (validation built it)."""
    value = document.model
    if not isinstance(value, model):
        raise TypeError(f"internal: {document.ref} has no validated {model.__name__} model")
    return value


def _documents(index: SpecIndex, kind: str, model: type[M]) -> list[tuple[SpecDocument, M]]:
    return [(doc, _typed(doc, model)) for doc in index.of_kind(kind)]


def tenant_network_claim(document: SpecDocument, tenant: Tenant, cloud: ResolvedCloud) -> NetworkClaim:
    """What a silo-network tenant asks of its cloud's address space."""
    return NetworkClaim(document, cloud.name, cloud.address_space, tenant.spec.placement.network_cidr, TENANT_CIDR)


def _claims(
    pools: list[tuple[SpecDocument, Pool]],
    tenants: list[tuple[SpecDocument, Tenant, LayerPlan]],
    clouds: dict[str, ResolvedCloud],
) -> list[NetworkClaim]:
    claims = []
    for doc, pool in pools:
        cloud = clouds.get(pool.spec.cloud)
        if cloud is not None:
            claims.append(NetworkClaim(doc, cloud.name, cloud.address_space, pool.spec.network_cidr, POOL_CIDR))
    for doc, tenant, layers in tenants:
        cloud = clouds.get(tenant.spec.placement.cloud)
        if cloud is not None and tenant.spec.lifecycle != "deleted" and layers.silo("network"):
            claims.append(tenant_network_claim(doc, tenant, cloud))
    return claims


def _pools(
    pools: list[tuple[SpecDocument, Pool]],
    clouds: dict[str, ResolvedCloud],
    members: dict[str, list[str]],
    allocation: NetworkAllocation,
    plans: NamePlans,
) -> dict[str, ResolvedPool]:
    resolved = {}
    for doc, pool in pools:
        cloud = clouds.get(pool.spec.cloud)
        if cloud is not None:
            network = allocation.networks.get(doc.ref)
            names, usage = plans.plan(pool_owner(pool, cloud), cloud) if network is not None else (None, ())
            resolved[doc.name] = ResolvedPool(doc, pool, cloud, pool_unit(doc, pool), network,
                                              tuple(sorted(members.get(doc.name, ()))), names, usage)
    return resolved


def _cloud(document: SpecDocument, cloud: Cloud) -> ResolvedCloud:
    profile = registry.get(cloud.spec.provider)
    return ResolvedCloud(document, cloud, profile, cloud_account(cloud, profile))


def resolve_model(index: SpecIndex, store: UnitStore | None = None,
                  deferred: list[Callable[[], None]] | None = None) -> ResolvedModel:
    """Link every cloud, plan, pool and tenant, lay out the stacks and allocate the networks.

    ``store``: where the stacks' name plans of earlier compiles are kept, reused while their owner
    is equal (:mod:`paybill.resolve.name_memo`); None: every plan is computed. ``deferred``: where
    to append the saving of this compile's name plans instead of saving them, for a caller that
    resolves before it knows the index is valid (:func:`paybill.compile.pipeline.compile_documents`).
    """
    name_plans = NamePlans(store)
    clouds = {doc.name: _cloud(doc, cloud) for doc, cloud in _documents(index, "Cloud", Cloud)}
    plans = {doc.name: ResolvedPlan(doc, plan) for doc, plan in _documents(index, "Plan", Plan)}
    pool_docs = _documents(index, "Pool", Pool)
    tenant_docs = [(doc, tenant, plan_layers(tenant)) for doc, tenant in _documents(index, "Tenant", Tenant)]
    allocation = allocate(_claims(pool_docs, tenant_docs, clouds))
    members: dict[str, list[str]] = {}
    for doc, tenant, _ in tenant_docs:
        if tenant.spec.lifecycle != "deleted" and tenant.spec.placement.pool:
            members.setdefault(tenant.spec.placement.pool, []).append(doc.name)
    pools = _pools(pool_docs, clouds, members, allocation, name_plans)
    tenants: dict[str, ResolvedTenant] = {}
    removed: list[StackUnit] = []
    for doc, tenant, layers in tenant_docs:
        placement = tenant.spec.placement
        cloud, plan = clouds.get(placement.cloud), plans.get(tenant.spec.plan)
        if cloud is None or plan is None:
            continue
        pool = pools.get(placement.pool) if placement.pool else None
        unit = tenant_unit(doc, tenant, layers, pool is not None)
        live = tenant.spec.lifecycle != "deleted"
        if not live and tenant.spec.decommission is None:
            removed.append(unit)
        network = allocation.networks.get(doc.ref)
        built = live and (network is not None or not layers.silo("network"))  # as the emitter builds it
        names, usage = None, ()
        if built:
            names, usage = name_plans.plan(tenant_owner(tenant, layers, pool.pool if pool else None, cloud), cloud)
        elif not live and tenant.spec.decommission is None:  # its decommission configuration holds them
            last = last_live(tenant)
            _, usage = name_plans.plan(tenant_owner(last, plan_layers(last), pool.pool if pool else None, cloud), cloud)
        tenants[doc.name] = ResolvedTenant(doc, tenant, plan, cloud, pool, layers, unit if live else None,
                                           network, names, usage)
    units = [pool.unit for pool in pools.values()]
    units.extend(t.unit for t in tenants.values() if t.unit is not None)
    if deferred is not None:
        deferred.append(name_plans.save)
    else:
        name_plans.save()
    model = ResolvedModel(index, clouds, plans, pools, tenants, tuple(units), tuple(removed), allocation)
    return dataclasses.replace(model, quota_findings=quota_findings(model))


def resolve_index(index: SpecIndex, sink: DiagnosticSink, store: UnitStore | None = None,
                  deferred: list[Callable[[], None]] | None = None) -> ResolvedModel:
    """:func:`resolve_model` (``store``, ``deferred``: see there), then every resolve rule reports into ``sink``."""
    model = resolve_model(index, store, deferred)
    for rule in RESOLVE_RULES:
        rule.check(model, Reporter(rule.code, sink, index, warning=rule.warning))
    return model
