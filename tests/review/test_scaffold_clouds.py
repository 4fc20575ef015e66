"""``paybill init --cloud``: a new repository on each of the five clouds, driven as a user would.

``init`` could only scaffold AWS: a platform engineer on Azure, Google Cloud, Oracle Cloud or IBM
Cloud had to rewrite the cloud, the pool, four tenants and the BillingPolicy by hand before the first
compile. Each cloud's repository must compile clean (no warning), be fresh for ``compile --check``,
validate clean, and emit only resource types and arguments the real provider schemas have (the
fixtures of ``tests/terraform/test_provider_conformance.py``).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from paybill.scaffold.init import template_files
from paybill.scaffold.targets import CLOUDS, DEFAULT_CLOUD, retarget
from terraform.test_provider_conformance import CLOUD_TERRAFORM_PROVIDER, check_stack, schemas

AWS_ONLY = re.compile(r"(?<![\w.-])(aws-prod|aws-use1-shared|us-east-1|us-west-2|eu-west-1)(?![\w.-])")


@pytest.mark.parametrize("cloud", sorted(CLOUDS))
def test_init_for_each_cloud_compiles_clean_fresh_and_valid(tmp_path: Path, run, cloud: str) -> None:
    target = tmp_path / "platform"
    code, out, err = run(tmp_path, "init", str(target), "--no-git", "--cloud", cloud)
    assert code == 0, out + err
    chosen = CLOUDS[cloud]
    assert f"specs/clouds/{chosen.cloud}.yaml" in out
    cloud_spec = (target / "specs" / "clouds" / f"{chosen.cloud}.yaml").read_text(encoding="utf-8")
    assert f"provider: {cloud}\n" in cloud_spec
    assert [p.name for p in (target / "specs" / "clouds").iterdir()] == [f"{chosen.cloud}.yaml"]
    assert [p.name for p in (target / "specs" / "pools").iterdir()] == [f"{chosen.pool}.yaml"]
    if cloud != DEFAULT_CLOUD:
        left = [f"{p.relative_to(target)}: {m[0]}" for p in sorted((target / "specs").rglob("*.yaml"))
                for m in AWS_ONLY.finditer(p.read_text(encoding="utf-8"))]
        assert not left, left

    code, out, err = run(target, "compile")
    assert code == 0 and "warning" not in out + err, out + err
    code, out, err = run(target, "compile", "--check")
    assert code == 0 and "generated/ is up to date" in out, out + err
    code, out, err = run(target, "validate")
    assert code == 0 and out.startswith("ok: 16 files checked, no problems"), out + err

    stacks = {path: json.loads(path.read_text(encoding="utf-8"))
              for path in sorted((target / "generated" / "terraform").rglob("main.tf.json"))}
    provider = CLOUD_TERRAFORM_PROVIDER[cloud]
    assert len(stacks) == 5  # the pool, and acme-corp, hooli, nakatomi, vandelay
    assert all(provider in doc["terraform"]["required_providers"] for doc in stacks.values())
    problems = [p for path, doc in stacks.items()
                for p in check_stack(str(path.relative_to(target)), doc, schemas())]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("cloud", sorted(CLOUDS))
def test_the_readme_says_what_to_set_for_the_chosen_cloud_and_the_workflows_read_it(cloud: str) -> None:
    """The README listed two of the four workflows and no setting: a new user learnt which repository
    variables the apply needs from a failed run."""
    files = template_files(cloud)
    readme = files["README.md"].decode()
    chosen = CLOUDS[cloud]
    assert f"`specs/clouds/{chosen.cloud}.yaml`" in readme
    for workflow in ("paybill-pr.yml", "paybill-apply.yml", "paybill-apply-shard.yml", "paybill-drift.yml"):
        assert workflow in readme and f".github/workflows/{workflow}" in files
    for setting in chosen.credentials:
        assert f"`{setting.split('.', 1)[1]}`" in readme
        for workflow in ("paybill-apply-shard.yml", "paybill-drift.yml"):
            assert f"{setting}" in files[f".github/workflows/{workflow}"].decode(), (setting, workflow)
    others = {name.split(".", 1)[1] for other in CLOUDS.values() if other is not chosen for name in other.credentials}
    assert not [name for name in others - {s.split(".", 1)[1] for s in chosen.credentials} if name in readme]


def test_init_refuses_a_cloud_it_does_not_know(tmp_path: Path, run) -> None:
    code, _, err = run(tmp_path, "init", "p", "--no-git", "--cloud", "digitalocean")
    assert code == 2
    assert "Invalid value for '--cloud': 'digitalocean' is not one of 'aws', 'azure', 'gcp', 'oci', 'ibm'" in err
    assert not (tmp_path / "p").exists()


def test_the_default_is_aws_as_before() -> None:
    assert template_files() == template_files("aws")
    assert "specs/clouds/aws-prod.yaml" in template_files()


def test_retarget_replaces_whole_values_once() -> None:
    """``us-east-1`` inside a longer name stays, and IBM's ``us-east`` (a target value) is not rewritten
    again as if it were a source value."""
    ibm = CLOUDS["ibm"]
    text = "region: us-east-1\nregions: [us-west-2, eu-west-1]\nbucket: x-us-east-10\ncloud: aws-prod\n"
    assert retarget(text, ibm) == ("region: us-south\nregions: [us-east, eu-de]\nbucket: x-us-east-10\n"
                                   "cloud: ibm-prod\n")


def _event(evt: str, kind: str, created: int, obj: dict) -> dict:
    return {"id": evt, "object": "event", "type": kind, "created": created, "livemode": False, "data": {"object": obj}}


@pytest.mark.parametrize("cloud", ["azure", "ibm"])
def test_billing_onboards_a_new_customer_onto_the_chosen_cloud(tmp_path: Path, run, cloud: str) -> None:
    """The BillingPolicy's residency rules are retargeted with the tenants: a US customer's new
    subscription becomes a tenant proposal placed in the chosen cloud's home region and pool."""
    target = tmp_path / "platform"
    assert run(tmp_path, "init", str(target), "--cloud", cloud)[0] == 0
    assert run(target, "compile")[0] == 0
    git = ["git", "-c", "user.name=a", "-c", "user.email=a@b.c"]
    subprocess.run(["git", "add", "-A"], cwd=target, check=True)
    subprocess.run([*git, "commit", "-qm", "init"], cwd=target, check=True)
    t0 = 1_796_000_000
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(json.dumps(e) for e in [
        _event("evt_1", "customer.created", t0, {"id": "cus_new", "object": "customer", "name": "Initrode Inc.",
                                                  "email": "ap@initrode.example.com", "address": {"country": "US"},
                                                  "metadata": {}}),
        _event("evt_2", "customer.subscription.created", t0 + 1, {
            "id": "sub_new", "object": "subscription", "customer": "cus_new", "status": "active",
            "items": {"object": "list", "data": [{"id": "si_1", "object": "subscription_item",
                                                  "price": {"id": "price_starter_monthly", "object": "price"}}]}}),
    ]) + "\n")
    code, out, err = run(target, "billing", "sync", str(events), "--now", "2026-12-01T00:00:00Z")
    assert code == 0, out + err
    (branch,) = subprocess.run(["git", "branch", "--list", "paybill/*"], cwd=target, capture_output=True, text=True,
                               check=True).stdout.split()
    tenant = subprocess.run(["git", "show", f"{branch}:specs/tenants/initrode-inc.yaml"], cwd=target,
                            capture_output=True, text=True, check=True).stdout
    chosen = CLOUDS[cloud]
    assert f"cloud: {chosen.cloud}" in tenant and f"region: {chosen.home}" in tenant, tenant
    assert f"pool: {chosen.pool}" in tenant, tenant
