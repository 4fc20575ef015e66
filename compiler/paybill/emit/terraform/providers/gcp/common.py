"""Small helpers every Google Cloud layer module uses."""

from __future__ import annotations

from typing import Any

from paybill.clouds.names import NameRule
from paybill.emit.terraform.context import PoolContext, TenantContext, cloud_spec
from paybill.emit.terraform.expr import Expr, raw
from paybill.emit.terraform.providers.gcp.sizing import SERVICE_AGENTS
from paybill.emit.terraform.stack import Stack
from paybill.models.cloud import spec_model

GcpCloudSpec = spec_model("gcp")
"""This cloud's spec model, built from its profile."""

Ctx = PoolContext | TenantContext
PROJECT_DATA = ("data", "google_project", "main")


def name(ctx: Ctx, rule: NameRule, *key: str) -> str:
    """The cloud name ``ctx``'s stack claimed for one of its resources (declared, with its parts and
    purpose, by :mod:`paybill.providers.gcp.names`)."""
    return ctx.claimed(rule, *key)


def project_id(ctx: Ctx) -> str:
    return cloud_spec(ctx.cloud, GcpCloudSpec).gcp.project_id


def declare_project(stack: Stack, ctx: Ctx) -> None:
    """``data.google_project.main``: the project number, which service agent addresses contain."""
    if "google_project" not in stack.data:
        stack.data_source("google_project", "main", {"project_id": project_id(ctx)})


def service_agent(agent: str) -> Expr:
    """IAM member of a Google-managed service agent of the project (needs :func:`declare_project`)."""
    domain = SERVICE_AGENTS[agent]
    return raw(f'format("serviceAccount:service-%s@{domain}.iam.gserviceaccount.com", '
               f'{".".join(PROJECT_DATA)}.number)')


def inner(expression: Expr) -> str:
    """The expression inside ``${...}``, to nest one reference in a larger expression."""
    assert expression.startswith("${") and expression.endswith("}"), expression
    return expression[2:-1]


def with_depends(body: dict[str, Any], depends_on: list[str]) -> dict[str, Any]:
    """``body`` plus a sorted ``depends_on`` meta-argument when there is anything to wait for."""
    if depends_on:
        body["depends_on"] = sorted(set(depends_on))
    return body
