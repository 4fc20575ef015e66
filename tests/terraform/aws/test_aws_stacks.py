"""The AWS emitter: snapshots of the pool stack and one tenant stack per isolation model, and the
behaviour the snapshots alone would not make obvious (lifecycle, sizing, names, pool boundaries)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from syrupy.extensions.json import JSONSnapshotExtension

from paybill.emit.terraform.providers.aws.common import (
    ACCESS_POINT,
    BUCKET,
    DB_IDENTIFIER,
    EKS_CLUSTER,
    IAM_ROLE,
    NODE_GROUP,
    SIZES,
)
from paybill.emit.terraform.providers.aws.network import zone_names
from paybill.models.base import NAME_PATTERN
from paybill.models.base import SIZES as ABSTRACT_SIZES
from support.terraform_repo import emit_repo, resources, tenant_yaml

POOL = "aws-use1-shared"
EXTRA = {
    # silo, offboarding: final snapshot, retention, deletion protection kept
    "tessier": tenant_yaml("tessier", plan="enterprise", cloud="aws-prod", region="us-east-1", model="silo",
                           lifecycle="offboarding"),
    # bridge with its own VPC next to the pool, trialing: peering, trial sizing for its silo database
    "lacuna": tenant_yaml("lacuna", plan="growth", cloud="aws-prod", region="us-east-1", model="bridge", pool=POOL,
                          layers={"network": "silo", "keys": "pooled", "identity": "pooled", "database": "silo",
                                  "storage": "pooled", "compute": "pooled"}, billing="trialing"),
    # pooled and suspended
    "dormant": tenant_yaml("dormant", plan="starter", cloud="aws-prod", region="us-east-1", model="pooled",
                           pool=POOL, lifecycle="suspended", billing="past_due"),
}


@pytest.fixture(scope="module")
def stacks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    emitted, sink = emit_repo(tmp_path_factory.mktemp("aws"), EXTRA)
    assert not sink.has_errors, [d.to_dict() for d in sink.sorted()]
    return emitted


@pytest.fixture
def json_snapshot(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize("address", [
    pytest.param(f"pool/{POOL}", id="pool"),
    pytest.param("tenant/acme-corp", id="silo-acme-corp"),
    pytest.param("tenant/hooli", id="pooled-hooli"),
    pytest.param("tenant/wayne-enterprises", id="bridge-wayne-enterprises"),  # database silo, the rest pooled
])
def test_stack_snapshot(stacks, json_snapshot, address: str) -> None:
    assert stacks[address] == json_snapshot


def _aws_stacks(stacks):
    return {a: s for a, s in stacks.items() if "aws" in s["terraform"]["required_providers"]}


def test_provider_pinned_with_region_account_and_default_tags(stacks) -> None:
    aws = _aws_stacks(stacks)
    assert {"pool/aws-use1-shared", "tenant/acme-corp", "tenant/nakatomi", "tenant/lacuna"} <= set(aws)
    for address, stack in aws.items():
        assert stack["terraform"]["required_providers"]["aws"] == {"source": "hashicorp/aws", "version": "~> 6.0"}
        (provider,) = stack["provider"]["aws"]
        assert provider["allowed_account_ids"] == ["123456789012"]
        tags = provider["default_tags"]["tags"]
        assert tags["managed-by"] == "paybill"
        if address.startswith("tenant/"):
            name = address.split("/")[1]
            assert tags["paybill-tenant"] == name
            assert {"paybill-plan", "paybill-isolation"} <= set(tags)
    assert stacks["tenant/nakatomi"]["provider"]["aws"][0]["region"] == "eu-west-1"


def test_silo_tenant_secure_by_default(stacks) -> None:
    stack = stacks["tenant/acme-corp"]
    db = resources(stack, "aws_db_instance")["main"]
    assert db["storage_encrypted"] is True and db["kms_key_id"] == "${aws_kms_key.main.arn}"
    assert db["deletion_protection"] is True and db["publicly_accessible"] is False
    assert db["manage_master_user_password"] is True and db["skip_final_snapshot"] is False
    assert db["multi_az"] is True and db["backup_retention_period"] == 35  # enterprise plan
    assert db["instance_class"] == SIZES["large"].db_instance_class
    params = {p["name"]: p["value"] for p in resources(stack, "aws_db_parameter_group")["database"]["parameter"]}
    assert params["rds.force_ssl"] == "1"
    key = resources(stack, "aws_kms_key")["main"]
    assert key["enable_key_rotation"] is True
    sse = resources(stack, "aws_s3_bucket_server_side_encryption_configuration")["data"]["rule"][0]
    assert sse["apply_server_side_encryption_by_default"]["kms_master_key_id"] == "${aws_kms_key.main.arn}"
    for block in resources(stack, "aws_s3_bucket_public_access_block").values():
        assert all(block[k] is True for k in ("block_public_acls", "block_public_policy", "ignore_public_acls",
                                              "restrict_public_buckets"))
    cluster = resources(stack, "aws_eks_cluster")["main"]
    assert cluster["vpc_config"]["endpoint_public_access"] is False
    assert len(resources(stack, "aws_subnet")) == 3
    assert all(s["map_public_ip_on_launch"] is False for s in resources(stack, "aws_subnet").values())
    assert not resources(stack, "aws_internet_gateway") and not resources(stack, "aws_nat_gateway")
    # the role may only be assumed by EKS Pod Identity for the tenant's namespace on its own cluster
    trust = stack["data"]["aws_iam_policy_document"]["tenant_trust"]["statement"][0]
    assert trust["principals"] == [{"type": "Service", "identifiers": ["pods.eks.amazonaws.com"]}]
    assert {c["variable"] for c in trust["condition"]} == {
        "aws:SourceAccount", "aws:SourceArn", "aws:RequestTag/kubernetes-namespace"}


def test_suspended_silo_scales_to_zero_denies_identity_keeps_data(stacks) -> None:
    stack = stacks["tenant/nakatomi"]
    scaling = resources(stack, "aws_eks_node_group")["main"]["scaling_config"]
    assert scaling["desired_size"] == 0 and scaling["min_size"] == 0 and scaling["max_size"] >= 1
    deny = stack["data"]["aws_iam_policy_document"]["suspended"]["statement"]
    assert deny == [{"sid": "TenantSuspended", "effect": "Deny", "actions": ["*"], "resources": ["*"]}]
    assert resources(stack, "aws_iam_role_policy")["suspended"]["role"] == "${aws_iam_role.tenant.name}"
    assert resources(stack, "aws_db_instance")["main"]["deletion_protection"] is True
    assert "data" in resources(stack, "aws_s3_bucket")


def test_suspended_pooled_tenant_gets_no_pods_and_no_key_grant(stacks) -> None:
    stack = stacks["tenant/dormant"]
    assert resources(stack, "kubernetes_resource_quota_v1")["tenant"]["spec"]["hard"]["pods"] == "0"
    assert not resources(stack, "aws_kms_grant")
    assert "suspended" in resources(stack, "aws_iam_role_policy")
    active = stacks["tenant/vandelay"]
    assert resources(active, "kubernetes_resource_quota_v1")["tenant"]["spec"]["hard"]["pods"] != "0"
    grant = resources(active, "aws_kms_grant")["tenant_context"]
    assert grant["constraints"] == [{"encryption_context_subset": {"paybill-tenant": "vandelay"}}]


def test_offboarding_keeps_protection_and_takes_final_snapshots(stacks) -> None:
    stack = stacks["tenant/tessier"]
    db = resources(stack, "aws_db_instance")["main"]
    assert db["deletion_protection"] is True and db["skip_final_snapshot"] is False
    assert db["final_snapshot_identifier"] == "paybill-tenant-tessier-final"
    assert db["delete_automated_backups"] is False and db["backup_retention_period"] == 35
    snapshot = resources(stack, "aws_db_snapshot")["offboarding"]
    assert snapshot["db_instance_identifier"] == "${aws_db_instance.main.identifier}"
    rule = resources(stack, "aws_s3_bucket_lifecycle_configuration")["data"]["rule"][0]
    assert rule["noncurrent_version_expiration"] == {"noncurrent_days": 365}
    assert "aws_db_snapshot" not in stacks["tenant/acme-corp"]["resource"]


def test_trialing_tenant_gets_trial_sizing(stacks) -> None:
    # growth: sizing medium, trialSizing small (database and compute)
    stack = stacks["tenant/lacuna"]
    assert resources(stack, "aws_db_instance")["main"]["instance_class"] == SIZES["small"].db_instance_class
    assert resources(stack, "aws_db_instance")["main"]["backup_retention_period"] == 7
    assert resources(stack, "kubernetes_resource_quota_v1")["tenant"]["spec"]["hard"]["requests.cpu"] == "2"
    active_growth = stacks["tenant/wayne-enterprises"]
    assert resources(active_growth, "aws_db_instance")["main"]["instance_class"] == SIZES["medium"].db_instance_class


def test_own_vpc_next_to_pool_is_peered_and_database_admits_pool_pods(stacks) -> None:
    stack = stacks["tenant/lacuna"]
    peering = resources(stack, "aws_vpc_peering_connection")["pool"]
    assert peering["peer_vpc_id"] == "${data.terraform_remote_state.pool.outputs.vpc_id}"
    routes = resources(stack, "aws_route")
    assert routes["to_pool"]["destination_cidr_block"] == "${data.terraform_remote_state.pool.outputs.vpc_cidr}"
    assert routes["from_pool"]["route_table_id"] == "${data.terraform_remote_state.pool.outputs.private_route_table_id}"
    ingress = resources(stack, "aws_vpc_security_group_ingress_rule")["database_0"]
    assert ingress["cidr_ipv4"] == "${data.terraform_remote_state.pool.outputs.vpc_cidr}"
    assert resources(stack, "aws_iam_role")["tenant"]["permissions_boundary"].endswith(
        ".outputs.tenant_permissions_boundary_arn}")


def test_subnets_sit_in_allowlisted_zones_checked_at_plan_time(stacks) -> None:
    """A zone AWS opens later never changes a VPC; a missing zone fails the plan, not a subnet."""
    own_vpcs = {a: s for a, s in _aws_stacks(stacks).items() if resources(s, "aws_vpc")}
    assert {"pool/aws-use1-shared", "tenant/acme-corp", "tenant/nakatomi", "tenant/lacuna"} <= set(own_vpcs)
    for address, stack in own_vpcs.items():
        region = stack["provider"]["aws"][0]["region"]
        expected = [f"{region}a", f"{region}b", f"{region}c"]
        zones = stack["data"]["aws_availability_zones"]["available"]
        assert zones["filter"] == [{"name": "zone-name", "values": expected}], address
        assert zones["lifecycle"]["postcondition"][0]["condition"] == "${length(self.names) == 3}"
        subnets = resources(stack, "aws_subnet")
        assert [subnets[f"private_{i}"]["availability_zone"] for i in range(3)] == expected, address
    assert zone_names("ap-northeast-1") == ["ap-northeast-1a", "ap-northeast-1c", "ap-northeast-1d"]


def test_tenant_stacks_learn_pool_facts_only_from_remote_state(stacks) -> None:
    pool = stacks[f"pool/{POOL}"]
    pool_names = {resources(pool, "aws_s3_bucket")["data"]["bucket"],
                  resources(pool, "aws_eks_cluster")["main"]["name"],
                  resources(pool, "aws_db_instance")["main"]["identifier"]}
    outputs = set(pool["output"])
    for address in ("tenant/hooli", "tenant/vandelay", "tenant/wayne-enterprises", "tenant/lacuna", "tenant/dormant"):
        text = json.dumps(stacks[address])
        assert not any(name in text for name in pool_names), address
        read = set(re.findall(r"data\.terraform_remote_state\.pool\.outputs\.([a-z_]+)", text))
        assert read and read <= outputs, (address, read - outputs)
        assert stacks[address]["data"]["terraform_remote_state"]["pool"]["config"]["key"].endswith(
            f"pool/{POOL}/terraform.tfstate")


def test_every_stack_name_respects_aws_limits(stacks) -> None:
    for stack in _aws_stacks(stacks).values():
        for bucket in resources(stack, "aws_s3_bucket").values():
            assert re.fullmatch(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]", bucket["bucket"])
        for role in resources(stack, "aws_iam_role").values():
            assert len(role["name"]) <= 64


NAMES = st.from_regex(NAME_PATTERN, fullmatch=True).filter(lambda n: len(n) <= 40)


@given(NAMES)
def test_derived_names_fit_aws_rules(name: str) -> None:
    for rule, limit in ((BUCKET, 63), (ACCESS_POINT, 50), (DB_IDENTIFIER, 63), (IAM_ROLE, 64), (EKS_CLUSTER, 100),
                        (NODE_GROUP, 63)):
        derived = rule.derive("paybill", "tenant", name, "123456789012", "data")
        assert 3 <= len(derived) <= limit
        assert re.fullmatch(r"[a-z][a-z0-9-]*[a-z0-9]", derived), derived
        assert "--" not in derived


def test_sizing_table_covers_every_abstract_size() -> None:
    assert set(SIZES) == set(ABSTRACT_SIZES)


def test_emission_is_deterministic(tmp_path: Path, stacks) -> None:
    again, _ = emit_repo(tmp_path, EXTRA)
    assert again == stacks
