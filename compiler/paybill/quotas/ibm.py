"""IBM Cloud quotas that a paybill fleet runs into. Per account = per Cloud spec ``ibm.accountId``.

Read on "Known issues and limitations", IBM Cloud IAM limits, "Table 1. IAM account limits" (in the
page's markdown source).
"""

from paybill.quotas.model import Quota, Scope

LIMITS = "https://cloud.ibm.com/docs/account?topic=account-known-issues#iam_limits"

QUOTAS = (
    # "Service IDs per account | 2000" (an increase can be requested: topic=account-account-limits).
    Quota("serviceIds", "ibm", ("ibm_iam_service_id",), Scope.ACCOUNT, 2_000, LIMITS, True,
          "service IDs", scope_label="per account"),
    # "Policies per account | 4020", footnote: "IAM policies and context-based restrictions rules share a
    # combined limit of 4020" (service-to-service authorizations are IAM policies of type authorization).
    Quota("accessPolicies", "ibm", ("ibm_iam_service_policy", "ibm_iam_access_group_policy",
                                    "ibm_iam_authorization_policy"), Scope.ACCOUNT, 4_020, LIMITS, True,
          "IAM access and authorization policies", scope_label="per account"),
)
