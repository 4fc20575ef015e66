"""The resolved model: validated specs turned into typed, linked, frozen objects.

Validation proves that every reference resolves; resolve then follows each reference once and
keeps the target. A resolved tenant holds its plan, cloud and pool objects, where each of its
layers lives, its stack unit and its allocated network, so the graph and the emitters read
``tenant.cloud.provider`` instead of looking ``placement.cloud`` up by name again in every stage.

Everything here is frozen: later stages share one model (and forked helpers inherit it), so no
stage may change what another reads.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from paybill.clouds.names import NameClaims
from paybill.clouds.profile import CloudProfile
from paybill.clouds.quotas import Usage
from paybill.load.document import SpecDocument
from paybill.models.cloud import Cloud
from paybill.models.plan import Plan
from paybill.models.pool import Pool
from paybill.models.tenant import Tenant
from paybill.resolve.layers import LayerPlan
from paybill.resolve.network import NetworkAllocation
from paybill.resolve.units import StackUnit
from paybill.validate.index import SpecIndex


@dataclass(frozen=True, slots=True)
class ResolvedCloud:
    """One cloud account: its document, its validated spec, its provider's profile and its account
    fields (``spec.<provider>``)."""

    document: SpecDocument
    cloud: Cloud
    profile: CloudProfile
    account: Mapping[str, str]

    @property
    def name(self) -> str:
        return self.document.name

    @property
    def provider(self) -> str:
        return self.cloud.spec.provider

    @property
    def address_space(self) -> str:
        return self.cloud.spec.address_space


@dataclass(frozen=True, slots=True)
class ResolvedPlan:
    document: SpecDocument
    plan: Plan

    @property
    def name(self) -> str:
        return self.document.name


@dataclass(frozen=True, slots=True)
class ResolvedPool:
    """A pool on its cloud, with its stack unit, its network (None when allocation failed), its
    live tenants (names, sorted: a pool does not link back to tenant objects, so nothing cycles) and
    the cloud names its stack claims (None when the stack is not built, or its cloud claims none)."""

    document: SpecDocument
    pool: Pool
    cloud: ResolvedCloud
    unit: StackUnit
    network: str | None
    tenants: tuple[str, ...]
    names: NameClaims | None
    usage: Usage = ()
    """What the stack uses of its cloud's quotas (:mod:`paybill.resolve.quotas`); empty when not built."""

    @property
    def name(self) -> str:
        return self.document.name

    @property
    def address(self) -> str:
        return self.unit.address


@dataclass(frozen=True, slots=True)
class ResolvedTenant:
    """A tenant with everything it references, linked.

    ``unit`` is None for a deleted tenant (it has no live stack; see ``ResolvedModel.removed``).
    ``network`` is set when the network layer is silo and allocation succeeded. ``names`` are the
    cloud names its live stack claims (None for a deleted tenant, a stack not built because its
    network failed, or a cloud that claims none).
    """

    document: SpecDocument
    tenant: Tenant
    plan: ResolvedPlan
    cloud: ResolvedCloud
    pool: ResolvedPool | None
    layers: LayerPlan
    unit: StackUnit | None
    network: str | None
    names: NameClaims | None
    usage: Usage = ()
    """What its stack uses of its cloud's quotas: the live stack's, or for a deleted tenant awaiting its
    destroy the decommission configuration's (its last live stack); empty otherwise."""

    @property
    def name(self) -> str:
        return self.document.name

    @property
    def live(self) -> bool:
        return self.tenant.spec.lifecycle != "deleted"


@dataclass(frozen=True, slots=True)
class QuotaFinding:
    """A stack that brought one quota scope to 80 % (PB0681) or 100 % (PB0682), reported at its owner."""

    code: str
    document: SpecDocument
    message: str
    hint: str


@dataclass(frozen=True, slots=True)
class ResolvedModel:
    """Every resolved object by name, the stack layout, and the network allocation."""

    index: SpecIndex
    clouds: Mapping[str, ResolvedCloud]
    plans: Mapping[str, ResolvedPlan]
    pools: Mapping[str, ResolvedPool]
    tenants: Mapping[str, ResolvedTenant]
    """Every tenant whose references resolve, deleted ones included."""
    units: tuple[StackUnit, ...]
    """Live stacks: pools first, then tenants, each in name order (:func:`paybill.resolve.units.stack_units`)."""
    removed: tuple[StackUnit, ...]
    """Deleted tenants' stacks whose destroy is not recorded yet."""
    allocation: NetworkAllocation
    quota_findings: tuple[QuotaFinding, ...] = ()
    """Stacks bringing a quota to 80 % or 100 % (:func:`paybill.resolve.quotas.quota_findings`)."""

    def live_tenants(self) -> Iterator[ResolvedTenant]:
        """Tenants with a live stack, in name order."""
        return (t for t in self.tenants.values() if t.unit is not None)
