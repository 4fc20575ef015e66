"""Cloud quotas: counted from what the compile creates, per account/region/key, 80 % and 100 %.

Expected numbers are recomputed here independently, from the committed ``generated/`` stacks of the
example repository (resource types per stack, the manifest's clouds), not from the checker's own
tallies, so a counting bug in either place fails a test.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from paybill.compile import compile_repository
from paybill.diagnostics.model import Severity
from paybill.quotas import QUOTAS

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = json.loads((ROOT / "generated" / "manifest.json").read_text())
ACCOUNT_QUOTAS = {"aws-prod": "iamRoles", "azure-prod": "resourceGroups", "gcp-prod": "serviceAccounts",
                  "oci-prod": "iamPolicies", "ibm-prod": "accessPolicies"}


def resources(address: str) -> dict[str, dict]:
    return json.loads((ROOT / "generated" / "terraform" / address / "main.tf.json").read_text()).get("resource", {})


def quota(provider: str, name: str):
    return next(q for q in QUOTAS[provider] if q.name == name)


def contributions(cloud: str, name: str) -> list[tuple[str, int]]:
    """(stack address, count) in the order the checker adds stacks: pools, then tenants, by name."""
    stacks = sorted((s for s in MANIFEST["stacks"] if s["cloud"] == cloud),
                    key=lambda s: (s["kind"] != "pool", s["address"]))
    q = quota(stacks[0]["provider"], name)
    found = []
    for s in stacks:
        n = sum(len(resources(s["address"]).get(t, {})) for t in q.resource_types)
        if n:
            found.append((s["address"], n))
    return found


def compiled(tmp_path: Path, quotas: dict[str, dict[str, object]]):
    specs = tmp_path / "specs"
    shutil.copytree(ROOT / "specs", specs)
    for cloud, values in quotas.items():
        path = specs / "clouds" / f"{cloud}.yaml"
        path.write_text(path.read_text() + "  quotas:\n" + "".join(f"    {k}: {v}\n" for k, v in values.items()))
    result = compile_repository(specs)
    return [d for d in result.diagnostics if d.code.startswith("PB068")]


def test_the_example_fleet_is_within_every_default_quota(tmp_path: Path) -> None:
    assert compiled(tmp_path, {}) == []


@pytest.mark.parametrize("cloud", sorted(ACCOUNT_QUOTAS))
def test_each_cloud_counts_what_its_stacks_create_and_blames_the_tenant_that_crosses(cloud: str,
                                                                                       tmp_path: Path) -> None:
    name = ACCOUNT_QUOTAS[cloud]
    parts = contributions(cloud, name)
    total = sum(n for _, n in parts)
    assert total >= 3, f"{cloud}: the example creates too few {name} to test thresholds"
    running, warn_at, fail_at = 0, None, None
    for address, n in parts:
        running += n
        if warn_at is None and running >= 0.8 * total:
            warn_at = (address, running)
        if fail_at is None and running >= total:
            fail_at = (address, running)
    found = compiled(tmp_path, {cloud: {name: total}})
    errors = [d for d in found if d.code == "PB0682"]
    warnings = [d for d in found if d.code == "PB0681"]
    assert len(errors) == 1 and errors[0].severity is Severity.WARNING  # an error only with --strict-quotas
    assert errors[0].path == f"specs/{fail_at[0].replace('/', 's/', 1)}.yaml"
    assert f"to {total:,} of {total:,} (100 %; quota {name}, your override on Cloud/{cloud})" in errors[0].message
    if warn_at != fail_at:
        assert [w.path for w in warnings] == [f"specs/{warn_at[0].replace('/', 's/', 1)}.yaml"]
        assert f"to {warn_at[1]:,} of {total:,}" in warnings[0].message
    blamed = (ROOT / errors[0].path).read_text().splitlines()
    assert blamed[errors[0].position.line - 1].strip().startswith("name: ")  # at the tenant's metadata.name
    # one more unit of headroom: no error; the 80 % warning stays
    assert [d.code for d in compiled(tmp_path / "more", {cloud: {name: total + 1}})].count("PB0682") == 0


def test_kms_grants_are_counted_per_pool_key(tmp_path: Path) -> None:
    grants = [(a, n) for a, n in contributions("aws-prod", "kmsGrantsPerKey")]
    assert grants and all(a.startswith("tenant/") for a, _ in grants)  # pooled tenants' grants on the pool key
    total = sum(n for _, n in grants)
    [error] = [d for d in compiled(tmp_path, {"aws-prod": {"kmsGrantsPerKey": total}}) if d.code == "PB0682"]
    assert "KMS grants in pool/aws-use1-shared's KMS key" in error.message
    assert error.path == f"specs/tenants/{grants[-1][0].split('/')[1]}.yaml"


def test_azure_identities_are_counted_per_resource_group(tmp_path: Path) -> None:
    in_pool_group = 0
    last = None
    for s in sorted((s for s in MANIFEST["stacks"] if s["cloud"] == "azure-prod"),
                    key=lambda s: (s["kind"] != "pool", s["address"])):
        for body in resources(s["address"]).get("azurerm_user_assigned_identity", {}).values():
            if s["kind"] == "pool" or "terraform_remote_state.pool" in body["resource_group_name"]:
                in_pool_group += 1
                last = s["address"]
    found = compiled(tmp_path, {"azure-prod": {"userAssignedIdentitiesPerResourceGroup": in_pool_group}})
    [error] = [d for d in found if d.code == "PB0682"]
    assert "pool/azure-weu-shared's resource group" in error.message
    assert error.path == f"specs/tenants/{last.split('/')[1]}.yaml"
    assert f"to {in_pool_group} of {in_pool_group}" in error.message


def test_an_unknown_quota_name_is_an_error_with_did_you_mean(tmp_path: Path) -> None:
    [error] = compiled(tmp_path, {"aws-prod": {"iamRole": 5}})
    assert error.code == "PB0680" and error.severity is Severity.ERROR
    assert error.message == "unknown quota 'iamRole' for provider 'aws'" and "iamRoles" in (error.hint or "")


def test_every_quota_cites_its_documentation() -> None:
    for provider, quotas in QUOTAS.items():
        assert len({q.name for q in quotas}) == len(quotas)
        for q in quotas:
            assert q.provider == provider and q.default > 0 and q.doc.startswith("https://"), q
            assert all(t.split("_")[0] in {"aws", "azurerm", "google", "oci", "ibm"} for t in q.resource_types)


def test_strict_quotas_makes_a_reached_quota_fail_the_compile(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    shutil.copytree(ROOT / "specs", specs)
    path = specs / "clouds" / "gcp-prod.yaml"
    path.write_text(path.read_text() + "  quotas:\n    serviceAccounts: 3\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "compiler")}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "paybill", "compile", "specs", "--out", "out", *args],
                              cwd=tmp_path, capture_output=True, text=True, env=env, check=False, timeout=300)

    strict = run("--strict-quotas")
    assert strict.returncode == 1 and not (tmp_path / "out").exists()
    assert "error[PB0682]: tenant '" in strict.stdout + strict.stderr
    relaxed = run()
    assert relaxed.returncode == 0 and (tmp_path / "out" / "manifest.json").is_file()
    assert "warning[PB0682]" in relaxed.stdout + relaxed.stderr
