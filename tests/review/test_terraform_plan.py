"""Terraform comparison: create/update/destroy/replace per stack, the replace table, data stores."""

from __future__ import annotations

import json
import shutil
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


def test_a_destroyed_data_store_is_not_told_to_revert_what_forces_replacement() -> None:
    """A destroy (a silo layer moving to a pool, a stack gone) deletes the data with the store: the hint
    says to export and copy it, not to revert an argument that forces a replacement there is none of."""
    head = dict(BASE)
    del head["terraform/tenant/gone/main.tf.json"]
    head["terraform/tenant/acme/main.tf.json"] = stack({
        "aws_s3_bucket": {"data": {"bucket": "acme-data-eu"}},
        "aws_iam_role": {"app": {"name": "acme-app", "description": "x", "depends_on": []}},
        "aws_kms_alias": {"key": {"name": "alias/acme"}},
    })
    lost = {f.subject: f for f in stack_findings(diff_trees(BASE, head, {})) if f.code == "PB0942"}
    gone = lost["stack:tenant/gone"].hint or ""
    assert "export and snapshot" in gone and "forces replacement" not in gone
    both = lost["stack:tenant/acme"].hint or ""  # aws_db_instance.db destroyed, the bucket replaced
    assert "export and snapshot" in both and "forces replacement" in both


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


def stack_with(providers: dict, resources: dict, data: dict | None = None, backend: dict | None = None) -> bytes:
    """A stack document with provider configurations (and optionally data sources and a backend)."""
    document = {"//": {"stack": "x"}, "provider": providers, "resource": resources,
                "terraform": {"backend": backend} if backend else {}}
    if data:
        document["data"] = data
    return orjson.dumps(document, option=orjson.OPT_SORT_KEYS)


AWS_RESOURCES = {
    "aws_db_instance": {"main": {"identifier": "acme", "storage_encrypted": True}},
    "aws_s3_bucket": {"data": {"bucket": "acme-data"}, "replica": {"bucket": "acme-replica", "provider": "aws.dr"},
                      "pinned": {"bucket": "acme-pinned", "region": "eu-west-1"}},
    "aws_iam_role": {"app": {"name": "acme-app"}},
}


def aws(region: str, account: str = "123456789012", dr: str = "us-west-2") -> dict:
    return {"aws": [{"region": region, "allowed_account_ids": [account], "default_tags": {"tags": {"a": "b"}}},
                    {"alias": "dr", "region": dr, "allowed_account_ids": [account]}]}


def actions(base: bytes, head: bytes) -> dict[str, tuple[str, tuple[str, ...]]]:
    (changed,) = diff_trees({"terraform/tenant/acme/main.tf.json": base}, {"terraform/tenant/acme/main.tf.json": head})
    return {r.address: (r.action, r.forces_replacement) for r in changed.resources}


def test_a_provider_region_change_replaces_every_regional_resource_it_manages() -> None:
    base = stack_with(aws("us-east-1"), AWS_RESOURCES)
    moved = actions(base, stack_with(aws("us-west-2"), AWS_RESOURCES))
    assert moved == {"aws_db_instance.main": ("replace", ("provider.aws.region",)),
                     "aws_s3_bucket.data": ("replace", ("provider.aws.region",))}
    # IAM is global, a resource with its own region stays put, the aliased configuration did not move.
    (stack,) = diff_trees({"terraform/tenant/acme/main.tf.json": base},
                          {"terraform/tenant/acme/main.tf.json": stack_with(aws("us-west-2"), AWS_RESOURCES)})
    (finding,) = [f for f in stack_findings([stack]) if f.code == "PB0942"]
    assert "aws_db_instance.main (replace), aws_s3_bucket.data (replace)" in finding.message
    assert "aws_db_instance.main: forces replacement: provider.aws.region" in finding.details
    # Only the aliased configuration moves: only what it manages is replaced.
    assert actions(base, stack_with(aws("us-east-1", dr="eu-central-1"), AWS_RESOURCES)) == {
        "aws_s3_bucket.replica": ("replace", ("provider.aws.dr.region",))}
    # Tags are not placement: nothing to compare when only they change.
    retagged = aws("us-east-1")
    retagged["aws"][0]["default_tags"] = {"tags": {"a": "c"}}
    assert actions(base, stack_with(retagged, AWS_RESOURCES)) == {}


