"""Spec-only checks that used to fire inside the Terraform emitter now run at resolve time.

``paybill validate`` (the pre-commit hook and the PR check) must report them exactly as ``paybill
compile`` does: same code, same path:line:col, same message and hint. Each moved check has a case
here run through both real CLI processes; reverting the move (validate no longer resolving) makes
validate print nothing for them and every case fails.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.foundation.support import build_repo, run_cli

ACME_SILO = """\
apiVersion: paybill.dev/v1alpha1
kind: Tenant
metadata:
  name: {name}
spec:
  displayName: {name}
  plan: enterprise
  placement:
    cloud: aws-prod
    region: us-east-1
    networkCidr: {cidr}
  isolation:
    model: silo
  lifecycle: active
  billing:
    status: active
    customerId: cus_{name}
"""

POOL_CIDR = """\
apiVersion: paybill.dev/v1alpha1
kind: Pool
metadata:
  name: aws-use1-shared
spec:
  cloud: aws-prod
  region: us-east-1
  networkCidr: {cidr}
  capacity:
    maxTenants: 2
  layers: [network, keys, identity, database, storage, compute]
  sizing:
    compute: xlarge
    database:
      size: xlarge
      highAvailability: true
      backupRetentionDays: 30
      storageGb: 1000
    storageGb: 5000
"""


def _tenant(name: str, cidr: str) -> str:
    return ACME_SILO.format(name=name, cidr=cidr)


CASES = {
    # The repro: two AWS tenants with the same placement.networkCidr.
    "PB0603-same-cidr": {
        "tenants/acme.yaml": _tenant("acme", "10.30.0.0/16"),
        "tenants/wayne.yaml": _tenant("wayne", "10.30.0.0/16"),
    },
    "PB0603-pool-covers-tenant": {
        "pools/aws-use1-shared.yaml": POOL_CIDR.format(cidr="10.40.0.0/16"),
        "tenants/acme.yaml": _tenant("acme", "10.40.16.0/20"),
    },
    "PB0602-host-bits": {"tenants/acme.yaml": _tenant("acme", "10.30.0.1/16")},
    "PB0602-outside-space": {"pools/aws-use1-shared.yaml": POOL_CIDR.format(cidr="192.168.0.0/16")},
    "PB0602-too-small": {"tenants/acme.yaml": _tenant("acme", "10.30.0.0/28")},
}


def _diagnostics(command: str, root: Path, *extra: str) -> tuple[int, list[dict[str, object]]]:
    result = run_cli(command, "specs", *extra, "--format", "json", cwd=root.parent)
    assert "Traceback" not in result.stderr
    payload = json.loads(result.stdout)  # validate prints the list; compile an object holding it
    return result.returncode, payload["diagnostics"] if isinstance(payload, dict) else payload


def _text(command: str, root: Path, *extra: str) -> list[str]:
    result = run_cli(command, "specs", *extra, cwd=root.parent)
    return [line for line in (result.stdout + result.stderr).splitlines() if "error[" in line or "hint:" in line]


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_validate_reports_the_check_compile_reports(case_id: str, tmp_path: Path) -> None:
    code = case_id.split("-", 1)[0]
    root = build_repo(tmp_path, files=CASES[case_id])
    validate_rc, validated = _diagnostics("validate", root)
    compile_rc, compiled = _diagnostics("compile", root, "--out", str(tmp_path / "out"))
    assert validate_rc == compile_rc == 1
    assert [d["code"] for d in validated] == [code], validated
    assert validated == compiled  # code, path, line, col, message and hint alike
    assert not (tmp_path / "out").exists()


def test_the_networkcidr_repro_in_text_form(tmp_path: Path) -> None:
    """The issue's words: validate printed ok, compile printed error[PB0603]; now both print the same line."""
    root = build_repo(tmp_path, files=CASES["PB0603-same-cidr"])
    validated = _text("validate", root)
    assert validated == _text("compile", root, "--out", str(tmp_path / "out"))
    assert validated == [
        "specs/tenants/wayne.yaml:11:18: error[PB0603]: network 10.30.0.0/16 of Tenant/wayne overlaps the network "
        "of Tenant/acme on cloud 'aws-prod'",
        "  hint: set an explicit, free placement.networkCidr (tenants) or spec.networkCidr (pools)",
    ]


def test_validate_and_compile_agree_on_a_broken_repository(tmp_path: Path) -> None:
    """Several resolve findings in one repository: one run reports all of them, the same from both commands."""
    root = build_repo(tmp_path, files={
        "pools/aws-use1-shared.yaml": POOL_CIDR.format(cidr="10.40.0.0/16"),
        "tenants/acme.yaml": _tenant("acme", "10.40.0.0/20"),
        "tenants/wayne.yaml": _tenant("wayne", "10.50.0.1/16"),
        "tenants/stark.yaml": _tenant("stark", "172.16.0.0/16"),
    })
    validate_rc, validated = _diagnostics("validate", root)
    compile_rc, compiled = _diagnostics("compile", root, "--out", str(tmp_path / "out"))
    assert validate_rc == compile_rc == 1
    assert validated == compiled
    assert sorted(str(d["code"]) for d in validated) == ["PB0602", "PB0602", "PB0603"]


def test_a_clean_repository_still_validates(tmp_path: Path) -> None:
    root = build_repo(tmp_path, files={"tenants/acme.yaml": _tenant("acme", "10.30.0.0/16")})
    result = run_cli("validate", "specs", cwd=root.parent)
    assert result.returncode == 0, result.stdout + result.stderr


def test_validate_and_compile_agree_on_the_foundation_broken_repository(tmp_path: Path) -> None:
    """The foundation's broken repository (schema and reference mistakes in nine files): both commands
    list the same diagnostics (neither resolves an index with validation errors)."""
    broken = Path(__file__).resolve().parents[1] / "foundation" / "broken_repo"
    root = build_repo(tmp_path, broken)
    _, validated = _diagnostics("validate", root)
    _, compiled = _diagnostics("compile", root, "--out", str(tmp_path / "out"))
    assert len(validated) > 5
    assert validated == compiled
