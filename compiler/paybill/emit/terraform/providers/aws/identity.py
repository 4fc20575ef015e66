"""AWS identity layer: one IAM role per tenant, assumed by the tenant's pods through EKS Pod Identity.

Every tenant gets its own role whatever its isolation model: a per-tenant principal is what every
other layer's isolation hangs on (the KMS grant, the S3 access point policy, ``rds-db:connect`` for
one database user). Its trust policy admits only EKS Pod Identity in this account, for the
tenant's namespace on the cluster its compute runs on. What the role may do is collected from the
layers (:attr:`Scope.statements`) and attached as one inline policy, so the whole grant is in one
reviewable document.

* identity **pooled**: the role also carries the pool's *permissions boundary* (a cap shared by
  every tenant role in the pool: object storage on paybill buckets and access points, key use and
  database connect in this account and region, nothing else), so a mistake in one tenant's policy
  cannot grant IAM or cross-service powers.
* **suspended**: an explicit ``Deny *`` policy is attached; it overrides every allow, including
  the grant-based key access, while every resource and byte of data stays.
"""

from __future__ import annotations

from typing import Any

from paybill.emit.terraform.expr import Expr
from paybill.emit.terraform.providers.aws.common import (
    IAM_POLICY,
    IAM_ROLE,
    Scope,
    policy_document,
    pool_output,
    service_principal,
    statement,
)
from paybill.emit.terraform.stack import ResourceHandle

ROLE_PATH = "/paybill/"
KMS_ACTIONS = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"]
S3_ACTIONS = ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket",
              "s3:PutObject"]


def declare_tenant_role(scope: Scope, *, cluster_arn: Expr, namespace: str) -> None:
    """The tenant role (first, so later layers can name it as grantee or principal)."""
    tenant = scope.tenant
    assert tenant is not None
    trust = policy_document(scope.stack, "tenant_trust", [statement(
        "EksPodIdentity", "Allow", ["sts:AssumeRole", "sts:TagSession"], None,
        principals=[service_principal("pods.eks.amazonaws.com")],
        conditions=[
            ("StringEquals", "aws:SourceAccount", [scope.account_id]),
            ("ArnEquals", "aws:SourceArn", [cluster_arn]),
            ("StringEquals", "aws:RequestTag/kubernetes-namespace", [namespace]),
        ],
    )])
    body = {
        "name": scope.claimed(IAM_ROLE),
        "path": ROLE_PATH,
        "description": f"paybill tenant {scope.name}: workload identity",
        "assume_role_policy": trust,
        "max_session_duration": 3600,
    }
    if tenant.layers.holds_pooled("identity"):
        body["permissions_boundary"] = pool_output("tenant_permissions_boundary_arn")
    role = scope.stack.resource("aws_iam_role", "tenant", body)
    scope.role_name = role.attr("name")
    scope.role_arn = role.attr("arn")


def finish_tenant_identity(scope: Scope) -> None:
    """Attach what the layers granted, and the suspension deny."""
    tenant = scope.tenant
    assert tenant is not None and scope.role_name is not None
    stack = scope.stack
    if scope.statements:
        stack.resource("aws_iam_role_policy", "tenant_access", {
            "name": "paybill-tenant-access",
            "role": scope.role_name,
            "policy": policy_document(stack, "tenant_access", scope.statements),
        })
    if tenant.suspended:
        stack.resource("aws_iam_role_policy", "suspended", {
            "name": "paybill-suspended-deny-all",
            "role": scope.role_name,
            "policy": policy_document(stack, "suspended", [statement("TenantSuspended", "Deny", ["*"], ["*"])]),
        })
    scope.output("role_arn", scope.role_arn, "IAM role of the tenant's workloads")


def emit_pool_identity(scope: Scope) -> None:
    """The permissions boundary every pooled-identity tenant role carries."""
    stack = scope.stack
    policy = stack.resource("aws_iam_policy", "tenant_boundary", {
        "name": scope.claimed(IAM_POLICY),
        "path": ROLE_PATH,
        "description": f"paybill pool {scope.name}: the most any tenant role in the pool may do",
        "policy": policy_document(stack, "tenant_boundary", _boundary_statements(scope)),
    })
    scope.output("tenant_permissions_boundary_arn", policy.attr("arn"),
                 "Permissions boundary for tenant roles with pooled identity")


def _boundary_statements(scope: Scope) -> list[dict[str, Any]]:
    """Data-plane actions only, and only on paybill resources of this account and region (bucket
    names all start with ``paybill-``; access points, keys and database users are account-scoped)."""
    region, account = scope.region, scope.account_id
    return [
        statement("KeysOfThisAccount", "Allow", KMS_ACTIONS, [f"arn:aws:kms:{region}:{account}:key/*"]),
        statement("DatabaseLogins", "Allow", ["rds-db:connect"], [f"arn:aws:rds-db:{region}:{account}:dbuser:*/*"]),
        statement("PaybillObjects", "Allow", S3_ACTIONS, [
            "arn:aws:s3:::paybill-*",
            f"arn:aws:s3:{region}:{account}:accesspoint/*",
        ]),
    ]


def service_role(scope: Scope, local: str, service: str, managed_policies: list[str]) -> ResourceHandle:
    """A role a service assumes (EKS, EC2 nodes, RDS monitoring) with AWS managed policies."""
    stack = scope.stack
    trust = policy_document(stack, f"{local}_trust", [statement(
        "Service", "Allow", ["sts:AssumeRole"], None, principals=[service_principal(service)],
    )])
    role = stack.resource("aws_iam_role", local, {
        "name": scope.claimed(IAM_ROLE, local.replace("_", "-")),
        "path": ROLE_PATH,
        "assume_role_policy": trust,
    })
    for index, arn in enumerate(managed_policies):
        stack.resource("aws_iam_role_policy_attachment", f"{local}_{index}", {
            "role": role.attr("name"),
            "policy_arn": arn,
        })
    return role