def test_an_account_change_replaces_global_resources_too() -> None:
    base = stack_with(aws("us-east-1"), AWS_RESOURCES)
    moved = actions(base, stack_with(aws("us-east-1", account="210987654321"), AWS_RESOURCES))
    assert moved["aws_iam_role.app"] == ("replace", ("provider.aws.allowed_account_ids",))
    assert moved["aws_s3_bucket.replica"] == ("replace", ("provider.aws.dr.allowed_account_ids",))
    assert len(moved) == 5  # the bucket with its own region is in the other account as well


def test_switching_a_resource_to_another_provider_configuration_compares_their_placement() -> None:
    base = stack_with(aws("us-east-1"), AWS_RESOURCES)
    switched = {**AWS_RESOURCES, "aws_db_instance": {"main": {"identifier": "acme", "storage_encrypted": True,
                                                              "provider": "aws.dr"}}}
    assert actions(base, stack_with(aws("us-east-1"), switched)) == {
        "aws_db_instance.main": ("replace", ("provider.aws.dr.region",))}
    # The same place under another name moves nothing (the replica, managed by dr, does move).
    assert actions(base, stack_with(aws("us-east-1", dr="us-east-1"), switched)) == {
        "aws_s3_bucket.replica": ("replace", ("provider.aws.dr.region",))}


def test_a_kubernetes_provider_pointed_at_another_cluster_through_remote_state() -> None:
    kubernetes = {"kubernetes": [{"host": "${data.terraform_remote_state.pool.outputs.host}"}],
                  "azurerm": [{"features": {}, "subscription_id": "sub-1"}]}
    objects = {"kubernetes_namespace_v1": {"tenant": {"metadata": [{"name": "acme"}]}},
               "azurerm_storage_account": {"data": {"name": "stacme", "location": "westeurope"}}}

    def remote(pool: str) -> dict:
        return {"terraform_remote_state": {"pool": {"backend": "azurerm", "config": {"key": f"pool/{pool}.tfstate"}}}}

    base = stack_with(kubernetes, objects, remote("weu-shared"))
    assert actions(base, stack_with(kubernetes, objects, remote("weu-large"))) == {
        "kubernetes_namespace_v1.tenant": ("replace", ("provider.kubernetes.host",))}
    other_subscription = {**kubernetes, "azurerm": [{"features": {}, "subscription_id": "sub-2"}]}
    assert actions(base, stack_with(other_subscription, objects, remote("weu-shared"))) == {
        "azurerm_storage_account.data": ("replace", ("provider.azurerm.subscription_id",))}


