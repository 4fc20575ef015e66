"""The AWS profile: Cloud spec block, state backend, name rules, RDS major, the hashicorp/aws pin.

PostgreSQL: Amazon RDS for PostgreSQL runs **18**. The RDS for PostgreSQL release notes
(docs.aws.amazon.com/AmazonRDS/latest/PostgreSQLReleaseNotes/postgresql-versions.html) list 18
minor versions (18.1 onwards); their PostgreSQL 19 section can only be the Database Preview
Environment, not a GA major. (The rule for every cloud: :mod:`paybill.emit.terraform.postgres_versions`.)

Emitter: :mod:`paybill.emit.terraform.providers.aws`.
"""

from __future__ import annotations

from paybill.clouds.names import NameRule
from paybill.clouds.profile import (
    AccountField,
    CloudProfile,
    PostgresService,
    ProviderScope,
    StateBackendUse,
    TerraformProvider,
)
from paybill.providers.aws.force_new import FORCE_NEW
from paybill.providers.kubernetes import KUBERNETES, NAMESPACE

AWS = TerraformProvider(
    name="aws",
    source="hashicorp/aws",
    version="~> 6.0",
    checked_major=6,
    force_new=FORCE_NEW,
    data_stores=frozenset({"aws_db_instance", "aws_s3_bucket", "aws_kms_key"}),
    checked="written for 6.x from the resource docs ('Forces new resource') and ForceNew in the 6.x schema",
    # The account (allowed_account_ids, or the role assumed into another account) and the region;
    # 6.x resources may set their own `region`. IAM is global: a region change keeps roles and policies.
    scope=ProviderScope(("allowed_account_ids", "assume_role.role_arn"), ("region",), ("region",),
                        frozenset(t for t in FORCE_NEW if t.startswith("aws_iam_"))),
)
"""hashicorp/aws 6.x is the current major (6.0.0 June 2025; no 7.0 upgrade guide exists)."""

NAMES = (
    NameRule("s3-bucket", 63, scope="global"),
    # 3-63 lower-case letters, digits, hyphens; globally unique, so the account id is part of it.
    NameRule("s3-access-point", 50),
    NameRule("rds-identifier", 63),
    # RDS identifiers: 1-63 letters, digits, hyphens, starting with a letter (also used for groups).
    NameRule("iam-role", 64),
    NameRule("iam-policy", 128),
    NameRule("kms-alias", 200, alphabet="a-z0-9/_-", separator="/"),
    NameRule("eks-cluster", 100),
    NameRule("eks-node-group", 63),
    NameRule("kms-grant", 256),
    NameRule("aws-name", 255),
    # Security groups, subnet groups and other names only unique within the account and region.
    NAMESPACE,
)

PROFILE = CloudProfile(
    provider="aws",
    title="AWS",
    account=(AccountField("account_id", r"^\d{12}$"),),
    state_backends=(StateBackendUse("s3", "forbidden", "AWS S3 state needs no custom endpoint"),),
    names=NAMES,
    postgres=PostgresService("Amazon RDS for PostgreSQL", 18),
    terraform=(AWS, KUBERNETES),
    emitter="paybill.emit.terraform.providers.aws:AWS_EMITTER",
    staged_migrations=True,
)
