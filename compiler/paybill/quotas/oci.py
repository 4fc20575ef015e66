"""OCI quotas that a paybill fleet runs into. Per tenancy = per Cloud spec ``oci.tenancyOcid``.

Unverified: the service limits page (its IAM and Vault sections) was not available to re-read. The
only Oracle page found with a tenancy policy count is the Private Cloud Appliance one ("A tenancy can
have up to 100 policies"), a different product; OCI now also limits policy *statements* per
compartment path (500, docs.oracle.com/iaas/Content/Identity/policymgmt/policy-limits-compartment-hierarchy.htm),
which these counts do not model.
"""

from paybill.quotas.model import Quota, Scope

LIMITS = "https://docs.oracle.com/en-us/iaas/Content/General/Concepts/servicelimits.htm"

QUOTAS = (
    Quota("iamPolicies", "oci", ("oci_identity_policy",), Scope.ACCOUNT, 100, LIMITS + "#iam_limits", False,
          "IAM policies", scope_label="per tenancy"),
    Quota("dynamicGroups", "oci", ("oci_identity_dynamic_group",), Scope.ACCOUNT, 50, LIMITS + "#iam_limits", False,
          "dynamic groups", scope_label="per tenancy"),
    Quota("vaults", "oci", ("oci_kms_vault",), Scope.REGION, 10, LIMITS + "#kms_limits", False,
          "virtual private vaults", scope_label="per tenancy and region"),
)
