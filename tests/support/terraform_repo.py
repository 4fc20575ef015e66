"""Build a spec repository (the example ``specs/`` plus extra tenants) and emit its Terraform.

Shared by the per-cloud test folders (tests/terraform/<cloud>/); importable as
``support.terraform_repo`` because pyproject sets pytest's pythonpath to ``tests``.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

from paybill.diagnostics import Diagnostic, DiagnosticSink
from paybill.emit.contract import EmitContext
from paybill.emit.terraform.emitter import emit_terraform
from paybill.validate import validate_repository

SPECS = Path(__file__).resolve().parents[2] / "specs"
POOL_READ = re.compile(r"data\.terraform_remote_state\.pool\.outputs\.([a-z0-9_]+)")


def tenant_yaml(name: str, *, plan: str, cloud: str, region: str, model: str, pool: str | None = None,
                layers: dict[str, str] | None = None, lifecycle: str = "active", billing: str = "active",
                display: str | None = None, cidr: str | None = None) -> str:
    lines = [
        "apiVersion: paybill.dev/v1alpha1",
        "kind: Tenant",
        f"metadata: {{name: {name}}}",
        "spec:",
        f"  displayName: {json.dumps(display or f'Test tenant {name}')}",
        f"  plan: {plan}",
        "  placement:",
        f"    cloud: {cloud}",
        f"    region: {region}",
    ]
    if pool:
        lines.append(f"    pool: {pool}")
    if cidr:
        lines.append(f"    networkCidr: {cidr}")
    lines += ["  isolation:", f"    model: {model}"]
    if layers:
        lines.append("    layers:")
        lines += [f"      {layer}: {placement}" for layer, placement in layers.items()]
    lines += [f"  lifecycle: {lifecycle}", "  billing:", f"    status: {billing}", "    customerId: cus_test"]
    return "\n".join(lines) + "\n"


def emit_repo(root: Path, extra_tenants: dict[str, str]) -> tuple[dict[str, dict[str, Any]], DiagnosticSink]:
    """Copy ``specs/``, add tenants, validate (must be clean) and emit; stacks by address."""
    specs = root / "specs"
    shutil.copytree(SPECS, specs)
    for name, text in extra_tenants.items():
        (specs / "tenants" / f"{name}.yaml").write_text(text, encoding="utf-8")
    result = validate_repository(specs)
    assert result.ok, [d.to_dict() for d in result.diagnostics]
    sink = DiagnosticSink()
    tree = emit_terraform(EmitContext(result.index, sink))
    stacks = {path.removeprefix("terraform/").removesuffix("/main.tf.json"): json.loads(body)
              for path, body in tree.items()}
    return stacks, sink


def validate_repo(root: Path, extra_tenants: dict[str, str]) -> list[Diagnostic]:
    """Copy ``specs/``, add tenants and validate: the diagnostics ``paybill validate`` would print."""
    specs = root / "specs"
    shutil.copytree(SPECS, specs)
    for name, text in extra_tenants.items():
        (specs / "tenants" / f"{name}.yaml").write_text(text, encoding="utf-8")
    return validate_repository(specs).diagnostics


def resources(stack: dict[str, Any], type_: str) -> dict[str, Any]:
    return stack.get("resource", {}).get(type_, {})


def pool_reads(stack: dict[str, Any]) -> set[str]:
    """Names of the pool outputs a tenant stack reads."""
    return set(POOL_READ.findall(json.dumps(stack)))
