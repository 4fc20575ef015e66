"""Google Cloud quotas that a paybill fleet runs into. Per project = per Cloud spec ``gcp.projectId``."""

from paybill.quotas.model import Quota, Scope

QUOTAS = (
    Quota("serviceAccounts", "gcp", ("google_service_account",), Scope.ACCOUNT, 100,
          "https://cloud.google.com/iam/docs/service-accounts-create", True,
          "service accounts", scope_label="per project"),
    # Not a quota: the Cloud KMS quotas page says "There's no quota on the number of KeyRing,
    # CryptoKey, or CryptoKeyVersion resources, only on the number of operations." 10,000 is
    # paybill's planning ceiling (one ring per tenant), hence unverified by design.
    Quota("kmsKeyRings", "gcp", ("google_kms_key_ring",), Scope.REGION, 10_000,
          "https://cloud.google.com/kms/quotas", False, "Cloud KMS key rings",
          scope_label="per project and location (not a documented hard quota: a planning ceiling)"),
)