def test_remote_state_is_compared_as_the_stack_it_reads() -> None:
    """Moving a pool's state keeps its tenants in the same cluster; moving a tenant to another pool does not."""
    def pool(bucket: str, name: str) -> bytes:
        return stack_with({"aws": [{"region": "us-east-1"}]}, {"aws_vpc": {"main": {"cidr_block": "10.0.0.0/16"}}},
                          backend={"s3": {"bucket": bucket, "key": f"pool/{name}.tfstate", "region": "us-east-1"}})

    def tenant(bucket: str, name: str) -> bytes:
        remote = {"terraform_remote_state": {"pool": {"backend": "s3", "config": {
            "bucket": bucket, "key": f"pool/{name}.tfstate", "region": "us-east-1", "encrypt": True}}}}
        return stack_with({"kubernetes": [{"host": "${data.terraform_remote_state.pool.outputs.host}"}]},
                          {"kubernetes_namespace_v1": {"t": {"metadata": [{"name": "t"}]}}}, remote)

    def tree(bucket: str, tenant_pool: str) -> dict[str, bytes]:
        return {"terraform/pool/a/main.tf.json": pool(bucket, "a"), "terraform/pool/b/main.tf.json": pool(bucket, "b"),
                "terraform/tenant/t/main.tf.json": tenant(bucket, tenant_pool)}

    base = tree("state-1", "a")
    moved_state = {s.address: s for s in diff_trees(base, tree("state-2", "a"))}
    assert moved_state["tenant/t"].resources == () and moved_state["pool/a"].state_move is not None
    (moved_tenant,) = diff_trees(base, tree("state-1", "b"))
    assert [(r.address, r.action, r.forces_replacement) for r in moved_tenant.resources] == [
        ("kubernetes_namespace_v1.t", "replace", ("provider.kubernetes.host",))]


def test_a_changed_backend_is_a_state_move() -> None:
    backend = {"s3": {"bucket": "state-use1", "key": "paybill/tenant/acme/terraform.tfstate", "region": "us-east-1",
                      "encrypt": True}}
    moved = {"s3": {**backend["s3"], "bucket": "state-usw2", "region": "us-west-2"}}
    base = stack_with(aws("us-east-1"), AWS_RESOURCES, backend=backend)
    (stack,) = diff_trees({"terraform/tenant/acme/main.tf.json": base},
                          {"terraform/tenant/acme/main.tf.json": stack_with(aws("us-east-1"), AWS_RESOURCES,
                                                                            backend=moved)})
    assert stack.resources == () and stack.state_move == (
        "s3 bucket=state-use1, key=paybill/tenant/acme/terraform.tfstate, region=us-east-1",
        "s3 bucket=state-usw2, key=paybill/tenant/acme/terraform.tfstate, region=us-west-2")
    (finding,) = stack_findings([stack])
    assert finding.code == "PB0944" and finding.subject == "stack:tenant/acme"
    assert "terraform init -migrate-state" in (finding.hint or "")
    unencrypted = {"s3": {**backend["s3"], "encrypt": False}}  # how, not where: no move
    (stack,) = diff_trees({"terraform/tenant/acme/main.tf.json": base},
                          {"terraform/tenant/acme/main.tf.json": stack_with(aws("us-east-1"), AWS_RESOURCES,
                                                                            backend=unencrypted)})
    assert stack.state_move is None and stack_findings([stack]) == []


def test_every_emitted_provider_has_placement_rules() -> None:
    from paybill.compile import compile_repository
    from paybill.plan.replace_rules import PROVIDER_SCOPES

    result = compile_repository(ROOT / "specs")
    assert result.ok
    emitted = {name for path, data in result.tree.items() if path.startswith("terraform/") and
               path.endswith("main.tf.json") for name in json.loads(data).get("provider", {})}
    assert emitted and emitted <= set(PROVIDER_SCOPES), sorted(emitted - set(PROVIDER_SCOPES))


