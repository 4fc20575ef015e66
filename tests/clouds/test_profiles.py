"""The built-in cloud profiles: pins versioned with their tables, and every stage reading them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from paybill.clouds import registry
from paybill.clouds.checks import (
    ColocatedDatabaseAndCompute,
    MinimumNetwork,
    PoolFacts,
    PoolNeedsNetwork,
    TenantFacts,
)
from paybill.clouds.profile import CloudProfile, TerraformProvider
from paybill.emit.terraform.providers import CLOUD_EMITTERS
from paybill.models.cloud import Cloud, cloud_model
from paybill.providers import BUILTIN

ROOT = Path(__file__).resolve().parents[2]
GENERATED = ROOT / "generated" / "terraform"
PROVIDERS = sorted(registry.terraform_providers().values(), key=lambda tp: tp.name)


def test_builtin_profiles_in_their_order() -> None:
    assert registry.provider_ids()[:5] == ("aws", "azure", "gcp", "oci", "ibm")
    assert registry.profiles()[:5] == BUILTIN


@pytest.mark.parametrize("provider", PROVIDERS, ids=lambda tp: tp.name)
def test_pin_major_is_the_major_its_tables_were_checked_against(provider: TerraformProvider) -> None:
    """Moving a pin to another major without revisiting its ForceNew/data-store tables fails here:
    update the entries against the new major's documentation, then ``checked_major``."""
    assert provider.pinned_major == provider.checked_major, (
        f"{provider.source} is pinned to {provider.version} but its replacement tables were checked against "
        f"{provider.checked_major}.x")


def test_pin_major_change_is_detected() -> None:
    import dataclasses
    aws = registry.get("aws").terraform[0]
    moved = dataclasses.replace(aws, version="~> 7.0")
    assert moved.pinned_major != moved.checked_major
    with pytest.raises(ValueError):
        _ = dataclasses.replace(aws, version=">= 6").pinned_major


@pytest.mark.parametrize("provider", PROVIDERS, ids=lambda tp: tp.name)
def test_every_table_says_how_it_was_checked(provider: TerraformProvider) -> None:
    assert provider.checked, "say which sources the table was checked against for its major"
    assert provider.unverified <= set(provider.force_new)


@pytest.mark.parametrize("provider", PROVIDERS, ids=lambda tp: tp.name)
def test_tables_are_consistent(provider: TerraformProvider) -> None:
    prefix = {"azurerm": "azurerm_", "google": "google_"}.get(provider.name, provider.name + "_")
    assert all(t.startswith(prefix) for t in provider.force_new), "a provider's table holds its own types"
    assert provider.data_stores <= set(provider.force_new), "every data store has ForceNew rules"
    assert provider.scope.global_types <= set(provider.force_new)


def test_generated_stacks_pin_exactly_the_profiles_pins() -> None:
    pins = {tp.name: tp.required() for tp in PROVIDERS}
    seen: set[str] = set()
    for path in sorted(GENERATED.rglob("main.tf.json")):
        required = json.loads(path.read_text(encoding="utf-8"))["terraform"]["required_providers"]
        for name, pin in required.items():
            assert pins[name] == pin, (path, name)
            seen.add(name)
    assert seen == set(pins), "every declared provider is used by the example specs"


@pytest.mark.parametrize("profile", BUILTIN, ids=lambda p: p.provider)
def test_profile_emitter_loads_and_has_the_shape(profile: CloudProfile) -> None:
    emitter = CLOUD_EMITTERS[profile.provider]
    assert all(callable(getattr(emitter, method, None)) for method in ("configure", "emit_pool", "emit_tenant"))
    assert emitter.provider == profile.provider
    assert emitter is profile.load_emitter()


@pytest.mark.parametrize("profile", BUILTIN, ids=lambda p: p.provider)
def test_name_rules_are_unique_and_sane(profile: CloudProfile) -> None:
    labels = [rule.label for rule in profile.names]
    assert len(labels) == len(set(labels))
    for rule in profile.names:
        assert 1 <= rule.min_len <= rule.max_len
        name = rule.derive("pb", "a" * 80)
        assert rule.min_len <= len(name) <= rule.max_len
        assert re.fullmatch(f"[{rule.alphabet}]+", name), (rule.label, name)


def test_registry_refuses_a_second_profile_under_one_id() -> None:
    import dataclasses
    clone = dataclasses.replace(registry.get("aws"), title="Another AWS")
    with pytest.raises(ValueError, match="already registered"):
        registry.register(clone)
    registry.register(registry.get("aws"))  # the same object again: a no-op
    with pytest.raises(KeyError, match="registered: aws, azure"):
        registry.get("nope")


def test_cloud_model_follows_the_registry() -> None:
    import dataclasses
    before = registry.generation()
    assert cloud_model() is Cloud
    extra = dataclasses.replace(registry.get("gcp"), provider="gcp-two", terraform=())
    registry.register(extra)
    try:
        model = cloud_model()
        assert model is not Cloud and registry.generation() != before
        names = json.dumps(model.model_json_schema(by_alias=True))
        assert "GcpTwoCloudSpec" in names
    finally:
        registry.unregister("gcp-two")
    assert cloud_model() is not None


LAYERS = ("network", "keys", "identity", "database", "storage", "compute")


def _tenant(cidr: str | None = None, **placements: str) -> TenantFacts:
    return TenantFacts("Tenant/t", "t", {layer: placements.get(layer, "pooled") for layer in LAYERS}, cidr,
                       "10.0.0.0/8")


def test_capability_checks() -> None:
    colocated = ColocatedDatabaseAndCompute()
    assert colocated.tenant(_tenant(network="silo", database="silo")) is not None
    assert colocated.tenant(_tenant(network="silo", database="silo", compute="silo")) is None
    assert colocated.tenant(_tenant(database="silo")) is None  # pooled network: both in the pool's
    needs = PoolNeedsNetwork()
    assert needs.pool(PoolFacts("Pool/p", "p", ("keys", "database"), None, "10.0.0.0/8")) is not None
    assert needs.pool(PoolFacts("Pool/p", "p", ("network", "database"), None, "10.0.0.0/8")) is None
    assert needs.pool(PoolFacts("Pool/p", "p", ("keys", "storage"), None, "10.0.0.0/8")) is None
    small = MinimumNetwork(23, "X", "why")
    assert small.tenant(_tenant("10.1.0.0/24", network="silo")) is not None
    assert small.tenant(_tenant("10.1.0.0/23", network="silo")) is None
    assert small.tenant(_tenant("10.1.0.0/24")) is None, "pooled network: the tenant has none"
    assert small.tenant(_tenant(None, network="silo")) is None, "derived networks are /20s"
    assert small.tenant(_tenant("10.1.0.1/24", network="silo")) is None, "invalid CIDRs are PB0602's"
    assert small.tenant(_tenant("192.168.0.0/24", network="silo")) is None, "outside the space: PB0602's"
