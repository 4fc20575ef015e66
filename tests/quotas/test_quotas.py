"""Cloud quotas: what the fleet will create, per account/region/key, 80 % and 100 %, at validate.

Expected numbers are recomputed here independently, from the committed ``generated/`` stacks of the
example repository (resource types per stack, the manifest's clouds, the decommission
configurations of deleted tenants), not from resolve's predicted usage, so a counting bug in either
place fails a test. ``paybill validate`` and ``paybill compile`` report the same findings, once.
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
from paybill.diagnostics import DiagnosticSink
from paybill.diagnostics.model import Diagnostic, Severity
from paybill.quotas import QUOTAS
from paybill.resolve import resolve_index
from paybill.validate import validate_repository

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = json.loads((ROOT / "generated" / "manifest.json").read_text())
ACCOUNT_QUOTAS = {"aws-prod": "iamRoles", "azure-prod": "resourceGroups", "gcp-prod": "serviceAccounts",
                  "oci-prod": "iamPolicies", "ibm-prod": "accessPolicies"}


def resources(path: str) -> dict[str, dict]:
    return json.loads((ROOT / "generated" / path).read_text()).get("resource", {})


def stack_path(stack: dict) -> str:
    """A live stack's ``main.tf.json`` or a deleted tenant's decommission configuration."""
    return stack.get("path") or f"terraform/{stack['address']}/main.tf.json"


def quota(provider: str, name: str):
    return next(q for q in QUOTAS[provider] if q.name == name)


def stacks(cloud: str) -> list[dict]:
    """The cloud's stacks in the order the check adds them: pools, then tenants (live or awaiting their
    destroy: the decommission configuration still holds its resources), by name."""
    found = [s for s in MANIFEST["stacks"] + MANIFEST["removed"] if s["cloud"] == cloud]
    return sorted(found, key=lambda s: (s["kind"] != "pool", s["address"]))


def contributions(cloud: str, name: str) -> list[tuple[str, int]]:
    """(stack address, count) in the order the check adds stacks."""
    found = []
    for s in stacks(cloud):
        n = sum(len(resources(stack_path(s)).get(t, {})) for t in quota(s["provider"], name).resource_types)
        if n:
            found.append((s["address"], n))
    return found


def with_quotas(tmp_path: Path, quotas: dict[str, dict[str, object]]) -> Path:
    specs = tmp_path / "specs"
    shutil.copytree(ROOT / "specs", specs)
    for cloud, values in quotas.items():
        path = specs / "clouds" / f"{cloud}.yaml"
        path.write_text(path.read_text() + "  quotas:\n" + "".join(f"    {k}: {v}\n" for k, v in values.items()))
    return specs


def _quota_findings(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    return [d for d in diagnostics if d.code.startswith("PB068")]


def compiled(tmp_path: Path, quotas: dict[str, dict[str, object]]) -> list[Diagnostic]:
    """The quota findings of ``paybill validate``, checked to equal those of ``paybill compile``."""
    specs = with_quotas(tmp_path, quotas)
    result = validate_repository(specs)
    sink = DiagnosticSink()
    if result.ok:  # as `paybill validate` does
        resolve_index(result.index, sink)
    validated = _quota_findings(sorted([*result.diagnostics, *sink.sorted()], key=lambda d: d.sort_key))
    assert _quota_findings(compile_repository(specs).diagnostics) == validated  # the same, once
    return validated


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
    assert len(errors) == 1 and errors[0].severity is Severity.ERROR
    assert errors[0].path == f"specs/{fail_at[0].replace('/', 's/', 1)}.yaml"
    assert f"to {total:,} of {total:,} (100 %; quota {name}, your override on Cloud/{cloud})" in errors[0].message
    if warn_at != fail_at:
        assert [w.path for w in warnings] == [f"specs/{warn_at[0].replace('/', 's/', 1)}.yaml"]
        assert f"to {warn_at[1]:,} of {total:,}" in warnings[0].message
    blamed = (ROOT / errors[0].path).read_text().splitlines()
    assert blamed[errors[0].position.line - 1].strip().startswith("name: ")  # at the tenant's metadata.name
    assert "whole fleet" not in errors[0].message  # the blamed stack reaches exactly the fleet's total
    # a quota the fleet goes past: the stack reaching 100 % is blamed, and the message names what the
    # whole fleet needs (the raise to ask the provider for), not only "limit of limit"
    if total - parts[-1][1] >= 1 and len(parts) > 1:
        over = compiled(tmp_path / "less", {cloud: {name: total - parts[-1][1]}})
        (error,) = [d for d in over if d.code == "PB0682"]
        assert error.message.endswith(f"; the whole fleet needs {total:,}")
        assert f"raise the quota above {total:,} with the provider" in (error.hint or "")
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
        for body in resources(stack_path(s)).get("azurerm_user_assigned_identity", {}).values():
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


def test_a_deleted_tenant_awaiting_its_destroy_still_counts(tmp_path: Path) -> None:
    """cyberdyne is deleted but not destroyed: its decommission configuration still holds a service ID."""
    [removed] = [s for s in MANIFEST["removed"] if s["address"] == "tenant/cyberdyne"]
    assert resources(removed["path"])["ibm_iam_service_id"]
    parts = contributions("ibm-prod", "serviceIds")
    assert ("tenant/cyberdyne", 1) in parts
    total = sum(n for _, n in parts)
    [error] = [d for d in compiled(tmp_path, {"ibm-prod": {"serviceIds": total}}) if d.code == "PB0682"]
    assert f"to {total} of {total}" in error.message
    assert error.path == f"specs/{parts[-1][0].replace('/', 's/', 1)}.yaml"
    assert all(d.code != "PB0682" for d in compiled(tmp_path / "more", {"ibm-prod": {"serviceIds": total + 1}}))


def test_a_reached_quota_fails_validate_and_compile(tmp_path: Path) -> None:
    specs = with_quotas(tmp_path, {"gcp-prod": {"serviceAccounts": 3}})
    env = {**os.environ, "PYTHONPATH": str(ROOT / "compiler")}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "paybill", *args], cwd=tmp_path, capture_output=True,
                              text=True, env=env, check=False, timeout=300)

    validated = run("validate", str(specs.name))
    assert validated.returncode == 1
    assert validated.stdout.count("error[PB0682]: tenant '") == 1
    compiled_ = run("compile", "specs", "--out", "out")
    assert compiled_.returncode == 1 and not (tmp_path / "out").exists()
    assert (compiled_.stdout + compiled_.stderr).count("error[PB0682]") == 1  # reported once
    # --strict-quotas is still accepted (deprecated, no effect)
    deprecated = run("compile", "specs", "--out", "out", "--strict-quotas")
    assert deprecated.returncode == 1 and "deprecated" in deprecated.stderr


def _resolved_quota_findings(specs: Path) -> list[Diagnostic]:
    result = validate_repository(specs)
    assert result.ok, result.diagnostics[:3]
    sink = DiagnosticSink()
    resolve_index(result.index, sink)
    return _quota_findings(sink.sorted())


@pytest.mark.slow
def test_the_benchmark_fleet_declares_the_quotas_it_needs(tmp_path: Path) -> None:
    """At 10,000 tenants the generator's fleet exceeds GCP's and OCI's defaults; its Cloud specs raise them."""
    specs = tmp_path / "repo"
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "generate.py"), "10000", str(specs)], check=True,
                   capture_output=True, timeout=300)
    assert _resolved_quota_findings(specs) == []
    for cloud in (specs / "clouds").glob("*.yaml"):
        cloud.write_text("".join(line for line in cloud.read_text().splitlines(keepends=True)
                                 if not line.startswith("  quotas: ")))
    reached = {d.message.split("quota ")[1].split(",")[0] for d in _resolved_quota_findings(specs)
               if d.code == "PB0682"}
    assert reached == {"serviceAccounts", "iamPolicies", "vaults"}
