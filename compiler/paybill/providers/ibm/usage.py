"""IBM Cloud quota usage per stack (:mod:`paybill.clouds.quotas`).

A tenant's service ID is its ``workload`` IAM claim. Access policies carry no name, so their count
follows the emitter (:mod:`paybill.emit.terraform.providers.ibm`): four service-to-service
authorizations with each Key Protect instance (databases, object storage, Kubernetes, block
storage), one with each flow-log bucket (the collector writes to the instance), one policy of the
operators access group, and a live tenant's service ID gets two (its root key, its bucket) unless
suspended.
"""

from __future__ import annotations

from paybill.clouds.names import NameClaims, NameOwner
from paybill.clouds.quotas import QuotaPlan, QuotaUsage, claimed
from paybill.providers.ibm.names import BUCKET, IAM, INSTANCE

PER_KMS_INSTANCE, PER_FLOW_LOG_BUCKET, PER_OPERATORS_GROUP, SERVICE_ID_POLICIES = 4, 1, 1, 2


def count_usage(owner: NameOwner, names: NameClaims, usage: QuotaUsage) -> None:
    usage.named("serviceIds", names, IAM, ("workload",))
    policies = (PER_KMS_INSTANCE * claimed(names, INSTANCE, ("kms",))
                + PER_FLOW_LOG_BUCKET * claimed(names, BUCKET, ("flowlogs",))
                + PER_OPERATORS_GROUP * claimed(names, IAM, ("operators",)))
    if owner.kind == "tenant" and not owner.suspended:
        policies += SERVICE_ID_POLICIES
    usage.add("accessPolicies", policies)


QUOTA_PLAN = QuotaPlan(count_usage, "IBM Cloud account")