def test_moving_a_silo_tenant_to_another_region_replaces_its_data_stores(repo, run) -> None:
    acme = "specs/tenants/acme-corp.yaml"
    repo.edit(acme, "region: us-east-1", "region: us-west-2")
    repo.edit(acme, "allowedRegions: [us-east-1, us-west-2]", "allowedRegions: [us-west-2]")
    repo.commit("move acme to us-west-2")
    code, out, _ = run(repo.root, "plan", "specs", "--base", "HEAD~1", "--head", "HEAD", "--format", "json")
    report = json.loads(out)
    (stack,) = report["terraform"]["stacks"]
    assert stack["address"] == "tenant/acme-corp" and stack["stateMove"] is None
    by_type: dict[str, set[str]] = {}
    for resource in stack["resources"]:
        by_type.setdefault(resource["type"], set()).add(resource["action"])
    for store in ("aws_db_instance", "aws_s3_bucket", "aws_kms_key", "aws_vpc", "aws_eks_cluster"):
        assert by_type[store] == {"replace"}, store
    assert not any(t.startswith("aws_iam_") and "replace" in a for t, a in by_type.items())  # IAM is global
    replaced = sum(1 for r in stack["resources"] if r["action"] == "replace")
    assert report["terraform"]["totals"]["replace"] == replaced > 30
    codes = {f["code"]: f for f in report["findings"]}
    assert {"PB0920", "PB0942"} <= codes.keys()
    assert "aws_db_instance.main (replace)" in codes["PB0942"]["message"]
    assert "aws_db_instance.main: forces replacement: provider.aws.region" in codes["PB0942"]["details"]
    assert codes["PB0949"]["severity"] == "error" and code == 1  # refused: the replacement loses the data


def test_moving_a_clouds_state_bucket_is_reported_per_stack_in_every_format(repo, run) -> None:
    repo.edit("specs/clouds/aws-prod.yaml", "bucket: acme-platform-tfstate-use1", "bucket: acme-platform-tfstate")
    repo.commit("one state bucket")
    args = ("plan", "specs", "--base", "HEAD~1", "--head", "HEAD")
    report = json.loads(run(repo.root, *args, "--format", "json")[1])
    stacks = report["terraform"]["stacks"]
    assert stacks and all(s["stateMove"] and s["resources"] == [] for s in stacks)  # same clusters, same places
    moves = {f["subject"] for f in report["findings"] if f["code"] == "PB0944"}
    assert moves == {f"stack:{s['address']}" for s in stacks}
    acme = next(s for s in stacks if s["address"] == "tenant/acme-corp")["stateMove"]
    assert acme == {"from": "s3 bucket=acme-platform-tfstate-use1, key=paybill/tenant/acme-corp/terraform.tfstate, "
                            "region=us-east-1",
                    "to": "s3 bucket=acme-platform-tfstate, key=paybill/tenant/acme-corp/terraform.tfstate, "
                          "region=us-east-1"}
    text = run(repo.root, *args)[1]
    assert f"      state moves: {acme['from']} -> {acme['to']}\n" in text
    markdown = run(repo.root, *args, "--format", "markdown")[1]
    assert f"- state moves: `{acme['from']}` → `{acme['to']}`" in markdown


def test_the_head_side_reads_unchanged_stacks_from_the_unit_store(repo, run, monkeypatch) -> None:
    """After a compile filled ``.paybill/cache/units``, plan builds only the stacks the change touches.

    The store is only read (plan writes nothing there), and the report equals a plan without it.
    """
    import paybill.emit.terraform.emitter as terraform_emitter
    from paybill import store

    monkeypatch.delenv(store.CACHE_ENV, raising=False)
    code, out, err = run(repo.root, "compile", "specs")
    assert code == 0, out + err
    repo.commit("generated/")
    units = repo.root / ".paybill" / "cache" / store.UNITS_FOLDER
    stored = sorted(p.name for p in units.iterdir())
    assert store.key("index", terraform_emitter.NAMESPACE) in stored  # the stacks' one entry
    repo.edit("specs/tenants/vandelay.yaml", "lifecycle: active", "lifecycle: suspended")
    built: list[str] = []
    real = terraform_emitter._build_rendered
    monkeypatch.setattr(terraform_emitter, "_build_rendered",
                        lambda unit, model: built.append(unit.address) or real(unit, model))
    code, out, _ = run(repo.root, "plan", "specs", "--format", "json")
    assert code == 0
    assert built == ["tenant/vandelay"]
    assert sorted(p.name for p in units.iterdir()) == stored  # read only
    monkeypatch.setenv(store.CACHE_ENV, "off")
    code, uncached, _ = run(repo.root, "plan", "specs", "--format", "json")
    assert json.loads(uncached) == json.loads(out)
    assert len(built) > 2  # without the store every head-side stack is built


