"""The Azure emitter: snapshots of the pool stack and one tenant stack per isolation model, and the
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

from paybill.emit.terraform.providers.azure.common import (
    AKS_CLUSTER,
    KEY_VAULT,
    NODE_TEMP_DISK_GB,
    POSTGRES_SERVER,
    RESOURCE_GROUP,
    SIZES,
    STORAGE_ACCOUNT,
    SYSTEM_NODE_OS_DISK_GB,
    SYSTEM_NODE_VM_SIZE,
    postgres_storage_mb,
)
from paybill.models.base import NAME_PATTERN
from paybill.models.base import SIZES as ABSTRACT_SIZES
from support.terraform_repo import emit_repo, resources, tenant_yaml

POOL = "azure-weu-shared"
EXTRA = {
    "contoso": tenant_yaml("contoso", plan="enterprise", cloud="azure-prod", region="westeurope", model="silo"),
    "fabrikam": tenant_yaml("fabrikam", plan="starter", cloud="azure-prod", region="westeurope", model="pooled",
                            pool=POOL),
    # silo, suspended and offboarding variants
    "northwind": tenant_yaml("northwind", plan="enterprise", cloud="azure-prod", region="westeurope", model="silo",
                             lifecycle="suspended", billing="past_due"),
    "adventure-works": tenant_yaml("adventure-works", plan="enterprise", cloud="azure-prod", region="westeurope",
                                   model="silo", lifecycle="offboarding"),
    # own VNet next to the pool: peering both ways, shared privatelink zones
    "litware": tenant_yaml("litware", plan="enterprise", cloud="azure-prod", region="westeurope", model="bridge",
                           pool=POOL, layers={"network": "silo", "keys": "silo", "identity": "silo", "database": "silo",
                                              "storage": "pooled", "compute": "pooled"}),
    # own cluster, key in the pool's vault: node disks are encrypted with the tenant's key there
    "tailspin": tenant_yaml("tailspin", plan="enterprise", cloud="azure-prod", region="westeurope", model="bridge",
                            pool=POOL, layers={"network": "silo", "keys": "pooled", "identity": "pooled",
                                               "database": "pooled", "storage": "pooled", "compute": "silo"}),
}


@pytest.fixture(scope="module")
def stacks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    emitted, sink = emit_repo(tmp_path_factory.mktemp("azure"), EXTRA)
    assert not sink.has_errors, [d.to_dict() for d in sink.sorted()]
    return emitted


@pytest.fixture
def json_snapshot(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize("address", [
    pytest.param(f"pool/{POOL}", id="pool"),
    pytest.param("tenant/contoso", id="silo-contoso"),
    pytest.param("tenant/fabrikam", id="pooled-fabrikam"),
    pytest.param("tenant/globex", id="bridge-globex"),  # keys, database, storage silo; the rest pooled
])
def test_stack_snapshot(stacks, json_snapshot, address: str) -> None:
    assert stacks[address] == json_snapshot


def _azure_stacks(stacks):
    return {a: s for a, s in stacks.items() if "azurerm" in s["terraform"]["required_providers"]}


TAGGABLE_WITHOUT_TAGS = {
    "azurerm_role_assignment", "azurerm_subnet", "azurerm_subnet_network_security_group_association",
    "azurerm_management_lock", "azurerm_monitor_diagnostic_setting", "azurerm_federated_identity_credential",
    "azurerm_postgresql_flexible_server_configuration", "azurerm_postgresql_flexible_server_database",
    "azurerm_postgresql_flexible_server_active_directory_administrator", "azurerm_storage_container",
    "azurerm_storage_management_policy", "azurerm_virtual_network_peering",
}
"""Resource types azurerm gives no ``tags`` argument."""


def test_provider_pinned_and_every_taggable_resource_tagged(stacks) -> None:
    azure = _azure_stacks(stacks)
    assert {f"pool/{POOL}", "tenant/contoso", "tenant/globex", "tenant/soylent"} <= set(azure)
    for address, stack in azure.items():
        assert stack["terraform"]["required_providers"]["azurerm"] == {"source": "hashicorp/azurerm",
                                                                      "version": "~> 5.0"}
        (provider,) = stack["provider"]["azurerm"]
        assert provider["features"] == {} and provider["subscription_id"] == "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
        for type_, items in stack["resource"].items():
            if not type_.startswith("azurerm_") or type_ in TAGGABLE_WITHOUT_TAGS:
                continue
            for name, body in items.items():
                tags = body.get("tags")
                assert tags and tags["managed-by"] == "paybill", (address, type_, name)
                if address.startswith("tenant/"):
                    assert tags["paybill-tenant"] == address.split("/")[1]
                    assert {"paybill-plan", "paybill-isolation"} <= set(tags)


def test_silo_tenant_secure_by_default(stacks) -> None:
    stack = stacks["tenant/contoso"]
    server = resources(stack, "azurerm_postgresql_flexible_server")["main"]
    assert server["public_network_access_enabled"] is False
    assert server["authentication"] == {"active_directory_auth_enabled": True, "password_auth_enabled": False,
                                        "tenant_id": "72f988bf-86f1-41af-91ab-2d7cd011db47"}
    assert server["high_availability"]["mode"] == "ZoneRedundant"  # enterprise plan
    assert server["sku_name"] == SIZES["large"].postgres_sku and server["backup_retention_days"] == 35
    assert server["customer_managed_key"]["key_vault_key_id"] == "${azurerm_key_vault_key.main.versionless_id}"
    assert resources(stack, "azurerm_postgresql_flexible_server_configuration")["require_secure_transport"][
        "value"] == "on"
    vault = resources(stack, "azurerm_key_vault")["main"]
    assert vault["purge_protection_enabled"] is True and vault["rbac_authorization_enabled"] is True
    assert vault["public_network_access_enabled"] is False
    account = resources(stack, "azurerm_storage_account")["main"]
    assert account["min_tls_version"] == "TLS1_2" and account["allow_nested_items_to_be_public"] is False
    assert account["infrastructure_encryption_enabled"] is True and account["shared_access_key_enabled"] is False
    assert account["public_network_access_enabled"] is False
    locks = {lock["scope"] for lock in resources(stack, "azurerm_management_lock").values()}
    assert locks == {"${azurerm_postgresql_flexible_server.main.id}", "${azurerm_storage_account.main.id}",
                     "${azurerm_key_vault.main.id}"}
    cluster = resources(stack, "azurerm_kubernetes_cluster")["main"]
    assert cluster["private_cluster_enabled"] is True and cluster["local_account_disabled"] is True
    # the workload identity may only be used by the app's service account on the tenant's own cluster
    credential = resources(stack, "azurerm_federated_identity_credential")["app"]
    assert credential["issuer"] == "${azurerm_kubernetes_cluster.main.oidc_issuer_url}"
    assert credential["subject"] == "system:serviceaccount:paybill:paybill-app"
    roles = {(r["role_definition_name"], r["scope"]) for r in resources(stack, "azurerm_role_assignment").values()
             if r["principal_id"] == "${azurerm_user_assigned_identity.workload.principal_id}"}
    assert roles == {("Key Vault Crypto User", "${azurerm_key_vault_key.main.resource_versionless_id}"),
                     ("Storage Blob Data Contributor", "${azurerm_storage_container.data.id}")}


DES = "${azurerm_disk_encryption_set.aks.id}"


@pytest.mark.parametrize(("address", "key"), [
    (f"pool/{POOL}", "azurerm_key_vault_key.main"),
    ("tenant/contoso", "azurerm_key_vault_key.main"),  # own vault
    ("tenant/tailspin", "azurerm_key_vault_key.tenant"),  # its key in the pool's vault
])
def test_node_disks_are_ephemeral_and_encrypted_with_the_stacks_own_key(stacks, address: str, key: str) -> None:
    stack = stacks[address]
    cluster = resources(stack, "azurerm_kubernetes_cluster")["main"]
    assert cluster["disk_encryption_set_id"] == DES
    des = resources(stack, "azurerm_disk_encryption_set")["aks"]
    assert des["key_vault_key_id"] == f"${{{key}.versionless_id}}"  # versionless: follows rotation
    assert des["auto_key_rotation_enabled"] is True and des["identity"] == {"type": "SystemAssigned"}
    roles = {(r["role_definition_name"], r["scope"], r["principal_id"])
             for r in resources(stack, "azurerm_role_assignment").values()}
    assert ("Key Vault Crypto Service Encryption User", f"${{{key}.resource_versionless_id}}",
            "${azurerm_disk_encryption_set.aks.identity.0.principal_id}") in roles
    assert ("Reader", DES, "${azurerm_user_assigned_identity.cluster.principal_id}") in roles
    assert {"azurerm_role_assignment.disk_encryption_key_user",
            "azurerm_role_assignment.cluster_disk_encryption_reader"} <= set(cluster["depends_on"])
    pools = [cluster["default_node_pool"], resources(stack, "azurerm_kubernetes_cluster_node_pool")["workload"]]
    for pool in pools:
        assert pool["os_disk_type"] == "Ephemeral" and pool["host_encryption_enabled"] is True
        assert pool["os_disk_size_gb"] <= NODE_TEMP_DISK_GB[pool["vm_size"]], pool["vm_size"]
    if address == "tenant/tailspin":  # no database or storage of its own: no data-store encryption identity
        assert "encryption" not in resources(stack, "azurerm_user_assigned_identity")


def test_every_node_size_holds_its_ephemeral_os_disk() -> None:
    """Ddsv5 has no cache disk: the OS disk lives on the temp disk and must fit it (else AKS refuses)."""
    rows = [(s.node_vm_size, s.node_os_disk_gb) for s in SIZES.values()] + [(SYSTEM_NODE_VM_SIZE,
                                                                             SYSTEM_NODE_OS_DISK_GB)]
    for vm_size, os_disk_gb in rows:
        assert vm_size in NODE_TEMP_DISK_GB, f"{vm_size}: no temp disk size recorded (is it a size with a local disk?)"
        assert 30 <= os_disk_gb <= NODE_TEMP_DISK_GB[vm_size], vm_size


def test_suspended_silo_scales_to_zero_and_removes_access_keeping_data(stacks) -> None:
    stack = stacks["tenant/northwind"]
    pool = resources(stack, "azurerm_kubernetes_cluster_node_pool")["workload"]
    assert pool["node_count"] == 0 and pool["auto_scaling_enabled"] is False
    assert not resources(stack, "azurerm_federated_identity_credential")
    workload = "${azurerm_user_assigned_identity.workload.principal_id}"
    assert not [r for r in resources(stack, "azurerm_role_assignment").values() if r["principal_id"] == workload]
    assert "main" in resources(stack, "azurerm_postgresql_flexible_server")
    assert len(resources(stack, "azurerm_management_lock")) == 3


def test_suspended_pooled_tenant_gets_no_pods_no_token_no_roles(stacks) -> None:
    stack = stacks["tenant/soylent"]
    assert resources(stack, "kubernetes_resource_quota_v1")["tenant"]["spec"]["hard"]["pods"] == "0"
    assert not resources(stack, "azurerm_federated_identity_credential")
    assert not resources(stack, "azurerm_role_assignment")
    assert "tenant" in resources(stack, "azurerm_storage_container")  # the data stays


def test_offboarding_keeps_locks_and_raises_retention(stacks) -> None:
    stack = stacks["tenant/adventure-works"]
    assert resources(stack, "azurerm_postgresql_flexible_server")["main"]["backup_retention_days"] == 35
    blob = resources(stack, "azurerm_storage_account")["main"]["blob_properties"]
    assert blob["delete_retention_policy"] == {"days": 365}
    assert len(resources(stack, "azurerm_management_lock")) == 3
    assert resources(stacks["tenant/contoso"], "azurerm_storage_account")["main"]["blob_properties"][
        "delete_retention_policy"] == {"days": 30}


def test_trialing_tenant_gets_trial_sizing(stacks) -> None:
    # oscorp: growth, trialing -> trialSizing small: namespace quota of a small tenant
    stack = stacks["tenant/oscorp"]
    assert resources(stack, "kubernetes_resource_quota_v1")["tenant"]["spec"]["hard"]["requests.cpu"] == "2"


def test_pooled_tenant_owns_only_its_slices_of_the_pool(stacks) -> None:
    stack = stacks["tenant/fabrikam"]
    assert not resources(stack, "azurerm_resource_group")
    identity = resources(stack, "azurerm_user_assigned_identity")["workload"]
    assert identity["resource_group_name"] == "${data.terraform_remote_state.pool.outputs.resource_group_name}"
    container = resources(stack, "azurerm_storage_container")["tenant"]
    assert container["storage_account_id"] == "${data.terraform_remote_state.pool.outputs.storage_account_id}"
    key = resources(stack, "azurerm_key_vault_key")["tenant"]
    assert key["key_vault_id"] == "${data.terraform_remote_state.pool.outputs.key_vault_id}"
    scopes = {r["scope"] for r in resources(stack, "azurerm_role_assignment").values()}
    assert scopes == {"${azurerm_storage_container.tenant.id}",
                      "${azurerm_key_vault_key.tenant.resource_versionless_id}"}
    sa = resources(stack, "kubernetes_service_account_v1")["app"]["metadata"]
    client_id = "${azurerm_user_assigned_identity.workload.client_id}"
    assert sa["annotations"] == {"azure.workload.identity/client-id": client_id}


def test_own_vnet_next_to_pool_is_peered_and_shares_privatelink_zones(stacks) -> None:
    stack = stacks["tenant/litware"]
    peerings = resources(stack, "azurerm_virtual_network_peering")
    assert peerings["to_pool"]["remote_virtual_network_id"] == "${data.terraform_remote_state.pool.outputs.vnet_id}"
    assert peerings["from_pool"]["virtual_network_name"] == "${data.terraform_remote_state.pool.outputs.vnet_name}"
    zones = {z["name"] for z in resources(stack, "azurerm_private_dns_zone").values()}
    assert zones == {"tenant-litware.private.postgres.database.azure.com"}  # never a second privatelink zone
    links = resources(stack, "azurerm_private_dns_zone_virtual_network_link").values()
    linked = {link["private_dns_zone_id"] for link in links}
    assert "${data.terraform_remote_state.pool.outputs.blob_dns_zone_id}" in linked


def test_tenant_stacks_learn_pool_facts_only_from_remote_state(stacks) -> None:
    pool = stacks[f"pool/{POOL}"]
    pool_names = {resources(pool, "azurerm_storage_account")["main"]["name"],
                  resources(pool, "azurerm_key_vault")["main"]["name"],
                  resources(pool, "azurerm_resource_group")["main"]["name"],
                  resources(pool, "azurerm_kubernetes_cluster")["main"]["name"]}
    outputs = set(pool["output"])
    for address in ("tenant/fabrikam", "tenant/globex", "tenant/oscorp", "tenant/soylent", "tenant/litware"):
        text = json.dumps(stacks[address])
        assert not any(name in text for name in pool_names), address
        read = set(re.findall(r"data\.terraform_remote_state\.pool\.outputs\.([a-z_]+)", text))
        assert read and read <= outputs, (address, read - outputs)


NAMES = st.from_regex(NAME_PATTERN, fullmatch=True).filter(lambda n: len(n) <= 40)


@given(NAMES)
def test_derived_names_fit_azure_rules(name: str) -> None:
    storage = STORAGE_ACCOUNT.derive("st", "t", name, "0b1f")
    assert re.fullmatch(r"[a-z0-9]{3,24}", storage), storage
    vault = KEY_VAULT.derive("kv", "t", name, "0b1f")
    assert re.fullmatch(r"[a-z][a-z0-9-]{1,22}[a-z0-9]", vault) and "--" not in vault, vault
    for rule, limit in ((POSTGRES_SERVER, 63), (AKS_CLUSTER, 63), (RESOURCE_GROUP, 90)):
        derived = rule.derive("x", "paybill", "tenant", name)
        assert len(derived) <= limit and re.fullmatch(r"[a-z][a-z0-9-]*[a-z0-9]", derived)


def test_postgres_storage_rounds_up_to_an_offered_size() -> None:
    assert postgres_storage_mb(10) == 32768
    assert postgres_storage_mb(500) == 524288
    assert postgres_storage_mb(1000) == 1048576


def test_sizing_table_covers_every_abstract_size() -> None:
    assert set(SIZES) == set(ABSTRACT_SIZES)
    for size in SIZES.values():
        assert not size.postgres_ha_sku.startswith("B_"), "zone-redundant HA is not offered on Burstable"


def test_emission_is_deterministic(tmp_path: Path, stacks) -> None:
    again, _ = emit_repo(tmp_path, EXTRA)
    assert again == stacks
