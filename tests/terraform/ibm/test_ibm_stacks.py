"""The IBM Cloud emitter: snapshots of the pool stack and one tenant stack per isolation model, and the
behaviour the snapshots alone would not make obvious (lifecycle, sizing, names, pool boundaries)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from syrupy.extensions.json import JSONSnapshotExtension

from paybill.emit.terraform.providers.ibm import sizing
from paybill.emit.terraform.providers.ibm.sizing import GIB, SIZES
from paybill.models.base import NAME_PATTERN
from paybill.models.base import SIZES as ABSTRACT_SIZES
from support.terraform_repo import emit_repo, pool_reads, resources, tenant_yaml, validate_repo

POOL = "ibm-dal-shared"
PLACE = {"cloud": "ibm-prod", "region": "us-south"}
EXTRA = {
    "ibm-silo": tenant_yaml("ibm-silo", plan="enterprise", model="silo", **PLACE),
    "ibm-leaving": tenant_yaml("ibm-leaving", plan="enterprise", model="silo", lifecycle="offboarding",
                               billing="cancelled", **PLACE),
    "ibm-dormant": tenant_yaml("ibm-dormant", plan="growth", model="pooled", pool=POOL, lifecycle="suspended",
                               billing="past_due", **PLACE),
}
TAG_KEYS = {"paybill-tenant", "paybill-plan", "paybill-isolation", "managed-by"}
TAGGABLE = {"ibm_resource_group", "ibm_is_vpc", "ibm_is_subnet", "ibm_is_security_group", "ibm_is_flow_log",
            "ibm_resource_instance", "ibm_database", "ibm_iam_service_id", "ibm_iam_access_group",
            "ibm_container_vpc_cluster"}


@pytest.fixture(scope="module")
def stacks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    emitted, sink = emit_repo(tmp_path_factory.mktemp("ibm"), EXTRA)
    assert not sink.has_errors, [d.to_dict() for d in sink.sorted()]
    return emitted


@pytest.fixture
def json_snapshot(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize("address", [
    pytest.param(f"pool/{POOL}", id="pool"),
    pytest.param("tenant/ibm-silo", id="silo-ibm-silo"),
    pytest.param("tenant/gringotts", id="pooled-gringotts"),
    pytest.param("tenant/stark-industries", id="bridge-stark-industries"),  # keys and database silo
])
def test_stack_snapshot(stacks, json_snapshot, address: str) -> None:
    assert stacks[address] == json_snapshot


def _ibm(stacks):
    return {a: s for a, s in stacks.items() if "ibm" in s["terraform"]["required_providers"]}


def test_provider_pinned_to_current_major(stacks) -> None:
    ibm = _ibm(stacks)
    assert {f"pool/{POOL}", "tenant/gringotts", "tenant/stark-industries", "tenant/ibm-silo"} <= set(ibm)
    assert "tenant/cyberdyne" not in stacks  # deleted
    for stack in ibm.values():
        assert stack["terraform"]["required_providers"]["ibm"] == {"source": "IBM-Cloud/ibm", "version": "~> 2.0"}
        assert stack["provider"]["ibm"] == [{"region": "us-south"}]


def test_every_taggable_resource_carries_key_value_tags(stacks) -> None:
    for address, stack in _ibm(stacks).items():
        for type_ in TAGGABLE:
            for local, body in resources(stack, type_).items():
                tags = dict(tag.split(":", 1) for tag in body["tags"])
                assert tags["managed-by"] == "paybill", (address, type_, local)
                assert body["tags"] == sorted(body["tags"])
                if address.startswith("tenant/"):
                    assert set(tags) >= TAG_KEYS and tags["paybill-tenant"] == address.split("/")[1]


def test_silo_tenant_secure_by_default(stacks) -> None:
    stack = stacks["tenant/ibm-silo"]
    vpc = resources(stack, "ibm_is_vpc")["main"]
    assert vpc["address_prefix_management"] == "manual" and vpc["no_sg_acl_rules"] is True
    assert not resources(stack, "ibm_is_public_gateway")
    assert all("public_gateway" not in s for s in resources(stack, "ibm_is_subnet").values())
    assert resources(stack, "ibm_is_flow_log")["main"]["storage_bucket"] == "${ibm_cos_bucket.flowlogs.bucket_name}"
    db = resources(stack, "ibm_database")["main"]
    assert db["service"] == "databases-for-postgresql" and db["service_endpoints"] == "private"
    assert db["key_protect_key"] == db["backup_encryption_key_crn"] == "${ibm_kms_key.data.crn}"
    assert db["deletion_protection"] is True and db["version"] == "17"
    assert db["group"][0]["members"] == {"allocation_count": 3}  # enterprise: high availability
    assert db["depends_on"] == ["ibm_iam_authorization_policy.databases_to_kms"]
    bucket = resources(stack, "ibm_cos_bucket")["data"]
    assert bucket["endpoint_type"] == "private" and bucket["kms_key_crn"] == "${ibm_kms_key.data.crn}"
    assert bucket["object_versioning"] == {"enable": True} and bucket["lifecycle"] == {"prevent_destroy": True}
    assert bucket["hard_quota"] == 10000 * GIB
    assert resources(stack, "ibm_kms_key_policies")["data"]["rotation"] == {"enabled": True, "interval_month": 3}
    kms = resources(stack, "ibm_resource_instance")["kms"]
    assert kms["service"] == "kms" and kms["service_endpoints"] == "private"
    cluster = resources(stack, "ibm_container_vpc_cluster")["main"]
    assert cluster["disable_public_service_endpoint"] is True
    assert cluster["kms_config"]["private_endpoint"] is True
    workers = resources(stack, "ibm_container_vpc_worker_pool")["tenant"]
    assert workers["flavor"] == SIZES["large"].worker_flavor
    assert workers["cluster"] == "${ibm_container_vpc_cluster.main.id}"
    assert resources(stack, "ibm_iam_access_group_policy")["operators"]["roles"] == ["Viewer"]


def test_pooled_tenant_gets_its_bucket_key_and_workers_in_the_pool(stacks) -> None:
    stack = stacks["tenant/gringotts"]
    assert not resources(stack, "ibm_resource_group") and not resources(stack, "ibm_database")
    bucket = resources(stack, "ibm_cos_bucket")["data"]
    assert bucket["resource_instance_id"] == "${data.terraform_remote_state.pool.outputs.cos_instance_id}"
    assert bucket["hard_quota"] == 500 * GIB  # growth
    key = resources(stack, "ibm_kms_key")["data"]
    assert key["instance_id"] == "${data.terraform_remote_state.pool.outputs.kms_instance_guid}"
    policy = resources(stack, "ibm_iam_service_policy")["bucket_objects"]
    assert policy["resources"] == {"service": "cloud-object-storage", "resource_type": "bucket",
                                   "resource": "${ibm_cos_bucket.data.bucket_name}"}
    workers = resources(stack, "ibm_container_vpc_worker_pool")["tenant"]
    assert workers["cluster"] == "${data.terraform_remote_state.pool.outputs.cluster_id}"
    assert workers["taints"] == [{"key": "paybill-tenant", "value": "gringotts", "effect": "NoSchedule"}]


def test_suspended_tenant_has_no_workers_and_no_policy_but_keeps_data(stacks) -> None:
    stack = stacks["tenant/ibm-dormant"]
    assert not resources(stack, "ibm_container_vpc_worker_pool")
    assert not resources(stack, "ibm_iam_service_policy")
    assert resources(stack, "ibm_iam_service_id") and resources(stack, "ibm_cos_bucket")


def test_offboarding_raises_retention_and_keeps_protection(stacks) -> None:
    stack = stacks["tenant/ibm-leaving"]
    assert resources(stack, "ibm_database")["main"]["deletion_protection"] is True
    assert resources(stack, "ibm_cos_bucket")["data"]["noncurrent_version_expiration"]["noncurrent_days"] == 90
    active = resources(stacks["tenant/ibm-silo"], "ibm_cos_bucket")["data"]
    assert active["noncurrent_version_expiration"]["noncurrent_days"] == 30


def test_tenant_stacks_learn_pool_facts_only_from_remote_state(stacks) -> None:
    pool = stacks[f"pool/{POOL}"]
    outputs = set(pool["output"])
    for address in ("tenant/gringotts", "tenant/stark-industries", "tenant/ibm-dormant"):
        read = pool_reads(stacks[address])
        assert read and read <= outputs, (address, read - outputs)
        assert stacks[address]["data"]["terraform_remote_state"]["pool"]["config"]["key"] == (
            f"paybill/pool/{POOL}/terraform.tfstate")
    assert not pool_reads(stacks["tenant/ibm-silo"])


def test_unreachable_layers_are_a_diagnostic(tmp_path) -> None:
    extra = {"ibm-split": tenant_yaml("ibm-split", plan="growth", model="bridge", pool=POOL, **PLACE,
                                      layers={"network": "silo", "keys": "pooled", "identity": "pooled",
                                              "database": "silo", "storage": "pooled", "compute": "pooled"})}
    diagnostics = validate_repo(tmp_path, extra)  # validate reports it (the profile's check)
    assert [(d.code, d.path.rsplit("/", 1)[-1]) for d in diagnostics] == [("PB0651", "ibm-split.yaml")]


def test_sizing_table_covers_every_abstract_size() -> None:
    assert set(SIZES) == set(ABSTRACT_SIZES)
    memory = [SIZES[size].db_memory_mb for size in ABSTRACT_SIZES]
    assert memory == sorted(memory)
    assert all(re.fullmatch(r"bx2\.\d+x\d+", SIZES[size].worker_flavor) for size in ABSTRACT_SIZES)


NAMES = st.from_regex(NAME_PATTERN, fullmatch=True).filter(lambda n: len(n) <= 40)
RULES = {
    sizing.VPC_NAME: r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?",
    sizing.RESOURCE_GROUP_NAME: r"[a-z][-a-z0-9]{0,39}",
    sizing.CLUSTER_NAME: r"[a-z]([-a-z0-9]{0,30}[a-z0-9])?",
    sizing.WORKER_POOL_NAME: r"[a-z]([-a-z0-9]{0,30}[a-z0-9])?",
    sizing.BUCKET_NAME: r"[a-z0-9][-a-z0-9.]{1,61}[a-z0-9]",
}


@given(NAMES, st.sampled_from(["", "data", "flowlogs", "us-south-1"]))
def test_derived_names_fit_ibm_rules(name: str, suffix: str) -> None:
    for rule, pattern in RULES.items():
        derived = rule.derive("pb", "pool", name, suffix, "8d63fb1c")
        assert re.fullmatch(pattern, derived), (rule.label, derived)
