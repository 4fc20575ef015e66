"""A sixth cloud is one package: tests/clouds/fake_cloud/ compiles a tenant with no other file touched.

The fixture registers the package's profile through the registry (the only coupling); the specs,
validation, the Cloud model, PB0410, the capability checks, the emitter lookup, the name rules and
plan's replacement tables then all see the new cloud. The fake Terraform provider cannot run here:
the assertions are on the emitted configuration (the process boundary).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from paybill.clouds import registry
from paybill.compile.pipeline import compile_repository
from paybill.plan.replace_rules import data_store, forcing_arguments, placement_keys
from paybill.validate import validate_repository
from support.terraform_repo import SPECS, tenant_yaml

from . import fake_cloud

CLOUD = """\
apiVersion: paybill.dev/v1alpha1
kind: Cloud
metadata: {name: fake-prod}
spec:
  provider: fake
  fake:
    accountKey: fk-abc123
  regions: [fake-east-1]
  addressSpace: 10.0.0.0/8
  stateBackend: {type: gcs, bucket: fake-state, prefix: paybill}
"""


@pytest.fixture
def fake() -> Iterator[None]:
    registry.register(fake_cloud.PROFILE)
    try:
        yield
    finally:
        registry.unregister("fake")


def _repo(tmp_path: Path, cloud: str = CLOUD, **tenant: str) -> Path:
    specs = tmp_path / "specs"
    shutil.copytree(SPECS, specs)
    (specs / "clouds" / "fake-prod.yaml").write_text(cloud, encoding="utf-8")
    text = tenant_yaml("fakeco", plan="enterprise", model="silo", cloud="fake-prod", region="fake-east-1",
                       **tenant)
    (specs / "tenants" / "fakeco.yaml").write_text(text, encoding="utf-8")
    return specs


def test_without_registration_the_provider_is_unknown(tmp_path: Path) -> None:
    result = validate_repository(_repo(tmp_path))
    assert not result.ok
    assert any(d.path.endswith("fake-prod.yaml") for d in result.diagnostics)


def test_a_registered_sixth_cloud_compiles_a_tenant(fake: None, tmp_path: Path) -> None:
    result = compile_repository(_repo(tmp_path))
    assert result.ok, [d.to_dict() for d in result.diagnostics]
    stack = json.loads(result.tree["terraform/tenant/fakeco/main.tf.json"])
    assert stack["terraform"]["required_providers"] == {
        "fakecloud": {"source": "example/fakecloud", "version": "~> 1.0"}}
    assert stack["terraform"]["backend"] == {"gcs": {"bucket": "fake-state", "prefix": "paybill/tenant/fakeco"}}
    provider = stack["provider"]["fakecloud"]
    provider = provider[0] if isinstance(provider, list) else provider
    assert provider["account"] == "fk-abc123" and provider["region"] == "fake-east-1"
    database = stack["resource"]["fakecloud_database"]["main"]
    assert database == {"name": "pb-fakeco", "engine_version": "17"}
    assert stack["resource"]["fakecloud_network"]["main"]["cidr"].endswith("/20")
    stacks = {s["address"]: s for s in result.manifest["stacks"]}
    assert stacks["tenant/fakeco"]["provider"] == "fake"
    # plan reads the fake provider's tables from its profile
    assert data_store("fakecloud_database") and not data_store("fakecloud_network")
    assert forcing_arguments("fakecloud_network", {"cidr": "a"}, {"cidr": "b"}, ("cidr",)) == ("cidr",)
    assert placement_keys("fakecloud") == ("account", "region")


def test_the_sixth_clouds_block_is_checked_against_its_declared_pattern(fake: None, tmp_path: Path) -> None:
    result = validate_repository(_repo(tmp_path, cloud=CLOUD.replace("fk-abc123", "nope")))
    assert [(d.code, d.path.rsplit("/", 1)[-1], d.position.line, d.message, d.hint) for d in result.diagnostics] == [
        ("PB0205", "fake-prod.yaml", 7, "spec.fake.accountKey: string 'nope' does not match the required format",
         "expected pattern ^fk-[a-z0-9]{6}$")]


def test_the_sixth_clouds_capability_checks_run_at_validate(fake: None, tmp_path: Path) -> None:
    result = validate_repository(_repo(tmp_path, cidr="10.201.0.0/23"))
    assert [(d.code, d.path.rsplit("/", 1)[-1], d.message) for d in result.diagnostics] == [
        ("PB0650", "fakeco.yaml", "network 10.201.0.0/23 of Tenant/fakeco is too small for Fake Cloud: its "
                                  "databases need a /23 of their own")]


def test_backend_type_the_profile_does_not_host_is_pb0410(fake: None, tmp_path: Path) -> None:
    other = CLOUD.replace("type: gcs, bucket: fake-state, prefix: paybill",
                          "type: oci, bucket: b, namespace: n, region: fake-east-1")
    result = validate_repository(_repo(tmp_path, cloud=other))
    assert [(d.code, d.message, d.hint) for d in result.diagnostics] == [
        ("PB0410", "state backend 'oci' does not fit provider 'fake'", "use: gcs")]
