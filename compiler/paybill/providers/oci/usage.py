"""OCI quota usage per stack (:mod:`paybill.clouds.quotas`): policies and vaults are one per claim of
their name rule; paybill builds no dynamic groups (the quota is kept so an override is accepted)."""

from __future__ import annotations

from paybill.clouds.names import NameClaims, NameOwner
from paybill.clouds.quotas import QuotaPlan, QuotaUsage
from paybill.providers.oci.names import POLICY, VAULT


def count_usage(owner: NameOwner, names: NameClaims, usage: QuotaUsage) -> None:
    usage.named("iamPolicies", names, POLICY)
    usage.named("vaults", names, VAULT)


QUOTA_PLAN = QuotaPlan(count_usage, "OCI tenancy")
