"""Azure quota usage per stack (:mod:`paybill.clouds.quotas`).

Resource groups, Key Vaults and user-assigned identities are one per claim of their name rule; a Key
Vault always lives in the stack's own resource group. Every
identity lives in the stack's own resource group except a tenant's workload identity while its
identity layer is (actively) pooled: that one lives in the pool's group. Role assignments carry no
name, so their count follows the emitter (:mod:`paybill.emit.terraform.providers.azure`): four with
each AKS cluster (network, two for disk encryption, the runner's admin), one with each Key Vault (the
runner's crypto officer), one with each encryption identity (its key user), and a live tenant's
workload identity gets two (its key, its container) unless suspended (denial by removal).
"""

from __future__ import annotations

from paybill.clouds.names import NameClaims, NameOwner
from paybill.clouds.quotas import QuotaPlan, QuotaUsage, claimed
from paybill.providers.azure.names import AKS_CLUSTER, IDENTITY, KEY_VAULT, RESOURCE_GROUP

PER_CLUSTER, PER_VAULT, PER_ENCRYPTION_IDENTITY, WORKLOAD_GRANTS = 4, 1, 1, 2


def count_usage(owner: NameOwner, names: NameClaims, usage: QuotaUsage) -> None:
    usage.named("resourceGroups", names, RESOURCE_GROUP)
    usage.named("keyVaults", names, KEY_VAULT, at="self")  # always in the stack's own resource group
    identities = claimed(names, IDENTITY)
    if owner.kind == "tenant" and not owner.layers.active_silo("identity"):
        workload = claimed(names, IDENTITY, ())  # the workload identity is claimed with no key
        usage.add("userAssignedIdentitiesPerResourceGroup", workload, at="pool")
        identities -= workload
    usage.add("userAssignedIdentitiesPerResourceGroup", identities, at="self")
    assignments = (PER_CLUSTER * claimed(names, AKS_CLUSTER) + PER_VAULT * claimed(names, KEY_VAULT)
                   + PER_ENCRYPTION_IDENTITY * claimed(names, IDENTITY, ("encryption",)))
    if owner.kind == "tenant" and not owner.suspended:
        assignments += WORKLOAD_GRANTS
    usage.add("roleAssignments", assignments)


QUOTA_PLAN = QuotaPlan(count_usage, "Azure subscription")
