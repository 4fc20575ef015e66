"""Terraform comparison: create/update/destroy/replace per stack, the replace table, data stores."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from paybill.plan.replace_rules import DATA_STORE_TYPES, REPLACE_ARGUMENTS, forcing_arguments
from paybill.plan.terraform import diff_trees, stack_findings

ROOT = Path(__file__).resolve().parents[2]


def stack(resources: dict) -> bytes:
    return orjson.dumps({"//": {"stack": "x"}, "terraform": {}, "resource": resources}, option=orjson.OPT_SORT_KEYS)


BASE = {
    "terraform/tenant/acme/main.tf.json": stack({
        "aws_db_instance": {"db": {"identifier": "acme", "instance_class": "db.t4g.medium", "storage_encrypted": True}},
        "aws_s3_bucket": {"data": {"bucket": "acme-data"}},
        "aws_iam_role": {"app": {"name": "acme-app", "description": "x", "depends_on": []}},
        "aws_kms_alias": {"key": {"name": "alias/acme"}},
    }),
    "terraform/pool/shared/main.tf.json": stack({"aws_vpc": {"main": {"cidr_block": "10.0.0.0/16"}}}),
    "terraform/tenant/gone/main.tf.json": stack({"aws_s3_bucket": {"data": {"bucket": "gone-data"}}}),
    "tenants/acme.json": b"{}",
}


def test_create_update_replace_destroy_per_stack() -> None:
    head = dict(BASE)
    head["terraform/tenant/acme/main.tf.json"] = stack({
        "aws_db_instance": {"db": {"identifier": "acme", "instance_class": "db.r6g.large", "storage_encrypted": True}},
        "aws_s3_bucket": {"data": {"bucket": "acme-data-eu"}},
        "aws_iam_role": {"app": {"name": "acme-app", "description": "x", "depends_on": ["aws_kms_alias.key"]}},
        "aws_kms_key": {"key": {"description": "acme"}},
    })
    del head["terraform/tenant/gone/main.tf.json"]
    head["terraform/tenant/new/main.tf.json"] = stack({"aws_vpc": {"main": {"cidr_block": "10.1.0.0/16"}}})
    head["tenants/acme.json"] = b'{"changed": true}'
    stacks = {s.address: s for s in diff_trees(BASE, head, {"pool/shared": ("acme",)})}
    assert sorted(stacks) == ["tenant/acme", "tenant/gone", "tenant/new"]
    acme = {r.address: r for r in stacks["tenant/acme"].resources}
    assert acme["aws_db_instance.db"].action == "update" and acme["aws_db_instance.db"].arguments == ("instance_class",)
    bucket = acme["aws_s3_bucket.data"]
    assert bucket.action == "replace" and bucket.forces_replacement == ("bucket",) and bucket.data_store
    assert acme["aws_kms_alias.key"].action == "destroy"
    assert acme["aws_kms_key.key"].action == "create"
    assert "aws_iam_role.app" not in acme  # only a meta-argument changed: no infrastructure change
    assert stacks["tenant/gone"].op == "destroyed" and stacks["tenant/gone"].resources[0].action == "destroy"
    assert stacks["tenant/new"].op == "created" and stacks["tenant/acme"].tenant == "acme"
    findings = stack_findings(list(stacks.values()))
    lost = {f.subject: f for f in findings if f.code == "PB0942"}
    assert set(lost) == {"stack:tenant/acme", "stack:tenant/gone"}
    assert "aws_s3_bucket.data (replace)" in lost["stack:tenant/acme"].message


def test_unknown_types_are_flagged_not_silently_updated() -> None:
    head = dict(BASE)
    head["terraform/pool/shared/main.tf.json"] = stack({"aws_vpc": {"main": {"cidr_block": "10.0.0.0/16"}},
                                                        "aws_made_up": {"x": {"a": 1}}})
    base = dict(BASE)
    base["terraform/pool/shared/main.tf.json"] = stack({"aws_vpc": {"main": {"cidr_block": "10.0.0.0/16"}},
                                                        "aws_made_up": {"x": {"a": 0}}})
    findings = stack_findings(diff_trees(base, head, {"pool/shared": ("acme", "beta")}))
    codes = {f.code for f in findings}
    assert "PB0943" in codes and "PB0951" in codes


def test_nested_replacement_paths() -> None:
    before = {"metadata": [{"name": "a", "labels": {"x": "1"}}]}
    assert forcing_arguments("kubernetes_namespace_v1", before, {"metadata": [{"name": "b"}]}, ("metadata",)) == \
        ("metadata.name",)
    assert forcing_arguments("kubernetes_namespace_v1", before, {"metadata": [{"name": "a"}]}, ("metadata",)) == ()


def compiled_types() -> set[str]:
    from paybill.compile import compile_repository

    result = compile_repository(ROOT / "specs")
    if not result.ok:
        pytest.fail("the example specs do not compile: " + "; ".join(d.message for d in result.diagnostics[:3]))
    types = set()
    for path, data in result.tree.items():
        if path.startswith("terraform/") and path.endswith("main.tf.json"):
            types |= set(json.loads(data).get("resource", {}))
    return types


def test_every_emitted_resource_type_has_replacement_rules() -> None:
    missing = sorted(compiled_types() - set(REPLACE_ARGUMENTS))
    assert not missing, f"add these types to paybill/plan/replace_rules.py: {missing}"
    assert set(REPLACE_ARGUMENTS) >= DATA_STORE_TYPES


def test_plan_compares_compiled_terraform_of_both_sides(repo, run) -> None:
    repo.edit("specs/tenants/vandelay.yaml", "plan: free", "plan: starter")
    repo.edit("specs/pools/aws-use1-shared.yaml", "maxTenants: 200", "maxTenants: 300")
    repo.commit("upgrade vandelay")
    code, out, _ = run(repo.root, "plan", "specs", "--base", "HEAD~1", "--head", "HEAD", "--format", "json")
    report = json.loads(out)
    assert report["terraform"]["note"] is None, report["terraform"]
    stacks = {s["address"]: s for s in report["terraform"]["stacks"]}
    assert "tenant/vandelay" in stacks and stacks["tenant/vandelay"]["op"] == "changed"
    assert all(s["op"] == "changed" for s in stacks.values())
    assert "tenant/acme-corp" not in stacks  # untouched tenants produce identical bytes
    assert code == 0


def test_deleting_a_tenant_destroys_its_stack_and_flags_its_data_stores(repo, run) -> None:
    acme = "specs/tenants/acme-corp.yaml"
    repo.edit(acme, "lifecycle: active", "lifecycle: offboarding")
    repo.commit("offboard acme")
    repo.edit(acme, "lifecycle: offboarding", "lifecycle: deleted")
    repo.edit(acme, "status: active", "status: cancelled")
    repo.commit("delete acme")
    code, out, _ = run(repo.root, "plan", "specs", "--base", "HEAD~1", "--head", "HEAD", "--format", "json")
    report = json.loads(out)
    stacks = {s["address"]: s for s in report["terraform"]["stacks"]}
    assert stacks["tenant/acme-corp"]["op"] == "destroyed"
    destroyed = {r["type"] for r in stacks["tenant/acme-corp"]["resources"] if r["action"] == "destroy"}
    assert "aws_db_instance" in destroyed and "aws_s3_bucket" in destroyed
    assert any(f["code"] == "PB0942" and f["subject"] == "stack:tenant/acme-corp" for f in report["findings"])
    assert code == 0


def test_base_terraform_comes_from_the_committed_generated_tree_when_fresh(repo, run) -> None:
    code, out, err = run(repo.root, "compile", "specs")
    assert code == 0, out + err
    repo.commit("generated/")
    repo.edit("specs/tenants/vandelay.yaml", "lifecycle: active", "lifecycle: suspended")
    args = ("plan", "specs", "--format", "json")
    report = json.loads(run(repo.root, *args)[1])
    assert report["terraform"]["base"] == "base: committed generated/ of the base commit (fresh)"
    committed = {s["address"]: s for s in report["terraform"]["stacks"]}
    compiled = json.loads(run(repo.root, *args, "--compile-base")[1])
    assert compiled["terraform"]["base"] == "base: compiled"
    assert {s["address"]: s for s in compiled["terraform"]["stacks"]} == committed
    assert "tenant/vandelay" in committed
    # A hand-edited generated file is noticed and the base is compiled instead.
    repo.git("checkout", "--", "specs/tenants/vandelay.yaml")
    stack = repo.path("generated/terraform/tenant/hooli/main.tf.json")
    stack.write_text(stack.read_text().replace('"paybill"', '"edited"', 1))
    repo.commit("hand edit")
    repo.edit("specs/tenants/vandelay.yaml", "lifecycle: active", "lifecycle: suspended")
    report = json.loads(run(repo.root, *args)[1])
    assert report["terraform"]["base"].startswith("base: compiled (generated/terraform/tenant/hooli/main.tf.json")