def test_a_plan_downgrade_that_shrinks_database_disks_says_what_each_cloud_does(repo, run) -> None:
    """A smaller database disk is never an "update" that shrinks it: Azure replaces the server (PB0942);
    Cloud SQL with autoresize on and RDS with storage autoscaling keep their disk, IBM refuses (PB0941).

    The enterprise plan's database disk shrinks for every silo tenant on it, one per cloud; growing it
    back is an update everywhere."""
    shutil.rmtree(repo.path("specs"))
    shutil.copytree(ROOT / "specs", repo.path("specs"))  # silo enterprise tenants on every cloud
    repo.commit("all clouds")
    plan = "specs/plans/enterprise.yaml"
    repo.edit(plan, "backupRetentionDays: 35\n      storageGb: 500", "backupRetentionDays: 35\n      storageGb: 200")
    repo.commit("enterprise: smaller database disk")
    args = ("plan", "specs", "--base", "HEAD~1", "--head", "HEAD")
    code, out, _ = run(repo.root, *args, "--format", "json")
    report = json.loads(out)
    stacks = {s["address"]: s for s in report["terraform"]["stacks"]}

    def database(tenant: str, type_: str) -> dict:
        return next(r for r in stacks[f"tenant/{tenant}"]["resources"] if r["type"] == type_)

    server = database("globex", "azurerm_postgresql_flexible_server")
    assert server["action"] == "replace" and server["dataStore"], server
    assert server["forcesReplacement"] == ["storage_mb shrinks 524288 -> 262144"]
    lost = {f["subject"]: f for f in report["findings"] if f["code"] == "PB0942"}
    assert set(lost) == {"stack:tenant/globex"}
    assert lost["stack:tenant/globex"]["severity"] == "warning"
    assert "azurerm_postgresql_flexible_server.main: forces replacement: storage_mb shrinks 524288 -> 262144" in \
        lost["stack:tenant/globex"]["details"]

    kept = {f["subject"]: f for f in report["findings"] if f["code"] == "PB0941"}
    assert set(kept) == {"stack:tenant/acme-corp", "stack:tenant/nakatomi", "stack:tenant/massive-dynamic",
                         "stack:tenant/stark-industries"}
    for tenant, type_ in (("massive-dynamic", "google_sql_database_instance"), ("acme-corp", "aws_db_instance"),
                          ("stark-industries", "ibm_database")):
        assert database(tenant, type_)["action"] == "update", tenant
    assert kept["stack:tenant/massive-dynamic"]["details"] == [
        "google_sql_database_instance.main: settings.disk_size shrinks 500 -> 200: with disk_autoresize on, the "
        "provider ignores a smaller disk_size and the instance keeps its disk"]
    assert kept["stack:tenant/acme-corp"]["details"][0].startswith(
        "aws_db_instance.main: allocated_storage shrinks 500 -> 200: RDS cannot shrink storage")
    assert "cannot scale a disk down" in kept["stack:tenant/stark-industries"]["details"][0]
    text = run(repo.root, *args)[1]
    assert "-/+ azurerm_postgresql_flexible_server.main [data store]  (forces replacement: storage_mb shrinks " \
           "524288 -> 262144)" in text
    assert "warning[PB0941] stack:tenant/massive-dynamic" in text
    assert code == 0

    repo.edit(plan, "storageGb: 200", "storageGb: 800")
    repo.commit("enterprise: bigger database disk")
    report = json.loads(run(repo.root, *args, "--format", "json")[1])
    stacks = {s["address"]: s for s in report["terraform"]["stacks"]}
    assert database("globex", "azurerm_postgresql_flexible_server")["action"] == "update"
    assert database("massive-dynamic", "google_sql_database_instance")["action"] == "update"
    assert not any(f["code"] in ("PB0941", "PB0942") for f in report["findings"])
