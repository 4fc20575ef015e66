"""The Google Cloud emitter: snapshots of the pool stack and one tenant stack per isolation model, and
the behaviour the snapshots alone would not make obvious (lifecycle, sizing, names, pool boundaries)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from syrupy.extensions.json import JSONSnapshotExtension

from paybill.emit.terraform.providers.gcp import sizing
from paybill.emit.terraform.providers.gcp.sizing import SIZES
from paybill.models.base import NAME_PATTERN
from paybill.models.base import SIZES as ABSTRACT_SIZES
from support.terraform_repo import emit_repo, pool_reads, resources, tenant_yaml, validate_repo

POOL = "gcp-usc1-shared"
PLACE = {"cloud": "gcp-prod", "region": "us-central1"}
EXTRA = {
    # bridge, trialing: own key ring, database and bucket; network, identity and compute in the pool
    "vireo": tenant_yaml("vireo", plan="growth", model="bridge", pool=POOL, billing="trialing",
                         layers={"network": "pooled", "keys": "silo", "identity": "pooled", "database": "silo",
                                 "storage": "silo", "compute": "pooled"}, **PLACE),
    # silo, offboarding
    "soma": tenant_yaml("soma", plan="enterprise", model="silo", lifecycle="offboarding", billing="cancelled", **PLACE),
    # silo, suspended
    "lethe": tenant_yaml("lethe", plan="enterprise", model="silo", lifecycle="suspended", billing="past_due",
                         display="Lethe ${file(\"/etc/passwd\")} %{ if true }", **PLACE),
    # pooled, suspended
    "dormant": tenant_yaml("dormant", plan="starter", model="pooled", pool=POOL, lifecycle="suspended",
                           billing="past_due", **PLACE),
}
TAG_KEYS = {"paybill-tenant", "paybill-plan", "paybill-isolation", "managed-by"}
LABELLED = {"google_kms_crypto_key": "labels", "google_sql_database_instance": ("settings", "user_labels"),
            "google_storage_bucket": "labels", "google_compute_global_address": "labels",
            "google_container_cluster": "resource_labels", "google_cloud_run_v2_service": "labels",
            "google_gke_hub_scope": "labels", "google_gke_hub_namespace": "labels",
            "google_gke_hub_membership_binding": "labels"}


@pytest.fixture(scope="module")
def stacks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    emitted, sink = emit_repo(tmp_path_factory.mktemp("gcp"), EXTRA)
    assert not sink.has_errors, [d.to_dict() for d in sink.sorted()]
    return emitted


@pytest.fixture
def json_snapshot(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize("address", [
    pytest.param(f"pool/{POOL}", id="pool"),
    pytest.param("tenant/massive-dynamic", id="silo-massive-dynamic"),
    pytest.param("tenant/initech", id="pooled-initech"),
    pytest.param("tenant/vireo", id="bridge-vireo"),
])
def test_stack_snapshot(stacks, json_snapshot, address: str) -> None:
    assert stacks[address] == json_snapshot


def _gcp(stacks):
    return {a: s for a, s in stacks.items() if "google" in s["terraform"]["required_providers"]}


def test_provider_pinned_to_current_major_with_project_and_labels(stacks) -> None:
    gcp = _gcp(stacks)
    assert {f"pool/{POOL}", "tenant/massive-dynamic", "tenant/initech", "tenant/pied-piper"} <= set(gcp)
    for address, stack in gcp.items():
        assert stack["terraform"]["required_providers"]["google"] == {"source": "hashicorp/google",
                                                                      "version": "~> 8.0"}
        (provider,) = stack["provider"]["google"]
        assert provider["project"] == "acme-saas-prod" and provider["region"] == "us-central1"
        assert provider["default_labels"]["managed-by"] == "paybill"
        if address.startswith("tenant/"):
            assert set(provider["default_labels"]) >= TAG_KEYS


def test_every_labelled_resource_carries_the_tenant_labels(stacks) -> None:
    for address, stack in _gcp(stacks).items():
        if not address.startswith("tenant/"):
            continue
        name = address.split("/")[1]
        for type_, path in LABELLED.items():
            for local, body in resources(stack, type_).items():
                labels = body[path[0]][path[1]] if isinstance(path, tuple) else body[path]
                assert set(labels) >= TAG_KEYS, (address, type_, local)
                assert labels["paybill-tenant"] == name


def test_silo_tenant_secure_by_default(stacks) -> None:
    stack = stacks["tenant/massive-dynamic"]
    sql = resources(stack, "google_sql_database_instance")["main"]
    assert sql["database_version"] == "POSTGRES_18" and sql["deletion_protection"] is True
    assert sql["encryption_key_name"] == "${google_kms_crypto_key.data.id}"
    settings = sql["settings"]
    assert settings["ip_configuration"]["ipv4_enabled"] is False
    assert settings["ip_configuration"]["ssl_mode"] == "TRUSTED_CLIENT_CERTIFICATE_REQUIRED"
    assert settings["availability_type"] == "REGIONAL"  # enterprise: high availability
    assert settings["tier"] == SIZES["large"].sql_tier and settings["deletion_protection_enabled"] is True
    backups = settings["backup_configuration"]
    assert backups["point_in_time_recovery_enabled"] is True
    assert backups["backup_retention_settings"]["retained_backups"] == 35
    flags = {f["name"]: f["value"] for f in settings["database_flags"]}
    assert flags["cloudsql.iam_authentication"] == "on" and flags["log_connections"] == "on"
    assert sql["depends_on"] == ["google_kms_crypto_key_iam_member.sql_agent",
                                 "google_service_networking_connection.main"]
    for bucket in resources(stack, "google_storage_bucket").values():
        assert bucket["public_access_prevention"] == "enforced" and bucket["uniform_bucket_level_access"] is True
        assert bucket["versioning"] == {"enabled": True}
        assert bucket["encryption"] == {"default_kms_key_name": "${google_kms_crypto_key.data.id}"}
    assert resources(stack, "google_storage_bucket")["data"]["logging"]["log_bucket"] == (
        "${google_storage_bucket.access_logs.name}")
    key = resources(stack, "google_kms_crypto_key")["data"]
    assert key["rotation_period"] == "7776000s" and key["version_template"]["protection_level"] == "HSM"
    network = resources(stack, "google_compute_network")["main"]
    assert network["auto_create_subnetworks"] is False
    subnet = resources(stack, "google_compute_subnetwork")["main"]
    assert subnet["private_ip_google_access"] is True and subnet["log_config"]["flow_sampling"] == 0.5
    run = resources(stack, "google_cloud_run_v2_service")["tenant"]
    assert run["ingress"] == "INGRESS_TRAFFIC_INTERNAL_ONLY"
    assert run["template"]["service_account"] == "${google_service_account.tenant.email}"
    assert run["template"]["encryption_key"] == "${google_kms_crypto_key.data.id}"
    assert run["scaling"] == {"scaling_mode": "AUTOMATIC", "min_instance_count": SIZES["large"].run_min}
    agents = {m["member"] for m in resources(stack, "google_kms_crypto_key_iam_member").values()}
    assert any("gcp-sa-cloud-sql" in m for m in agents) and any("serverless-robot-prod" in m for m in agents)


def test_pooled_tenant_is_scoped_by_conditions_and_namespace(stacks) -> None:
    stack = stacks["tenant/initech"]
    assert set(stack["resource"]) == {
        "google_gke_hub_membership_binding", "google_gke_hub_namespace", "google_gke_hub_scope",
        "google_kms_crypto_key", "google_kms_crypto_key_iam_member", "google_project_iam_member",
        "google_service_account", "google_service_account_iam_member", "google_sql_user",
        "google_storage_bucket_iam_member"}
    condition = resources(stack, "google_storage_bucket_iam_member")["tenant_objects"]["condition"]["expression"]
    assert "tenants/initech/" in condition and "objectListPrefix" in condition
    for grant in resources(stack, "google_project_iam_member").values():
        assert "data.terraform_remote_state.pool.outputs.sql_instance_name" in grant["condition"]["expression"]
    wi = resources(stack, "google_service_account_iam_member")["workload_identity"]
    assert wi["member"] == "serviceAccount:acme-saas-prod.svc.id.goog[tenant-initech/workload]"
    key = resources(stack, "google_kms_crypto_key")["data"]
    assert key["key_ring"] == "${data.terraform_remote_state.pool.outputs.key_ring_id}"
    # Its rows live in the pool's shared database, the one generated/sql/pool-<pool>/ migrates.
    assert stack["output"]["database_name"]["value"] == "${data.terraform_remote_state.pool.outputs.database_name}"


def test_pooled_tenants_share_the_pool_database_the_sql_folder_targets(stacks) -> None:
    from paybill.contract.sql_names import database_key, snake

    pool = stacks[f"pool/{POOL}"]
    database = resources(pool, "google_sql_database")["pool"]
    assert database["name"] == snake(database_key("pool", POOL)) == f"pool_{POOL.replace('-', '_')}"
    assert database["instance"] == "${google_sql_database_instance.main.name}"
    assert database["deletion_policy"] == "ABANDON"
    assert pool["output"]["database_name"]["value"] == "${google_sql_database.pool.name}"
    for address, stack in stacks.items():
        if address.startswith("tenant/") and "google_sql_database_instance" not in stack.get("resource", {}):
            assert not resources(stack, "google_sql_database"), address  # no per-tenant database in the pool


def test_suspended_silo_scales_to_zero_and_disables_identity_keeps_data(stacks) -> None:
    stack = stacks["tenant/lethe"]
    run = resources(stack, "google_cloud_run_v2_service")["tenant"]
    assert run["scaling"] == {"scaling_mode": "MANUAL", "manual_instance_count": 0}
    assert run["template"]["scaling"]["min_instance_count"] == 0
    assert resources(stack, "google_service_account")["tenant"]["disabled"] is True
    assert resources(stack, "google_sql_database_instance")["main"]["deletion_protection"] is True
    assert set(resources(stack, "google_storage_bucket")) == {"data", "access_logs"}


def test_suspended_pooled_tenant_leaves_the_cluster_and_is_disabled(stacks) -> None:
    stack = stacks["tenant/dormant"]
    assert not resources(stack, "google_gke_hub_membership_binding")
    assert resources(stack, "google_gke_hub_namespace")  # definition kept for reactivation
    assert resources(stack, "google_service_account")["tenant"]["disabled"] is True
    assert stack["output"]["database_name"]  # its rows stay in the pool database
    assert resources(stacks["tenant/initech"], "google_gke_hub_membership_binding")


def test_offboarding_keeps_protection_and_raises_retention(stacks) -> None:
    stack = stacks["tenant/soma"]
    sql = resources(stack, "google_sql_database_instance")["main"]
    assert sql["deletion_protection"] is True and sql["settings"]["retain_backups_on_delete"] is True
    assert sql["settings"]["backup_configuration"]["backup_retention_settings"]["retained_backups"] == 90
    data = resources(stack, "google_storage_bucket")["data"]
    assert data["soft_delete_policy"]["retention_duration_seconds"] == 90 * 86400
    assert data["lifecycle_rule"][0]["condition"]["days_since_noncurrent_time"] == 90
    active = resources(stacks["tenant/massive-dynamic"], "google_storage_bucket")["data"]
    assert active["lifecycle_rule"][0]["condition"]["days_since_noncurrent_time"] == 30


def test_trialing_tenant_gets_trial_sizing(stacks) -> None:
    # growth: sizing medium, trialSizing small
    sql = resources(stacks["tenant/vireo"], "google_sql_database_instance")["main"]
    assert sql["settings"]["tier"] == SIZES["small"].sql_tier
    assert sql["settings"]["availability_type"] == "ZONAL" and sql["settings"]["disk_size"] == 20


def test_user_text_is_escaped(stacks) -> None:
    account = resources(stacks["tenant/lethe"], "google_service_account")["tenant"]
    assert account["display_name"] == 'paybill tenant Lethe $${file("/etc/passwd")} %%{ if true }'


def test_tenant_stacks_learn_pool_facts_only_from_remote_state(stacks) -> None:
    pool = stacks[f"pool/{POOL}"]
    pool_names = {resources(pool, "google_sql_database_instance")["main"]["name"],
                  resources(pool, "google_storage_bucket")["data"]["name"],
                  resources(pool, "google_container_cluster")["main"]["name"]}
    outputs = set(pool["output"])
    for address in ("tenant/initech", "tenant/pied-piper", "tenant/vireo", "tenant/dormant"):
        text = json.dumps(stacks[address])
        assert not any(name in text for name in pool_names), address
        read = pool_reads(stacks[address])
        assert read and read <= outputs, (address, read - outputs)
        assert stacks[address]["data"]["terraform_remote_state"]["pool"]["config"]["prefix"] == (
            f"paybill/pool/{POOL}")
    assert not pool_reads(stacks["tenant/massive-dynamic"])


def test_pool_shares_everything_it_offers(stacks) -> None:
    pool = stacks[f"pool/{POOL}"]
    cluster = resources(pool, "google_container_cluster")["main"]
    assert cluster["private_cluster_config"]["enable_private_endpoint"] is True
    assert cluster["workload_identity_config"] == {"workload_pool": "acme-saas-prod.svc.id.goog"}
    assert cluster["database_encryption"]["state"] == "ENCRYPTED" and cluster["deletion_protection"] is True
    nodes = resources(pool, "google_container_node_pool")["general"]
    assert nodes["node_config"]["machine_type"] == SIZES["large"].node_machine
    assert nodes["node_config"]["service_account"] == "${google_service_account.nodes.email}"
    assert pool["output"]["tenants"]["value"] == sorted(["initech", "pied-piper", "vireo", "dormant"])


def test_network_too_small_and_unreachable_layers_are_diagnostics(tmp_path) -> None:
    """The Google Cloud profile's capability checks: reported by ``paybill validate`` (they used to be
    reported only by the emitter, so validate passed what compile rejected)."""
    extra = {
        "tiny": tenant_yaml("tiny", plan="enterprise", model="silo", cidr="10.200.0.0/24", **PLACE),
        "split": tenant_yaml("split", plan="growth", model="bridge", pool=POOL, **PLACE,
                             layers={"network": "silo", "keys": "pooled", "identity": "pooled", "database": "silo",
                                     "storage": "pooled", "compute": "pooled"}),
    }
    diagnostics = validate_repo(tmp_path, extra)
    found = {(d.code, d.path.rsplit("/", 1)[-1]) for d in diagnostics}
    assert ("PB0650", "tiny.yaml") in found and ("PB0651", "split.yaml") in found
    for diagnostic in diagnostics:
        assert diagnostic.hint and diagnostic.position.line > 0


def test_sizing_table_covers_every_abstract_size() -> None:
    assert set(SIZES) == set(ABSTRACT_SIZES)
    cpus = [int(s.sql_tier.split("-")[2]) for s in (SIZES[size] for size in ABSTRACT_SIZES)]
    assert cpus == sorted(cpus) and len(set(cpus)) == len(cpus)


NAMES = st.from_regex(NAME_PATTERN, fullmatch=True).filter(lambda n: len(n) <= 40)
RULES = {
    sizing.COMPUTE_NAME: r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?",
    sizing.SQL_INSTANCE_NAME: r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?",
    sizing.SERVICE_ACCOUNT_ID: r"[a-z]([-a-z0-9]{4,28}[a-z0-9])",
    sizing.GKE_NAME: r"[a-z]([-a-z0-9]{0,38}[a-z0-9])?",
    sizing.RUN_SERVICE_NAME: r"[a-z]([-a-z0-9]{0,47}[a-z0-9])?",
    sizing.K8S_NAME: r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?",
    sizing.BUCKET_NAME: r"[a-z0-9][-a-z0-9_.]{1,61}[a-z0-9]",
    sizing.SQL_DATABASE_NAME: r"[a-z][a-z0-9_]{0,62}",
}


@given(NAMES, st.sampled_from(["", "data", "logs", "allow-internal"]))
def test_derived_names_fit_google_cloud_rules(name: str, suffix: str) -> None:
    for rule, pattern in RULES.items():
        parts = ("acme-saas-prod", "pb", "pool", name, suffix)
        derived = rule.derive(*parts)
        assert re.fullmatch(pattern, derived), (rule.label, derived)
        assert derived == rule.derive(*parts)
