"""The cloud names each stack claims (:attr:`CloudProfile.claims`) and the quotas it uses
(:attr:`CloudProfile.quota_usage`), derived from its cloud's plans.

A stack's names are a pure function of the resolved model (owner kind and name, region, the cloud's
account fields, where its layers live, its lifecycle), so resolve derives them once: the PB0601 rule
checks them for collisions at ``paybill validate``, and the emitters read them from the resolved
pool or tenant instead of deriving them again. Quota usage is counted from the same owner and names
(PB0681/PB0682, :mod:`paybill.resolve.quotas`).
"""

from __future__ import annotations

from collections.abc import Mapping

from paybill.clouds.names import LayerView, NameClaims, NameOwner, OfferedLayers
from paybill.clouds.profile import CloudProfile
from paybill.clouds.quotas import QuotaUsage, Usage
from paybill.models.cloud import Cloud
from paybill.models.pool import Pool
from paybill.models.tenant import Tenant
from paybill.resolve.model import ResolvedCloud


def cloud_account(cloud: Cloud, profile: CloudProfile) -> Mapping[str, str]:
    """The cloud's account fields (``spec.<provider>``) by their snake_case name."""
    block = getattr(cloud.spec, profile.provider)
    return {field.name: getattr(block, field.name) for field in profile.account}


def _claims(profile: CloudProfile, owner: NameOwner) -> NameClaims | None:
    if profile.claims is None:
        return None
    claims = NameClaims()
    profile.claims(owner, claims)
    return claims


def pool_owner(pool: Pool, cloud: ResolvedCloud) -> NameOwner:
    return NameOwner("pool", pool.metadata.name, pool.spec.region, cloud.account,
                     OfferedLayers(frozenset(pool.spec.layers)), "active")


def tenant_owner(tenant: Tenant, layers: LayerView, pool: Pool | None, cloud: ResolvedCloud) -> NameOwner:
    return NameOwner("tenant", tenant.metadata.name, tenant.spec.placement.region, cloud.account, layers,
                     tenant.spec.lifecycle, frozenset(pool.spec.layers) if pool is not None else frozenset())


def pool_names(pool: Pool, cloud: ResolvedCloud) -> NameClaims | None:
    """The names a pool stack claims (None when its cloud declares no claim plan)."""
    return _claims(cloud.profile, pool_owner(pool, cloud))


def tenant_names(tenant: Tenant, layers: LayerView, pool: Pool | None, cloud: ResolvedCloud) -> NameClaims | None:
    """The names a tenant stack claims, laid out by ``layers`` (None when its cloud declares no plan)."""
    return _claims(cloud.profile, tenant_owner(tenant, layers, pool, cloud))


def stack_plan(owner: NameOwner, cloud: ResolvedCloud) -> tuple[NameClaims | None, Usage]:
    """The names a stack claims and what it uses of its cloud's quotas (:attr:`CloudProfile.quota_usage`;
    empty when its cloud declares no quota plan)."""
    names = _claims(cloud.profile, owner)
    plan = cloud.profile.quota_usage
    if plan is None:
        return names, ()
    usage = QuotaUsage()
    plan.count(owner, names if names is not None else NameClaims(), usage)
    return names, usage.frozen()
