"""PB0601 (derived cloud names collide) is a resolve rule: ``paybill validate`` reports it as compile does.

Each case adds tenants to a copy of ``specs/`` whose derived names really collide on one cloud, for the
reason names can collide there: hyphens dropped by the alphabet (Azure storage accounts, OCI DNS
labels, Cloud SQL database names), or one spec's name plus a suffix spelling another spec's name
(AWS IAM roles, IBM Cloud VPC names). Both real CLI processes run on the same repository and must
print the same diagnostics (code, position, message, hint), once each. Reverting the move (validate
no longer resolving names, or the emitters claiming them again) makes these cases fail.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from tests.foundation.support import run_cli

ROOT = Path(__file__).resolve().parents[2]

TENANT = """\
apiVersion: paybill.dev/v1alpha1
kind: Tenant
metadata:
  name: {name}
spec:
  displayName: {name}
  plan: {plan}
  placement:
    cloud: {cloud}
    region: {region}
{pool}  isolation:
    model: {model}
  lifecycle: active
  billing:
    status: active
    customerId: cus_{customer}
"""


def tenant(name: str, cloud: str, region: str, *, model: str = "silo", pool: str | None = None,
           plan: str = "enterprise") -> tuple[str, str]:
    customer = hashlib.sha256(name.encode()).hexdigest()[:14]
    text = TENANT.format(name=name, plan=plan, cloud=cloud, region=region, model=model, customer=customer,
                         pool=f"    pool: {pool}\n" if pool else "")
    return f"tenants/{name}.yaml", text


def globex_copy(name: str) -> tuple[str, str]:
    globex = (ROOT / "specs" / "tenants" / "globex.yaml").read_text(encoding="utf-8")
    return f"tenants/{name}.yaml", globex.replace("globex", name)


# case -> (added files, the messages validate and compile must both print)
CASES: dict[str, tuple[list[tuple[str, str]], list[str]]] = {
    "aws": (  # acme-corp's EKS cluster role is paybill-tenant-acme-corp-eks-cluster: a tenant's role name
        [tenant("acme-corp-eks-cluster", "aws-prod", "us-east-1")],
        ["specs/tenants/acme-corp-eks-cluster.yaml:4:9: iam-role name 'paybill-tenant-acme-corp-eks-cluster' "
         "for tenant IAM role collides with the one derived for Tenant/acme-corp (EKS cluster role)"],
    ),
    "azure": (  # storage account names drop hyphens (and Key Vault names keep them: no collision there)
        [globex_copy("glob-ex")],
        ["specs/tenants/globex.yaml:5:9: storage-account name 'sttglobex0b1f' for storage account collides "
         "with the one derived for Tenant/glob-ex (storage account)"],
    ),
    "gcp": (  # Cloud SQL database names take letters, digits and '_' only
        [tenant("mass-ive", "gcp-prod", "us-central1"), tenant("massive", "gcp-prod", "us-central1")],
        ["specs/tenants/massive.yaml:4:9: gcp-sql-database name 'tenant_massive' for tenant database collides "
         "with the one derived for Tenant/mass-ive (tenant database)"],
    ),
    "oci": (  # VCN DNS labels take letters and digits only
        [tenant("um-brella", "oci-prod", "eu-frankfurt-1"), tenant("umbrella", "oci-prod", "eu-frankfurt-1")],
        ["specs/tenants/umbrella.yaml:4:9: oci-dns-label name 'pbumbrella' for VCN DNS label collides with the "
         "one derived for Tenant/um-brella (VCN DNS label)"],
    ),
    "ibm": (  # tenant 'skynet' has security group pb-skynet-app; tenant 'skynet-app' has VPC pb-skynet-app
        [tenant("skynet", "ibm-prod", "us-south"), tenant("skynet-app", "ibm-prod", "us-south")],
        ["specs/tenants/skynet-app.yaml:4:9: ibm-vpc name 'pb-skynet-app' for VPC collides with the one derived "
         "for Tenant/skynet (security group)"],
    ),
}


def _repository(tmp_path: Path, files: list[tuple[str, str]]) -> Path:
    root = tmp_path / "specs"
    shutil.copytree(ROOT / "specs", root)
    for relative, text in files:
        (root / relative).write_text(text, encoding="utf-8")
    return root


def _diagnostics(command: str, root: Path, *extra: str) -> tuple[int, list[dict[str, object]]]:
    result = run_cli(command, "specs", *extra, "--format", "json", cwd=root.parent)
    assert "Traceback" not in result.stderr
    payload = json.loads(result.stdout)  # validate prints the list; compile an object holding it
    return result.returncode, payload["diagnostics"] if isinstance(payload, dict) else payload


def _line(diagnostic: dict[str, object]) -> str:
    return f"{diagnostic['path']}:{diagnostic['line']}:{diagnostic['col']}: {diagnostic['message']}"


@pytest.mark.parametrize("cloud", sorted(CASES))
def test_validate_reports_the_collision_compile_reports(cloud: str, tmp_path: Path) -> None:
    files, expected = CASES[cloud]
    root = _repository(tmp_path, files)
    validate_rc, validated = _diagnostics("validate", root)
    compile_rc, compiled = _diagnostics("compile", root, "--out", str(tmp_path / "out"))
    assert validate_rc == compile_rc == 1
    errors = [d for d in validated if d["severity"] == "error"]
    assert [d["code"] for d in errors] == ["PB0601"] * len(expected), validated
    assert sorted(_line(d) for d in errors) == expected
    assert validated == compiled  # code, path, line, col, message and hint alike, each once
    assert not (tmp_path / "out").exists()


def test_the_collision_in_text_form_matches_the_errors_doc(tmp_path: Path) -> None:
    """docs/errors.md shows this exact output for PB0601; both commands print it."""
    root = _repository(tmp_path, CASES["azure"][0])
    printed = {}
    for command, extra in (("validate", ()), ("compile", ("--out", str(tmp_path / "out")))):
        result = run_cli(command, "specs", *extra, cwd=root.parent)
        printed[command] = [line for line in (result.stdout + result.stderr).splitlines()
                            if "error[" in line or "hint:" in line]
    assert printed["validate"] == printed["compile"] == [
        "specs/tenants/globex.yaml:5:9: error[PB0601]: storage-account name 'sttglobex0b1f' for storage account "
        "collides with the one derived for Tenant/glob-ex (storage account)",
        "  hint: rename one of the specs; derived names are shortened with a hash, so this needs near-identical "
        "long names",
    ]
    doc = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    assert printed["validate"][0] in doc
