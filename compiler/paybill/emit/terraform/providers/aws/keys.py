"""AWS keys layer: a customer managed KMS key per pool and per silo-keys tenant, or a key grant.

Dedicated keys rotate yearly, keep a 30-day deletion window and carry an explicit key policy: the
account root (so IAM policies decide who uses the key, and the tenant role's policy is the place to
look) plus CloudWatch Logs for log groups of this account and region only.

A tenant whose keys are pooled gets no key of its own. Its isolation inside the pool key is the
*encryption context*: a KMS grant lets the tenant role use the pool key only with the context
``paybill-tenant = <tenant>`` (so ciphertext of one tenant cannot be decrypted by another's role),
and its S3 objects, encrypted by S3 with the object ARN as context, are reachable only under its
own prefix (see :mod:`.storage`). Suspension revokes the grant and the role's policy denies all.
"""

from __future__ import annotations

from paybill.emit.terraform.expr import Expr
from paybill.emit.terraform.providers.aws.common import (
    KMS_ALIAS,
    KMS_GRANT,
    Scope,
    account_root,
    policy_document,
    pool_output,
    service_principal,
    statement,
)

TENANT_CONTEXT_KEY = "paybill-tenant"
GRANT_OPERATIONS = ["Decrypt", "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext",
                    "ReEncryptFrom", "ReEncryptTo"]


def own_key(scope: Scope) -> Expr:
    stack = scope.stack
    policy = policy_document(stack, "kms_key", [
        statement("AccountAdministration", "Allow", ["kms:*"], ["*"], principals=[account_root(scope.account_id)]),
        statement(
            "CloudWatchLogs", "Allow",
            ["kms:Decrypt*", "kms:Describe*", "kms:Encrypt*", "kms:GenerateDataKey*", "kms:ReEncrypt*"], ["*"],
            principals=[service_principal(f"logs.{scope.region}.amazonaws.com")],
            conditions=[("ArnLike", "kms:EncryptionContext:aws:logs:arn",
                         [f"arn:aws:logs:{scope.region}:{scope.account_id}:log-group:*"])],
        ),
    ])
    key = stack.resource("aws_kms_key", "main", {
        "description": f"paybill {scope.kind} {scope.name}: data at rest",
        "key_usage": "ENCRYPT_DECRYPT",
        "customer_master_key_spec": "SYMMETRIC_DEFAULT",
        "enable_key_rotation": True,
        "rotation_period_in_days": 365,
        "deletion_window_in_days": 30,
        "multi_region": False,
        "policy": policy,
    })
    stack.resource("aws_kms_alias", "main", {
        "name": scope.claimed(KMS_ALIAS),
        "target_key_id": key.attr("key_id"),
    })
    return key.attr("arn")


def emit_pool_keys(scope: Scope) -> None:
    scope.key_arn = own_key(scope)
    scope.output("kms_key_arn", scope.key_arn, "The pool's customer managed key")


def emit_tenant_keys(scope: Scope) -> None:
    tenant = scope.tenant
    assert tenant is not None and scope.role_arn is not None
    if tenant.layers.silo("keys"):
        scope.key_arn = own_key(scope)
        scope.add_statement(statement(
            "UseOwnKey", "Allow",
            ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"],
            [scope.key_arn],
        ))
        scope.output("kms_key_arn", scope.key_arn, "The tenant's customer managed key")
        if tenant.layers.keeps_pooled("keys"):  # migrating: data encrypted under the pool key stays readable
            _grant(scope)
        return
    scope.key_arn = pool_output("kms_key_arn")
    _grant(scope)


def _grant(scope: Scope) -> None:
    """The tenant role may use the pool key only with its own encryption context."""
    tenant = scope.tenant
    assert tenant is not None and scope.role_arn is not None
    if tenant.suspended:
        return  # the grant is revoked while suspended; data stays encrypted and intact
    scope.stack.resource("aws_kms_grant", "tenant_context", {
        "name": scope.claimed(KMS_GRANT),
        "key_id": pool_output("kms_key_arn"),
        "grantee_principal": scope.role_arn,
        "operations": GRANT_OPERATIONS,
        "constraints": [{"encryption_context_subset": {TENANT_CONTEXT_KEY: scope.name}}],
    })
