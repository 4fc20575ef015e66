"""AWS object storage layer: S3 buckets with every guard on, or an access point into the pool bucket.

Every data bucket: versioning, SSE-KMS with the owner's key, Object Ownership ``BucketOwnerEnforced``
(ACLs off), all four public access blocks, a policy that refuses non-TLS requests and uploads
encrypted with any other key, server access logging to the stack's log bucket and a lifecycle rule
for old versions and abandoned multipart uploads (kept a year while offboarding). Buckets have no
``force_destroy``: S3 refuses to delete a non-empty bucket, which is the data store's deletion
protection.

The log bucket (access logs, VPC flow logs) uses SSE-S3, because S3 server access logging cannot
deliver into SSE-KMS buckets, and expires logs after a year.

A tenant with pooled storage gets an *S3 access point* on the pool bucket, bound to the VPC its
pods run in, whose policy admits only the tenant role and only under ``tenants/<tenant>/``; the
pool bucket delegates access control to access points of its account. The pool bucket does not use
an S3 Bucket Key, so S3 asks KMS with each object's ARN as encryption context and the tenant role's
KMS permission is limited to its own prefix as well.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from paybill.emit.terraform.expr import Expr, concat
from paybill.emit.terraform.providers.aws.common import (
    ACCESS_POINT,
    BUCKET,
    Scope,
    policy_document,
    pool_output,
    service_principal,
    statement,
)

OBJECT_ACTIONS = ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"]
KMS_DATA_ACTIONS = ["kms:Decrypt", "kms:GenerateDataKey"]


def _guards(scope: Scope, local: str, bucket: Expr, encryption: dict[str, Any], noncurrent_days: int,
            expiration_days: int | None = None) -> None:
    stack = scope.stack
    stack.resource("aws_s3_bucket_ownership_controls", local, {
        "bucket": bucket, "rule": {"object_ownership": "BucketOwnerEnforced"},
    })
    stack.resource("aws_s3_bucket_public_access_block", local, {
        "bucket": bucket,
        "block_public_acls": True,
        "block_public_policy": True,
        "ignore_public_acls": True,
        "restrict_public_buckets": True,
    })
    stack.resource("aws_s3_bucket_versioning", local, {
        "bucket": bucket, "versioning_configuration": {"status": "Enabled"},
    })
    stack.resource("aws_s3_bucket_server_side_encryption_configuration", local, {
        "bucket": bucket, "rule": [encryption],
    })
    rule: dict[str, Any] = {
        "id": "versions-and-uploads",
        "status": "Enabled",
        "filter": {},
        "noncurrent_version_expiration": {"noncurrent_days": noncurrent_days},
        "abort_incomplete_multipart_upload": {"days_after_initiation": 7},
    }
    if expiration_days is not None:
        rule["expiration"] = {"days": expiration_days}
    stack.resource("aws_s3_bucket_lifecycle_configuration", local, {"bucket": bucket, "rule": [rule]})


def _deny_insecure_transport(bucket_arn: Expr) -> dict[str, Any]:
    return statement("DenyInsecureTransport", "Deny", ["s3:*"], [bucket_arn, concat(bucket_arn, "/*")],
                     principals=[{"type": "*", "identifiers": ["*"]}],
                     conditions=[("Bool", "aws:SecureTransport", ["false"])])


def emit_log_bucket(scope: Scope) -> None:
    """The stack's log bucket: S3 access logs and VPC flow logs."""
    stack = scope.stack
    bucket = stack.resource("aws_s3_bucket", "logs", {
        "bucket": scope.claimed(BUCKET, "logs"),
    })
    bucket_id, bucket_arn = bucket.attr("id"), bucket.attr("arn")
    _guards(scope, "logs", bucket_id, {"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}},
            noncurrent_days=30, expiration_days=365)
    account = [scope.account_id]
    stack.resource("aws_s3_bucket_policy", "logs", {
        "bucket": bucket_id,
        "policy": policy_document(stack, "log_bucket", [
            _deny_insecure_transport(bucket_arn),
            statement("S3ServerAccessLogs", "Allow", ["s3:PutObject"], [concat(bucket_arn, "/s3-access-logs/*")],
                      principals=[service_principal("logging.s3.amazonaws.com")],
                      conditions=[("StringEquals", "aws:SourceAccount", account)]),
            statement("VpcFlowLogsWrite", "Allow", ["s3:PutObject"],
                      [concat(bucket_arn, f"/vpc-flow-logs/AWSLogs/{scope.account_id}/*")],
                      principals=[service_principal("delivery.logs.amazonaws.com")],
                      conditions=[("StringEquals", "aws:SourceAccount", account),
                                  ("StringEquals", "s3:x-amz-acl", ["bucket-owner-full-control"])]),
            statement("VpcFlowLogsAcl", "Allow", ["s3:GetBucketAcl", "s3:ListBucket"], [bucket_arn],
                      principals=[service_principal("delivery.logs.amazonaws.com")],
                      conditions=[("StringEquals", "aws:SourceAccount", account)]),
        ]),
    })
    scope.log_bucket, scope.log_bucket_arn = bucket_id, bucket_arn


def own_bucket(scope: Scope, *, bucket_key: bool,
               extra_policy: Callable[[Expr], list[dict[str, Any]]] | None = None) -> tuple[Expr, Expr]:
    """A data bucket encrypted with :attr:`Scope.key_arn`; returns (name, arn)."""
    assert scope.key_arn is not None and scope.log_bucket is not None
    stack = scope.stack
    tenant = scope.tenant
    bucket = stack.resource("aws_s3_bucket", "data", {
        "bucket": scope.claimed(BUCKET, "data"),
    })
    bucket_id, bucket_arn = bucket.attr("id"), bucket.attr("arn")
    offboarding = tenant is not None and tenant.offboarding
    _guards(scope, "data", bucket_id, {
        "apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms", "kms_master_key_id": scope.key_arn},
        "bucket_key_enabled": bucket_key,
    }, noncurrent_days=365 if offboarding else 90)
    stack.resource("aws_s3_bucket_logging", "data", {
        "bucket": bucket_id,
        "target_bucket": scope.log_bucket,
        "target_prefix": concat("s3-access-logs/", bucket_id, "/"),
    })
    stack.resource("aws_s3_bucket_policy", "data", {
        "bucket": bucket_id,
        "policy": policy_document(stack, "data_bucket", [
            _deny_insecure_transport(bucket_arn),
            statement("DenyOtherKmsKeys", "Deny", ["s3:PutObject"], [concat(bucket_arn, "/*")],
                      principals=[{"type": "*", "identifiers": ["*"]}],
                      conditions=[("StringNotEqualsIfExists", "s3:x-amz-server-side-encryption-aws-kms-key-id",
                                   [scope.key_arn])]),
            *(extra_policy(bucket_arn) if extra_policy else []),
        ]),
    })
    return bucket_id, bucket_arn


