"""AWS quota usage per stack (:mod:`paybill.clouds.quotas`): every counted resource carries a claimed name.

Roles, managed policies, buckets, access points and grants are one per claim of their name rule; a
KMS key is built with exactly one alias (:data:`~paybill.providers.aws.names.KMS_ALIAS`). Tenants'
grants are always on the pool's key (a silo key needs none; a migrating tenant keeps its grant on
the pool key until decommission).
"""

from __future__ import annotations

from paybill.clouds.names import NameClaims, NameOwner
from paybill.clouds.quotas import QuotaPlan, QuotaUsage
from paybill.providers.aws.names import ACCESS_POINT, BUCKET, IAM_POLICY, IAM_ROLE, KMS_ALIAS, KMS_GRANT


def count_usage(owner: NameOwner, names: NameClaims, usage: QuotaUsage) -> None:
    usage.named("iamRoles", names, IAM_ROLE)
    usage.named("iamManagedPolicies", names, IAM_POLICY)
    usage.named("s3AccessPoints", names, ACCESS_POINT)
    usage.named("s3Buckets", names, BUCKET)
    usage.named("kmsGrantsPerKey", names, KMS_GRANT, at="pool")
    usage.named("kmsKeys", names, KMS_ALIAS)


QUOTA_PLAN = QuotaPlan(count_usage, "AWS account")
