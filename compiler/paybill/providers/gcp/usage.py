"""Google Cloud quota usage per stack (:mod:`paybill.clouds.quotas`): service accounts and key rings are
one per claim of their name rule."""

from __future__ import annotations

from paybill.clouds.names import NameClaims, NameOwner
from paybill.clouds.quotas import QuotaPlan, QuotaUsage
from paybill.providers.gcp.names import KEY_RING, SERVICE_ACCOUNT


def count_usage(owner: NameOwner, names: NameClaims, usage: QuotaUsage) -> None:
    usage.named("serviceAccounts", names, SERVICE_ACCOUNT)
    usage.named("kmsKeyRings", names, KEY_RING)


QUOTA_PLAN = QuotaPlan(count_usage, "GCP project")
