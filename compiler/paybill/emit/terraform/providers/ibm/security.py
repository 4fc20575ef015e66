"""IBM Cloud keys and identity layers.

Keys: a Key Protect instance (private endpoint only) with a root key rotated every three months, and
the service-to-service authorizations that let Databases for PostgreSQL, Cloud Object Storage, the
Kubernetes Service and Block Storage (worker boot volumes) use its keys. Pooled tenants get their own
root key in the pool's instance.

Identity: a service ID per tenant, with policies on exactly the tenant's resources (its COS bucket,
its root key); an access group for the tenant's operators with read access to the tenant's resource
group when it has one. A suspended tenant's service ID keeps existing without any policy: nothing
can act as the tenant, and no resource or byte of data is touched.
"""

from __future__ import annotations

from dataclasses import dataclass

from paybill.emit.terraform.context import TenantContext
from paybill.emit.terraform.expr import Expr
from paybill.emit.terraform.providers.ibm.common import Ctx, name, tags
from paybill.emit.terraform.providers.ibm.sizing import IAM_NAME, INSTANCE_NAME, KEY_NAME, KEY_ROTATION_MONTHS
from paybill.emit.terraform.stack import Stack

KMS_CONSUMERS = (
    ("databases", "databases-for-postgresql"),
    ("cos", "cloud-object-storage"),
    ("kubernetes", "containers-kubernetes"),
    ("block_storage", "server-protect"),
)
"""(local name, IAM service name) of the services that encrypt with Key Protect keys for us."""


@dataclass(frozen=True, slots=True)
class IbmKeys:
    instance_guid: Expr
    key_id: Expr
    key_crn: Expr


def emit_kms_instance(stack: Stack, ctx: Ctx, resource_group: Expr) -> Expr:
    """A Key Protect instance and the authorizations for the services using it; returns its GUID."""
    kms = stack.resource("ibm_resource_instance", "kms", {
        "name": name(ctx, INSTANCE_NAME, "kms"),
        "service": "kms",
        "plan": "tiered-pricing",
        "location": ctx.region,
        "resource_group_id": resource_group,
        "service_endpoints": "private",
        "tags": tags(ctx),
    })
    for local, service in KMS_CONSUMERS:
        stack.resource("ibm_iam_authorization_policy", f"{local}_to_kms", {
            "source_service_name": service,
            "target_service_name": "kms",
            "target_resource_instance_id": kms.attr("guid"),
            "roles": ["Reader"],
            "description": f"{service} may use keys of {ctx.address}'s Key Protect instance.",
        })
    return kms.attr("guid")


def emit_root_key(stack: Stack, ctx: Ctx, instance_guid: Expr) -> IbmKeys:
    key = stack.resource("ibm_kms_key", "data", {
        "instance_id": instance_guid,
        "key_name": name(ctx, KEY_NAME, "data"),
        "description": f"paybill {ctx.address} root key",
        "standard_key": False,
        "force_delete": False,
        "endpoint_type": "private",
        # Destroying a root key makes everything it encrypted unreadable: only deliberately.
        "lifecycle": {"prevent_destroy": True},
    })
    stack.resource("ibm_kms_key_policies", "data", {
        "instance_id": instance_guid,
        "key_id": key.attr("key_id"),
        "endpoint_type": "private",
        "rotation": {"enabled": True, "interval_month": KEY_ROTATION_MONTHS},
    })
    return IbmKeys(instance_guid, key.attr("key_id"), key.attr("crn"))


def emit_service_id(stack: Stack, ctx: TenantContext) -> Expr:
    service_id = stack.resource("ibm_iam_service_id", "tenant", {
        "name": name(ctx, IAM_NAME, "workload"),
        "description": f"Workload identity of tenant {ctx.name} ({ctx.isolation}); no policy while suspended.",
        "tags": tags(ctx),
    })
    return service_id.attr("id")


def grant(stack: Stack, ctx: TenantContext, local: str, service_id: Expr, roles: list[str],
          resource: dict[str, object]) -> None:
    """One policy of the tenant's service ID (none while suspended)."""
    if ctx.suspended:
        return
    stack.resource("ibm_iam_service_policy", local, {
        "iam_service_id": service_id,
        "roles": roles,
        "resources": resource,
        "description": f"paybill tenant {ctx.name}: {local.replace('_', ' ')}",
    })


def emit_operators(stack: Stack, ctx: TenantContext, resource_group: Expr) -> None:
    """An access group for the tenant's operators: read-only on the tenant's own resource group."""
    group = stack.resource("ibm_iam_access_group", "operators", {
        "name": name(ctx, IAM_NAME, "operators"),
        "description": f"Operators of tenant {ctx.name}: read-only on its dedicated resources.",
        "tags": tags(ctx),
    })
    stack.resource("ibm_iam_access_group_policy", "operators", {
        "access_group_id": group.attr("id"),
        "roles": ["Viewer"],
        "resources": {"resource_group_id": resource_group},
    })
