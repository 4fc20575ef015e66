"""The OCI emitter: snapshots of the pool stack and one tenant stack per isolation model, and the
behaviour the snapshots alone would not make obvious (lifecycle, sizing, names, pool boundaries)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from syrupy.extensions.json import JSONSnapshotExtension

from paybill.emit.terraform.providers.oci import sizing
from paybill.emit.terraform.providers.oci.sizing import SIZES
from paybill.models.base import NAME_PATTERN
from paybill.models.base import SIZES as ABSTRACT_SIZES
from support.terraform_repo import emit_repo, pool_reads, resources, tenant_yaml, validate_repo

POOL = "oci-fra-shared"
PLACE = {"cloud": "oci-prod", "region": "eu-frankfurt-1"}
TENANCY = "ocid1.tenancy.oc1..aaaaaaaaba3pv6wkcr4jqae5f44n2b2m2yt2j6rx32uzr4h25vqstifsfdsq"
PARENT = "ocid1.compartment.oc1..aaaaaaaaqe3cn7tp3ttclysgtmtsdzhnvi5ea4k3ud7vxhnpx6g2ifzg2hra"
EXTRA = {
    # bridge, trialing: own compartment, vault, identity and database; network, storage, compute pooled
    "kestrel": tenant_yaml("kestrel", plan="growth", model="bridge", pool=POOL, billing="trialing",
                           layers={"network": "pooled", "keys": "silo", "identity": "silo", "database": "silo",
                                   "storage": "pooled", "compute": "pooled"}, **PLACE),
    "oci-sleepy": tenant_yaml("oci-sleepy", plan="enterprise", model="silo", lifecycle="suspended",
                              billing="past_due", **PLACE),
    "oci-dormant": tenant_yaml("oci-dormant", plan="starter", model="pooled", pool=POOL, lifecycle="suspended",
                               billing="past_due", **PLACE),
    "oci-leaving": tenant_yaml("oci-leaving", plan="enterprise", model="silo", lifecycle="offboarding",
                               billing="cancelled", **PLACE),
}
TAG_KEYS = {"paybill-tenant", "paybill-plan", "paybill-isolation", "managed-by"}
UNTAGGABLE = {"oci_core_network_security_group_security_rule", "oci_objectstorage_object_lifecycle_policy"}


@pytest.fixture(scope="module")
def stacks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    emitted, sink = emit_repo(tmp_path_factory.mktemp("oci"), EXTRA)
    assert not sink.has_errors, [d.to_dict() for d in sink.sorted()]
    return emitted


@pytest.fixture
def json_snapshot(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize("address", [
    pytest.param(f"pool/{POOL}", id="pool"),
    pytest.param("tenant/umbrella-health", id="silo-umbrella-health"),
    pytest.param("tenant/bluth", id="pooled-bluth"),
    pytest.param("tenant/kestrel", id="bridge-kestrel"),
])
def test_stack_snapshot(stacks, json_snapshot, address: str) -> None:
    assert stacks[address] == json_snapshot


def _oci(stacks):
    return {a: s for a, s in stacks.items() if "oci" in s["terraform"]["required_providers"]}


def test_provider_pinned_to_current_major(stacks) -> None:
    oci = _oci(stacks)
    assert {f"pool/{POOL}", "tenant/umbrella-health", "tenant/bluth", "tenant/tyrell"} <= set(oci)
    for stack in oci.values():
        assert stack["terraform"]["required_providers"]["oci"] == {"source": "oracle/oci", "version": "~> 8.0"}
        assert stack["provider"]["oci"] == [{"region": "eu-frankfurt-1", "tenancy_ocid": TENANCY}]


def test_every_taggable_resource_carries_the_tags(stacks) -> None:
    for address, stack in _oci(stacks).items():
        for type_, bodies in stack["resource"].items():
            for local, body in bodies.items():
                if type_ in UNTAGGABLE:
                    assert "freeform_tags" not in body
                    continue
                tags = body["freeform_tags"]
                assert tags["managed-by"] == "paybill", (address, type_, local)
                if address.startswith("tenant/"):
                    assert set(tags) >= TAG_KEYS and tags["paybill-tenant"] == address.split("/")[1]


def test_silo_tenant_secure_by_default(stacks) -> None:
    stack = stacks["tenant/umbrella-health"]
    compartment = resources(stack, "oci_identity_compartment")["tenant"]
    assert compartment["compartment_id"] == PARENT and compartment["enable_delete"] is False
    for subnet in resources(stack, "oci_core_subnet").values():
        assert subnet["prohibit_public_ip_on_vnic"] is True and subnet["prohibit_internet_ingress"] is True
        assert subnet["security_list_ids"] == ["${oci_core_security_list.private.id}"]
    assert not resources(stack, "oci_core_internet_gateway")
    assert len(resources(stack, "oci_logging_log")) == 4 + 2  # flow logs of 4 subnets, bucket read/write
    psql = resources(stack, "oci_psql_db_system")["main"]
    assert psql["lifecycle"] == {"prevent_destroy": True} and psql["instance_count"] == 2
    assert psql["credentials"]["password_details"]["password_type"] == "VAULT_SECRET"
    assert psql["network_details"]["nsg_ids"] == ["${oci_core_network_security_group.db.id}"]
    assert psql["instance_ocpu_count"] == SIZES["large"].db_ocpus
    assert psql["management_policy"]["backup_policy"]["retention_days"] == 35
    bucket = resources(stack, "oci_objectstorage_bucket")["data"]
    assert bucket["access_type"] == "NoPublicAccess" and bucket["versioning"] == "Enabled"
    assert bucket["kms_key_id"] == "${oci_kms_key.data.id}"
    assert resources(stack, "oci_kms_key")["data"]["protection_mode"] == "HSM"
    cluster = resources(stack, "oci_containerengine_cluster")["main"]
    assert cluster["endpoint_config"]["is_public_ip_enabled"] is False
    assert cluster["kms_key_id"] == "${oci_kms_key.data.id}"
    nodes = resources(stack, "oci_containerengine_node_pool")["main"]["node_config_details"]
    assert nodes["size"] == SIZES["large"].nodes and nodes["is_pv_encryption_in_transit_enabled"] is True
    policy = resources(stack, "oci_identity_policy")["tenant"]
    assert policy["compartment_id"] == PARENT
    assert all("oci_identity_compartment.tenant.id" in s and "target." not in s for s in policy["statements"])
    assert all("request.principal.namespace = '%s'" in s for s in policy["statements"])


def test_pooled_tenant_is_scoped_by_target_names(stacks) -> None:
    stack = stacks["tenant/bluth"]
    assert not resources(stack, "oci_identity_compartment")
    bucket = resources(stack, "oci_objectstorage_bucket")["data"]
    assert bucket["compartment_id"] == "${data.terraform_remote_state.pool.outputs.compartment_id}"
    statements = resources(stack, "oci_identity_policy")["tenant"]["statements"]
    assert [re.search(r"target\.[a-z.]+", s).group(0) for s in statements] == [
        "target.key.id", "target.secret.id", "target.bucket.name", "target.bucket.name"]
    vnodes = resources(stack, "oci_containerengine_virtual_node_pool")["tenant"]
    assert vnodes["taints"] == [{"key": "paybill-tenant", "value": "bluth", "effect": "NoSchedule"}]
    assert vnodes["size"] == SIZES["small"].virtual_nodes


def test_suspended_tenants_scale_to_zero_and_lose_their_policy(stacks) -> None:
    silo = stacks["tenant/oci-sleepy"]
    assert resources(silo, "oci_containerengine_node_pool")["main"]["node_config_details"]["size"] == 0
    assert not resources(silo, "oci_identity_policy").get("tenant")
    assert resources(silo, "oci_psql_db_system") and resources(silo, "oci_objectstorage_bucket")
    pooled = stacks["tenant/oci-dormant"]
    assert not resources(pooled, "oci_containerengine_virtual_node_pool")
    assert not resources(pooled, "oci_identity_policy")
    assert resources(pooled, "oci_objectstorage_bucket")["data"]["lifecycle"] == {"prevent_destroy": True}


def test_offboarding_raises_retention(stacks) -> None:
    silo = stacks["tenant/oci-leaving"]
    assert resources(silo, "oci_psql_db_system")["main"]["management_policy"]["backup_policy"]["retention_days"] == 90
    for stack in (silo, stacks["tenant/tyrell"]):
        rule = resources(stack, "oci_objectstorage_object_lifecycle_policy")["data"]["rules"][0]
        assert rule["target"] == "previous-object-versions" and rule["time_amount"] == 90
    rule = resources(stacks["tenant/bluth"], "oci_objectstorage_object_lifecycle_policy")["data"]["rules"][0]
    assert rule["time_amount"] == 30


def test_trialing_tenant_gets_trial_sizing(stacks) -> None:
    psql = resources(stacks["tenant/kestrel"], "oci_psql_db_system")["main"]
    assert psql["instance_ocpu_count"] == SIZES["small"].db_ocpus and psql["instance_count"] == 1
    vnodes = resources(stacks["tenant/kestrel"], "oci_containerengine_virtual_node_pool")["tenant"]
    assert vnodes["size"] == SIZES["small"].virtual_nodes


def test_tenant_stacks_learn_pool_facts_only_from_remote_state(stacks) -> None:
    pool = stacks[f"pool/{POOL}"]
    outputs = set(pool["output"])
    for address in ("tenant/bluth", "tenant/tyrell", "tenant/kestrel", "tenant/oci-dormant"):
        read = pool_reads(stacks[address])
        assert read and read <= outputs, (address, read - outputs)
        assert stacks[address]["data"]["terraform_remote_state"]["pool"]["config"]["key"] == (
            f"paybill/pool/{POOL}/terraform.tfstate")
    pool_cluster = resources(pool, "oci_containerengine_cluster")["main"]["name"]
    assert pool_cluster not in json.dumps(stacks["tenant/bluth"])
    assert not pool_reads(stacks["tenant/umbrella-health"])


def test_unreachable_layers_are_a_diagnostic(tmp_path) -> None:
    extra = {"oci-split": tenant_yaml("oci-split", plan="growth", model="bridge", pool=POOL, **PLACE,
                                      layers={"network": "silo", "keys": "pooled", "identity": "pooled",
                                              "database": "pooled", "storage": "pooled", "compute": "silo"})}
    diagnostics = validate_repo(tmp_path, extra)  # validate reports it (the profile's check)
    codes = [(d.code, d.path.rsplit("/", 1)[-1]) for d in diagnostics]
    assert codes == [("PB0651", "oci-split.yaml")]


def test_sizing_table_covers_every_abstract_size() -> None:
    assert set(SIZES) == set(ABSTRACT_SIZES)
    ocpus = [SIZES[size].db_ocpus for size in ABSTRACT_SIZES]
    assert ocpus == sorted(ocpus)


NAMES = st.from_regex(NAME_PATTERN, fullmatch=True).filter(lambda n: len(n) <= 40)
RULES = {
    sizing.DNS_LABEL: r"[a-z][a-z0-9]{0,14}",
    sizing.BUCKET_NAME: r"[a-z0-9][-a-z0-9_.]{0,255}",
    sizing.COMPARTMENT_NAME: r"[a-z][-a-z0-9_.]{0,99}",
    sizing.POLICY_NAME: r"[a-z][-a-z0-9_.]{0,99}",
    sizing.K8S_NAME: r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?",
}


@given(NAMES, st.sampled_from(["", "data", "workload"]))
def test_derived_names_fit_oci_rules(name: str, suffix: str) -> None:
    for rule, pattern in RULES.items():
        parts = ("pb", "pool", name, suffix)
        derived = rule.derive(*parts)
        assert re.fullmatch(pattern, derived), (rule.label, derived)
