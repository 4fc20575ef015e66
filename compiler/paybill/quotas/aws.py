"""AWS quotas that a paybill fleet runs into. Per AWS account = per Cloud spec ``aws.accountId``.

Each default was read on the page in ``doc`` (the quote is next to the entry). IAM's page was read in
its published source, awsdocs/iam-user-guide ``doc_source/reference_iam-quotas.md`` (that repository is
archived, so the maximums may have moved since; the defaults are what paybill uses).
"""

from paybill.quotas.model import Quota, Scope

IAM = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html"
KMS = "https://docs.aws.amazon.com/kms/latest/developerguide/resource-limits.html"

QUOTAS = (
    # IAM object quotas, "Default quotas for IAM entities": "Roles in an AWS account | 1000 | 5000"
    # (default | maximum quota; adjustable through Service Quotas).
    Quota("iamRoles", "aws", ("aws_iam_role",), Scope.ACCOUNT, 1_000, IAM, True,
          "IAM roles", scope_label="per account (adjustable)"),
    # Same table: "Customer managed policies in an AWS account | 1500 | 5000".
    Quota("iamManagedPolicies", "aws", ("aws_iam_policy",), Scope.ACCOUNT, 1_500, IAM, True,
          "customer managed IAM policies", scope_label="per account (adjustable)"),
    # "You can create a maximum of 10,000 access points per ... account per Region. If you need more
    # than 10,000 access points for a single account in a single Region, you can request a service
    # quota increase."
    Quota("s3AccessPoints", "aws", ("aws_s3_access_point",), Scope.REGION, 10_000,
          "https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-points-restrictions-limitations.html",
          True, "S3 access points", scope_label="per account and region"),
    # "By default, you can create up to 10,000 general purpose buckets per ... account."
    Quota("s3Buckets", "aws", ("aws_s3_bucket",), Scope.ACCOUNT, 10_000,
          "https://docs.aws.amazon.com/AmazonS3/latest/userguide/BucketRestrictions.html", True,
          "S3 general purpose buckets", scope_label="per account"),
    # Resource quotas table: "Grants per KMS key | 50,000 | Customer managed keys | Yes".
    Quota("kmsGrantsPerKey", "aws", ("aws_kms_grant",), Scope.REFERENCED, 50_000, KMS, True,
          "KMS grants", reference_attribute="key_id", scope_label="per KMS key"),
    # "AWS KMS keys | 100,000 | Customer managed keys | Yes"; "You can have up to 100,000 customer
    # managed keys in each Region of your AWS account."
    Quota("kmsKeys", "aws", ("aws_kms_key",), Scope.REGION, 100_000, KMS, True,
          "KMS keys", scope_label="per account and region"),
)
