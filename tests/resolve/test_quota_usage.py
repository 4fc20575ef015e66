"""What resolve predicts each stack uses of its cloud's quotas is exactly what the emitters build.

Resolve counts quota usage from each cloud's quota plan (``CloudProfile.quota_usage``, beside the
claim plan) so ``paybill validate`` reports PB0681/PB0682 without emitting anything. This test
counts the other way, from the Terraform the emitters write (resource types per stack, and for a
referenced scope whether the reference attribute points at the pool's remote state), over the
repository in ``specs/`` and the benchmark generator's repository (silo, pooled, bridge,
migrating, suspended, offboarding and deleted tenants on five clouds), live stacks and the
decommission configurations of deleted tenants alike.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from paybill.clouds import registry
from paybill.diagnostics import DiagnosticSink
from paybill.emit.contract import EmitContext
from paybill.emit.terraform.emitter import TerraformResult, emit_terraform
from paybill.quotas import QUOTAS, Scope
from paybill.resolve import resolve_model
from paybill.validate import validate_repository

ROOT = Path(__file__).resolve().parents[2]
GENERATE = ROOT / "benchmarks" / "generate.py"
POOL_REFERENCE = "terraform_remote_state.pool"

Usage = tuple[tuple[str, str, int], ...]


@pytest.fixture(scope="module")
def generated_repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bench") / "repo"
    subprocess.run([sys.executable, str(GENERATE), "600", str(out)], check=True, capture_output=True)
    return out


def emitted_usage(provider: str, resources: Mapping[str, Mapping[str, Any]]) -> Usage:
    """(quota, holder, count) counted from a stack's resources (the reference, independent of the plans)."""
    counts: dict[tuple[str, str], int] = {}
    for quota in QUOTAS.get(provider, ()):
        for type_ in quota.resource_types:
            for body in resources.get(type_, {}).values():
                where = ""
                if quota.scope is Scope.REFERENCED:
                    value = body.get(quota.reference_attribute or "")
                    where = "pool" if isinstance(value, str) and POOL_REFERENCE in value else "self"
                counts[(quota.name, where)] = counts.get((quota.name, where), 0) + 1
    return tuple((name, where, n) for (name, where), n in sorted(counts.items()))


Compared = list[tuple[str, str, Usage, Usage]]


def _compare(root: Path) -> Compared:
    """(provider, stack, predicted, emitted) of every live stack and decommission configuration."""
    result = validate_repository(root)
    assert not [d for d in result.diagnostics if d.severity == "error"]
    model = resolve_model(result.index)
    ctx = EmitContext(result.index, DiagnosticSink(), resolved=model)
    tree = emit_terraform(ctx)
    terraform = ctx.facts.terraform
    assert isinstance(terraform, TerraformResult)
    compared: Compared = []
    for info in terraform.stacks:
        kind, _, name = info.address.partition("/")
        owner = model.pools[name] if kind == "pool" else model.tenants[name]
        emitted = emitted_usage(info.provider, json.loads(tree[info.path]).get("resource", {}))
        compared.append((info.provider, info.address, owner.usage, emitted))
    for removed in terraform.decommissioned:
        tenant = model.tenants[removed.address.partition("/")[2]]
        assert not tenant.live
        emitted = emitted_usage(tenant.cloud.provider, json.loads(tree[removed.path]).get("resource", {}))
        compared.append((tenant.cloud.provider, f"removed {removed.address}", tenant.usage, emitted))
    return compared


def _assert_exact(compared: Compared) -> None:
    assert {provider for provider, *_ in compared} == set(registry.provider_ids())
    wrong = [(stack, predicted, emitted) for _, stack, predicted, emitted in compared if predicted != emitted]
    assert not wrong, f"predicted != emitted: {wrong[:5]}"


def test_predicted_quota_usage_equals_the_emitted_stacks_in_specs() -> None:
    compared = _compare(ROOT / "specs")
    _assert_exact(compared)


def test_predicted_quota_usage_equals_the_emitted_stacks_in_the_benchmark_repository(
    generated_repository: Path,
) -> None:
    compared = _compare(generated_repository)
    _assert_exact(compared)
    assert len(compared) > 500
    assert any(stack.startswith("removed ") and emitted for _, stack, _, emitted in compared)
    counted = {name for *_, emitted in compared for name, _, _ in emitted}
    # every quota that paybill's stacks can use is exercised (OCI builds no dynamic groups)
    assert counted == {q.name for quotas in QUOTAS.values() for q in quotas} - {"dynamicGroups"}