def emit_pool_storage(scope: Scope) -> None:
    def delegate(bucket_arn: Expr) -> list[dict[str, Any]]:
        return [statement(
            "DelegateToAccountAccessPoints", "Allow", ["s3:*"], [bucket_arn, concat(bucket_arn, "/*")],
            principals=[{"type": "AWS", "identifiers": ["*"]}],
            conditions=[("StringEquals", "s3:DataAccessPointAccount", [scope.account_id])],
        )]

    name, arn = own_bucket(scope, bucket_key=False, extra_policy=delegate)
    scope.output("bucket_name", name, "The pool's data bucket (tenants reach it through access points)")
    scope.output("bucket_arn", arn, "ARN of the pool's data bucket")


def emit_tenant_storage(scope: Scope) -> None:
    tenant = scope.tenant
    assert tenant is not None and scope.role_arn is not None
    if tenant.layers.silo("storage"):
        own_key = tenant.layers.silo("keys")
        name, arn = own_bucket(scope, bucket_key=own_key)
        scope.add_statement(statement("ListOwnBucket", "Allow", ["s3:ListBucket"], [arn]))
        scope.add_statement(statement("ObjectsInOwnBucket", "Allow", OBJECT_ACTIONS, [concat(arn, "/*")]))
        if not own_key:
            scope.add_statement(_kms_via_s3(scope, concat(arn, "/*"), scope.key_arn))
        scope.output("bucket_name", name, "The tenant's dedicated bucket")
        if tenant.layers.keeps_pooled("storage"):
            _access_point(scope, migrating=True)
        return
    _access_point(scope, migrating=False)


def _access_point(scope: Scope, *, migrating: bool) -> None:
    """The tenant's access point on the pool bucket: its pooled storage, or kept during a migration
    exactly as it was (bound to the VPC the old pods run in, reached with the key it was written with)."""
    tenant = scope.tenant
    assert tenant is not None and scope.role_arn is not None and scope.key_arn is not None
    layers = tenant.layers
    vpc_id, key_arn = scope.compute_vpc_id, scope.key_arn
    if migrating:
        if layers.holds_pooled("compute"):
            vpc_id = pool_output("vpc_id")
        if layers.holds_pooled("keys"):
            key_arn = pool_output("kms_key_arn")
    prefix = f"tenants/{scope.name}/"
    ap_name = scope.claimed(ACCESS_POINT)
    ap_arn = f"arn:aws:s3:{scope.region}:{scope.account_id}:accesspoint/{ap_name}"
    role = {"type": "AWS", "identifiers": [scope.role_arn]}
    access_point = scope.stack.resource("aws_s3_access_point", "tenant", {
        "bucket": pool_output("bucket_name"),
        "name": ap_name,
        "vpc_configuration": {"vpc_id": vpc_id},
        "public_access_block_configuration": {
            "block_public_acls": True,
            "block_public_policy": True,
            "ignore_public_acls": True,
            "restrict_public_buckets": True,
        },
        "policy": policy_document(scope.stack, "access_point", [
            statement("TenantObjects", "Allow", OBJECT_ACTIONS, [f"{ap_arn}/object/{prefix}*"], principals=[role]),
            statement("TenantListing", "Allow", ["s3:ListBucket"], [ap_arn], principals=[role],
                      conditions=[("StringLike", "s3:prefix", [f"{prefix}*"])]),
        ]),
    })
    scope.add_statement(statement("ListOwnPrefix", "Allow", ["s3:ListBucket"], [ap_arn],
                                  conditions=[("StringLike", "s3:prefix", [f"{prefix}*"])]))
    scope.add_statement(statement("ObjectsUnderOwnPrefix", "Allow", OBJECT_ACTIONS, [f"{ap_arn}/object/{prefix}*"]))
    scope.add_statement(_kms_via_s3(scope, concat(pool_output("bucket_arn"), f"/{prefix}*"), key_arn))
    scope.output("access_point_arn", access_point.attr("arn"), "S3 access point of the tenant on the pool bucket")
    scope.output("storage_prefix", prefix, "The tenant's prefix in the pool bucket")


def _kms_via_s3(scope: Scope, object_arns: Expr, key_arn: Any) -> dict[str, Any]:
    """KMS use through S3 only, for objects whose ARN (S3's encryption context) matches."""
    return statement("KeyUseThroughS3", "Allow", KMS_DATA_ACTIONS, [key_arn], conditions=[
        ("StringEquals", "kms:ViaService", [f"s3.{scope.region}.amazonaws.com"]),
        ("StringLike", "kms:EncryptionContext:aws:s3:arn", [object_arns]),
    ])
