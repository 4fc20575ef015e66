"""The AWS profile: Cloud spec block, state backend, name rules, RDS major, the hashicorp/aws pin.

PostgreSQL: Amazon RDS for PostgreSQL runs **18**. The RDS for PostgreSQL release notes
(docs.aws.amazon.com/AmazonRDS/latest/PostgreSQLReleaseNotes/postgresql-versions.html) list 18
minor versions (18.1 onwards); their PostgreSQL 19 section can only be the Database Preview
Environment, not a GA major. (The rule for every cloud: :mod:`paybill.emit.terraform.postgres_versions`.)

Emitter: :mod:`paybill.emit.terraform.providers.aws`.
"""

from __future__ import annotations

from paybill.clouds.profile import (
    AccountField,
    CloudProfile,
    PostgresService,
    ProviderScope,
    StateBackendUse,
    TerraformProvider,
)
from paybill.providers.aws.force_new import CONDITIONAL, FORCE_NEW
from paybill.providers.aws.names import NAMES, claim_names
from paybill.providers.aws.usage import QUOTA_PLAN
from paybill.providers.kubernetes import KUBERNETES

AWS = TerraformProvider(
    name="aws",
    source="hashicorp/aws",
    version="~> 6.0",
    checked_major=6,
    force_new=FORCE_NEW,
    conditional=CONDITIONAL,
    data_stores=frozenset({"aws_db_instance", "aws_s3_bucket", "aws_kms_key"}),
    checked="written for 6.x from the resource docs ('Forces new resource') and ForceNew in the 6.x schema",
    # The account (allowed_account_ids, or the role assumed into another account) and the region;
    # 6.x resources may set their own `region`. IAM is global: a region change keeps roles and policies.
    scope=ProviderScope(("allowed_account_ids", "assume_role.role_arn"), ("region",), ("region",),
                        frozenset(t for t in FORCE_NEW if t.startswith("aws_iam_"))),
)
"""hashicorp/aws 6.x is the current major (6.0.0 June 2025; no 7.0 upgrade guide exists)."""

PROFILE = CloudProfile(
    provider="aws",
    title="AWS",
    account=(AccountField("account_id", r"^\d{12}$"),),
    state_backends=(StateBackendUse("s3", "forbidden", "AWS S3 state needs no custom endpoint"),),
    names=NAMES,
    claims=claim_names,
    quota_usage=QUOTA_PLAN,
    postgres=PostgresService("Amazon RDS for PostgreSQL", 18),
    terraform=(AWS, KUBERNETES),
    emitter="paybill.emit.terraform.providers.aws:AWS_EMITTER",
    staged_migrations=True,
    # The tenant stack holds only an S3 access point on the pool bucket (emit ... aws/storage.py).
    pooled_storage_on_delete=(
        "its objects under tenants/{tenant}/ in the pool's S3 bucket stay: the apply (once its retainUntil has "
        "passed) deletes only its access point, and nothing deletes that prefix"),
)
