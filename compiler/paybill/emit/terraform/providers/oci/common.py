"""Small helpers every OCI layer module uses."""

from __future__ import annotations

from paybill.clouds.names import NameRule
from paybill.emit.terraform.context import PoolContext, TenantContext, cloud_spec
from paybill.emit.terraform.expr import Expr, raw
from paybill.emit.terraform.providers.oci.sizing import LOG_RETENTION_DAYS
from paybill.emit.terraform.stack import Stack
from paybill.models.cloud import spec_model

OciCloudSpec = spec_model("oci")
"""This cloud's spec model, built from its profile."""

Ctx = PoolContext | TenantContext


def name(ctx: Ctx, rule: NameRule, *key: str) -> str:
    """The cloud name ``ctx``'s stack claimed for one of its resources (declared, with its parts and
    purpose, by :mod:`paybill.providers.oci.names`)."""
    return ctx.claimed(rule, *key)


def tenancy(ctx: Ctx) -> str:
    return cloud_spec(ctx.cloud, OciCloudSpec).oci.tenancy_ocid


def parent_compartment(ctx: Ctx) -> str:
    return cloud_spec(ctx.cloud, OciCloudSpec).oci.compartment_ocid


def tags(ctx: Ctx) -> dict[str, str]:
    """OCI free-form tags (no tag namespace needed)."""
    return dict(ctx.tags)


def inner(expression: Expr) -> str:
    """The expression inside ``${...}``, to nest one reference in a larger expression."""
    assert expression.startswith("${") and expression.endswith("}"), expression
    return expression[2:-1]


def availability_domain(stack: Stack, ctx: Ctx) -> Expr:
    """The region's first availability domain (placement of node pools; subnets are regional)."""
    if "oci_identity_availability_domains" not in stack.data:
        stack.data_source("oci_identity_availability_domains", "main", {"compartment_id": tenancy(ctx)})
    return raw("data.oci_identity_availability_domains.main.availability_domains[0].name")


def namespace(stack: Stack, ctx: Ctx) -> Expr:
    """The tenancy's Object Storage namespace."""
    if "oci_objectstorage_namespace" not in stack.data:
        stack.data_source("oci_objectstorage_namespace", "main", {"compartment_id": tenancy(ctx)})
    return raw("data.oci_objectstorage_namespace.main.namespace")


def waits(depends_on: list[str]) -> dict[str, list[str]]:
    """The ``depends_on`` meta-argument, only when there is anything to wait for (spread into a body)."""
    return {"depends_on": sorted(set(depends_on))} if depends_on else {}


def service_log(stack: Stack, ctx: Ctx, local: str, *, display_name: str, log_group: Expr, compartment: Expr,
                service: str, category: str, resource: Expr) -> None:
    """An ``oci_logging_log`` collecting one OCI service's logs (bucket access, VCN flow logs...)."""
    stack.resource("oci_logging_log", local, {
        "display_name": display_name,
        "log_group_id": log_group,
        "log_type": "SERVICE",
        "is_enabled": True,
        "retention_duration": LOG_RETENTION_DAYS,
        "configuration": {
            "compartment_id": compartment,
            "source": {"category": category, "resource": resource, "service": service,
                       "source_type": "OCISERVICE"},
        },
        "freeform_tags": tags(ctx),
    })
