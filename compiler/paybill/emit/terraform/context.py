"""Everything a cloud emitter needs about one pool or one tenant, computed once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from paybill.clouds.names import NameClaims, NameRule
from paybill.load.document import SpecDocument
from paybill.models.cloud import Cloud, CloudSpecBase
from paybill.models.plan import Plan, Sizing
from paybill.models.pool import Pool
from paybill.models.tenant import Tenant
from paybill.resolve.layers import LayerPlan

MANAGED_BY = {"managed-by": "paybill"}

S = TypeVar("S", bound=CloudSpecBase)


def cloud_spec(cloud: Cloud, spec_type: type[S]) -> S:
    """``cloud.spec`` as the provider's own spec type (a cloud emitter only ever sees its provider's)."""
    spec = cloud.spec
    if not isinstance(spec, spec_type):
        raise TypeError(f"internal: a {spec_type.__name__} emitter got a '{spec.provider}' cloud")
    return spec


@dataclass
class PoolContext:
    document: SpecDocument
    pool: Pool
    cloud: Cloud
    """The validated Cloud (its ``spec`` is the provider-specific member: ``.aws``, ``.azure``...)."""
    cloud_document: SpecDocument
    network_cidr: str
    tenants: list[str]
    """Names of live tenants placed in this pool (sorted), for documentation outputs only."""
    claims: NameClaims
    """The cloud names this stack claims, derived by resolve from the cloud's claim plan
    (:attr:`ResolvedPool.names <paybill.resolve.model.ResolvedPool.names>`)."""

    @property
    def name(self) -> str:
        return self.pool.metadata.name

    @property
    def address(self) -> str:
        return f"pool/{self.name}"

    @property
    def region(self) -> str:
        return self.pool.spec.region

    @property
    def sizing(self) -> Sizing:
        return self.pool.spec.sizing

    @property
    def tags(self) -> dict[str, str]:
        return {
            **self.cloud.spec.default_tags,
            "paybill-pool": self.name,
            "paybill-isolation": "pooled",
            **MANAGED_BY,
        }

    def claimed(self, rule: NameRule, *key: str) -> str:
        """The name this pool's stack claimed under ``(rule, *key)`` (see :class:`NameClaims`)."""
        return self.claims.name(rule, *key)


@dataclass
class TenantContext:
    document: SpecDocument
    tenant: Tenant
    plan: Plan
    cloud: Cloud
    cloud_document: SpecDocument
    pool: Pool | None
    layers: LayerPlan
    network_cidr: str | None
    """Set when the network layer is silo."""
    claims: NameClaims
    """The cloud names this stack claims, derived by resolve from the cloud's claim plan
    (:attr:`ResolvedTenant.names <paybill.resolve.model.ResolvedTenant.names>`)."""

    @property
    def name(self) -> str:
        return self.tenant.metadata.name

    @property
    def address(self) -> str:
        return f"tenant/{self.name}"

    @property
    def pool_address(self) -> str | None:
        return f"pool/{self.pool.metadata.name}" if self.pool else None

    @property
    def region(self) -> str:
        return self.tenant.spec.placement.region

    @property
    def trialing(self) -> bool:
        return self.tenant.spec.billing.status == "trialing"

    @property
    def sizing(self) -> Sizing:
        """Trial sizing while trialing (when the plan has one), else the plan's sizing."""
        if self.trialing and self.plan.spec.trial_sizing is not None:
            return self.plan.spec.trial_sizing
        return self.plan.spec.sizing

    @property
    def suspended(self) -> bool:
        """Compute scaled to zero and tenant identity denied; every byte of data kept."""
        return self.tenant.spec.lifecycle == "suspended"

    @property
    def offboarding(self) -> bool:
        """Deletion protection kept, final snapshots and retention set, ready for export then delete."""
        return self.tenant.spec.lifecycle == "offboarding"

    @property
    def isolation(self) -> str:
        return self.tenant.spec.isolation.model

    @property
    def tags(self) -> dict[str, str]:
        return {
            **self.cloud.spec.default_tags,
            "paybill-tenant": self.name,
            "paybill-plan": self.plan.metadata.name,
            "paybill-isolation": self.isolation,
            "paybill-lifecycle": self.tenant.spec.lifecycle,
            **MANAGED_BY,
        }

    def claimed(self, rule: NameRule, *key: str) -> str:
        """The name this tenant's stack claimed under ``(rule, *key)`` (see :class:`NameClaims`)."""
        return self.claims.name(rule, *key)
