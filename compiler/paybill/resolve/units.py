"""Which Terraform stacks the specs call for, and what each one reads.

This is the one statement of the stack layout, which the Terraform emitter fills in: ``pool/<pool>`` for
every pool, ``tenant/<tenant>`` for every tenant that is not deleted, and a tenant stack depends on
its pool stack exactly when one of its layers is pooled (it then reads the pool's outputs through
``terraform_remote_state``). The graph, the waves and the manifest are derived from it, and the
compile pipeline still checks every emitted stack against it (PB0693), so a cloud emitter that
skips a stack or reads another cannot go unnoticed.
"""

from __future__ import annotations

from dataclasses import dataclass

from paybill.load.document import SpecDocument
from paybill.models.pool import Pool
from paybill.models.tenant import Tenant
from paybill.resolve.layers import LayerPlan, plan_layers
from paybill.validate.index import SpecIndex


@dataclass(frozen=True, slots=True)
class StackUnit:
    """One unit of Terraform state, derived from specs alone.

    ``owner`` is the spec the stack is named after; ``sources`` are every spec whose content can
    change the stack (``Kind/name``, sorted); ``depends_on`` are stack addresses applied first.
    """

    address: str
    kind: str  # "pool" | "tenant"
    owner: SpecDocument
    sources: tuple[str, ...]
    depends_on: tuple[str, ...]


def pool_unit(doc: SpecDocument, pool: Pool) -> StackUnit:
    """The stack of one pool: it reads the pool and its cloud."""
    sources = (doc.ref, f"Cloud/{pool.spec.cloud}")
    return StackUnit(f"pool/{doc.name}", "pool", doc, tuple(sorted(sources)), ())


def tenant_unit(doc: SpecDocument, tenant: Tenant, layers: LayerPlan, pool_exists: bool) -> StackUnit:
    """The stack of one tenant: it depends on its pool's stack when a layer is (or is kept) pooled."""
    placement = tenant.spec.placement
    sources = [doc.ref, f"Plan/{tenant.spec.plan}", f"Cloud/{placement.cloud}"]
    depends: tuple[str, ...] = ()
    if placement.pool:
        sources.append(f"Pool/{placement.pool}")
        if layers.needs_pool and pool_exists:
            depends = (f"pool/{placement.pool}",)
    return StackUnit(f"tenant/{doc.name}", "tenant", doc, tuple(sorted(sources)), depends)


def _tenant_unit(doc: SpecDocument, index: SpecIndex) -> StackUnit:
    tenant: Tenant = doc.model
    pool = tenant.spec.placement.pool
    return tenant_unit(doc, tenant, plan_layers(tenant), bool(pool) and index.get("Pool", pool or "") is not None)


def stack_units(index: SpecIndex) -> list[StackUnit]:
    """Every stack the specs call for: pools first, then tenants, each in name order.

    The resolved model carries the same list (``ResolvedModel.units``); this form is for callers
    that hold only an index (the graph of a repository with errors, ``paybill plan``'s sides).
    """
    units = [pool_unit(doc, doc.model) for doc in index.of_kind("Pool")]
    units.extend(_tenant_unit(doc, index) for doc in index.of_kind("Tenant") if doc.model.spec.lifecycle != "deleted")
    return units


def last_live(tenant: Tenant) -> Tenant:
    """A deleted tenant as it was while offboarding: the state its stack was last applied in (its
    decommission configuration is that stack with protections lifted)."""
    return tenant.model_copy(update={"spec": tenant.spec.model_copy(update={"lifecycle": "offboarding"})})


def removed_stacks(index: SpecIndex) -> list[StackUnit]:
    """Stacks of deleted tenants whose destroy is not recorded yet (``spec.decommission``): absent from
    the live output, written as decommission configurations and listed so apply tooling destroys them."""
    return [_tenant_unit(doc, index) for doc in index.of_kind("Tenant")
            if doc.model.spec.lifecycle == "deleted" and doc.model.spec.decommission is None]
