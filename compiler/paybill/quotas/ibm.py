"""IBM Cloud quotas that a paybill fleet runs into. Per account = per Cloud spec ``ibm.accountId``."""

from paybill.quotas.model import Quota, Scope

LIMITS = "https://cloud.ibm.com/docs/account?topic=account-known-issues#iam_limits"

QUOTAS = (
    Quota("serviceIds", "ibm", ("ibm_iam_service_id",), Scope.ACCOUNT, 2_000, LIMITS, False,
          "service IDs", scope_label="per account"),
    Quota("accessPolicies", "ibm", ("ibm_iam_service_policy", "ibm_iam_access_group_policy",
                                    "ibm_iam_authorization_policy"), Scope.ACCOUNT, 4_020, LIMITS, False,
          "IAM access and authorization policies", scope_label="per account"),
)
