"""Google Cloud identity layer: one service account per tenant, and grants scoped to the tenant.

Google Cloud IAM has no principal tags, so a principal shared by tenants cannot be narrowed per
tenant: every tenant gets its own service account, whichever way its identity layer is placed, and
isolation inside pooled resources comes from IAM conditions (the tenant's object prefix in the pool
bucket, the Cloud SQL instance that holds its database). A suspended tenant's service account is
disabled: nothing can act as the tenant, and no grant or byte of data is removed.
"""

from __future__ import annotations

from dataclasses import dataclass

from paybill.emit.terraform.context import TenantContext
from paybill.emit.terraform.expr import Expr, raw
from paybill.emit.terraform.providers.gcp.common import inner, name, project_id
from paybill.emit.terraform.providers.gcp.keys import ENCRYPTER
from paybill.emit.terraform.providers.gcp.sizing import SERVICE_ACCOUNT_ID
from paybill.emit.terraform.stack import Stack

TENANT_PREFIX = "tenants/{tenant}/"
"""Where a pooled tenant's objects live in the pool bucket."""


@dataclass(frozen=True, slots=True)
class TenantIdentity:
    email: Expr
    member: Expr
    account_name: Expr
    """``projects/<p>/serviceAccounts/<email>``, for grants on the account itself."""


def emit_service_account(stack: Stack, ctx: TenantContext) -> TenantIdentity:
    account = stack.resource("google_service_account", "tenant", {
        "account_id": name(ctx, SERVICE_ACCOUNT_ID),
        "display_name": f"paybill tenant {ctx.tenant.spec.display_name}"[:100],
        "description": f"Workload identity of tenant {ctx.name} ({ctx.isolation}); disabled while suspended.",
        "disabled": ctx.suspended,
    })
    return TenantIdentity(account.attr("email"), account.attr("member"), account.attr("name"))


def grant_key(stack: Stack, identity: TenantIdentity, key: Expr) -> None:
    """Application-level envelope encryption with the tenant's own key."""
    stack.resource("google_kms_crypto_key_iam_member", "tenant_app", {
        "crypto_key_id": key,
        "role": ENCRYPTER,
        "member": identity.member,
    })


def grant_sql(stack: Stack, ctx: TenantContext, identity: TenantIdentity, instance: Expr) -> None:
    """Connect to one Cloud SQL instance only (IAM database authentication, no password)."""
    condition = raw('format("resource.name == \'projects/%s/instances/%s\'", '
                    f'"{project_id(ctx)}", {inner(instance)})')
    for role in ("roles/cloudsql.client", "roles/cloudsql.instanceUser"):
        local = role.split(".")[-1].lower().replace("instanceuser", "instance_user")
        stack.resource("google_project_iam_member", f"tenant_sql_{local}", {
            "project": project_id(ctx),
            "role": role,
            "member": identity.member,
            "condition": {
                "title": f"paybill-{ctx.name}-sql",
                "description": "Only the Cloud SQL instance that holds this tenant's database.",
                "expression": condition,
            },
        })
    stack.resource("google_sql_user", "tenant", {
        "instance": instance,
        "name": raw(f'trimsuffix({inner(identity.email)}, ".gserviceaccount.com")'),
        "type": "CLOUD_IAM_SERVICE_ACCOUNT",
        "deletion_policy": "ABANDON",
    })


def grant_bucket(stack: Stack, ctx: TenantContext, identity: TenantIdentity, bucket: Expr, *, pooled: bool) -> None:
    """Object read/write on the tenant's bucket, or only under its prefix of the pool bucket."""
    body: dict[str, object] = {"bucket": bucket, "role": "roles/storage.objectUser", "member": identity.member}
    if pooled:
        prefix = TENANT_PREFIX.format(tenant=ctx.name)
        body["condition"] = {
            "title": f"paybill-{ctx.name}-prefix",
            "description": f"Objects under {prefix} only (and listing that prefix).",
            "expression": raw(
                'format("resource.name.startsWith(\'projects/_/buckets/%s/objects/%s\') || '
                "api.getAttribute('storage.googleapis.com/objectListPrefix', '').startsWith('%s')\", "
                f'{inner(bucket)}, "{prefix}", "{prefix}")'
            ),
        }
    stack.resource("google_storage_bucket_iam_member", "tenant_objects", body)
