"""The isolation planner keeps a migration's ``from`` placement, whatever the target, on every cloud
that executes migrations: at ``provision`` every resource the tenant had is still declared at the
same address (so the apply leaves the old access alone), and at ``decommission`` the stack is
exactly the one of the target isolation without a migration (so dropping the stanza changes
nothing). Checked on the compiled stacks of the example specs for several targets per cloud.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from paybill.compile import compile_repository
from paybill.emit.terraform.emitter import TERRAFORM_EMITTER

ROOT = Path(__file__).resolve().parents[2]
TENANTS = {"aws": "hooli", "azure": "soylent", "gcp": "initech"}
KEYS_STAY = {"gcp"}
"""Clouds where the keys layer cannot move in a migration (PB0442)."""
TARGETS = {
    "silo": "{model: silo}",
    "data": "{model: bridge, layers: {network: pooled, keys: silo, identity: pooled, database: silo, "
            "storage: silo, compute: pooled}}",
    "database": "{model: bridge, layers: {network: pooled, keys: pooled, identity: pooled, database: silo, "
                "storage: pooled, compute: pooled}}",
    "compute": "{model: bridge, layers: {network: silo, keys: pooled, identity: silo, database: silo, "
               "storage: pooled, compute: silo}}",
}


def _addresses(specs: Path, tenant: str) -> dict[str, object]:
    result = compile_repository(specs, emitters=[TERRAFORM_EMITTER])
    assert result.ok, [f"{d.path}:{d.position.line}: {d.message}" for d in result.diagnostics]
    stack = json.loads(result.tree[f"terraform/tenant/{tenant}/main.tf.json"])
    return {f"{kind}.{name}": body for kind, block in stack["resource"].items() for name, body in block.items()}


def _write(specs: Path, tenant: str, isolation: str) -> None:
    path = specs / "tenants" / f"{tenant}.yaml"
    text = path.read_text()
    text = re.sub(r"plan: [a-z]+", "plan: enterprise", text, count=1)
    text = text.replace("lifecycle: suspended", "lifecycle: active").replace("status: past_due", "status: active")
    text = re.sub(r"  isolation:\n(    .*\n)+?(?=  lifecycle:)", "  isolation:\n" + isolation, text)
    path.write_text(text)


@pytest.fixture(scope="module")
def specs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("specs") / "specs"
    shutil.copytree(ROOT / "specs", root)
    return root


CASES = [(cloud, target) for cloud in sorted(TENANTS) for target in sorted(TARGETS)
         if cloud not in KEYS_STAY or "keys: pooled" in TARGETS[target]]


@pytest.mark.parametrize(("cloud", "target"), CASES)
def test_old_access_is_kept_until_decommission_and_the_end_is_the_plain_target(specs, cloud, target) -> None:
    tenant = TENANTS[cloud]
    _write(specs, tenant, "    model: pooled\n")
    before = _addresses(specs, tenant)

    flow = TARGETS[target][1:-1]
    _write(specs, tenant, f"    {flow.replace(', layers', chr(10) + '    layers')}\n"
                          "    migration:\n      from: {model: pooled}\n      phase: provision\n")
    provision = _addresses(specs, tenant)
    assert set(before) <= set(provision), sorted(set(before) - set(provision))

    _write(specs, tenant, f"    {flow.replace(', layers', chr(10) + '    layers')}\n"
                          "    migration:\n      from: {model: pooled}\n      phase: decommission\n")
    decommission = _addresses(specs, tenant)
    _write(specs, tenant, f"    {flow.replace(', layers', chr(10) + '    layers')}\n")
    if target == "silo":  # a fully silo tenant names no pool once the stanza is gone
        path = specs / "tenants" / f"{tenant}.yaml"
        path.write_text(re.sub(r"    pool: [a-z0-9-]+\n", "", path.read_text()))
    assert decommission == _addresses(specs, tenant)
    shutil.copy(ROOT / "specs" / "tenants" / f"{tenant}.yaml", specs / "tenants" / f"{tenant}.yaml")
