"""AWS quotas that a paybill fleet runs into. Per AWS account = per Cloud spec ``aws.accountId``."""

from paybill.quotas.model import Quota, Scope

QUOTAS = (
    Quota("iamRoles", "aws", ("aws_iam_role",), Scope.ACCOUNT, 1_000,
          "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html", False,
          "IAM roles", scope_label="per account (adjustable up to 5,000)"),
    Quota("iamManagedPolicies", "aws", ("aws_iam_policy",), Scope.ACCOUNT, 1_500,
          "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html", False,
          "customer managed IAM policies", scope_label="per account"),
    Quota("s3AccessPoints", "aws", ("aws_s3_access_point",), Scope.REGION, 10_000,
          "https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-points-restrictions-limitations.html",
          False, "S3 access points", scope_label="per account and region"),
    Quota("s3Buckets", "aws", ("aws_s3_bucket",), Scope.ACCOUNT, 10_000,
          "https://docs.aws.amazon.com/AmazonS3/latest/userguide/BucketRestrictions.html", False,
          "S3 general purpose buckets", scope_label="per account"),
    Quota("kmsGrantsPerKey", "aws", ("aws_kms_grant",), Scope.REFERENCED, 50_000,
          "https://docs.aws.amazon.com/kms/latest/developerguide/resource-limits.html", False,
          "KMS grants", reference_attribute="key_id", scope_label="per KMS key"),
    Quota("kmsKeys", "aws", ("aws_kms_key",), Scope.REGION, 100_000,
          "https://docs.aws.amazon.com/kms/latest/developerguide/resource-limits.html", False,
          "KMS keys", scope_label="per account and region"),
)
