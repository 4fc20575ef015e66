"""The resolved model links each tenant to its objects once, and agrees with the stack layout."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from paybill.diagnostics import DiagnosticSink
from paybill.graph.stacks import removed_stacks, stack_units
from paybill.resolve import ResolvedModel, resolve_index
from paybill.validate import validate_repository

SPECS = Path(__file__).resolve().parents[2] / "specs"


@pytest.fixture(scope="module")
def model() -> ResolvedModel:
    result = validate_repository(SPECS)
    assert result.ok
    sink = DiagnosticSink()
    resolved = resolve_index(result.index, sink)
    assert not len(sink)
    return resolved


def test_tenants_hold_the_objects_they_reference(model: ResolvedModel) -> None:
    assert model.tenants
    for tenant in model.tenants.values():
        spec = tenant.tenant.spec
        assert tenant.cloud is model.clouds[spec.placement.cloud]
        assert tenant.plan is model.plans[spec.plan]
        assert tenant.pool is (model.pools[spec.placement.pool] if spec.placement.pool else None)
        assert tenant.layers.placements == tenant.tenant.placements
        assert tenant.cloud.provider == tenant.cloud.document.model.spec.provider


def test_the_layout_is_the_one_the_graph_uses(model: ResolvedModel) -> None:
    assert list(model.units) == stack_units(model.index)
    assert list(model.removed) == removed_stacks(model.index)
    live = [t for t in model.tenants.values() if t.live]
    assert [t.unit for t in live] == [u for u in model.units if u.kind == "tenant"]


def test_networks_go_to_pools_and_silo_network_tenants_only(model: ResolvedModel) -> None:
    for pool in model.pools.values():
        assert pool.network is not None
        assert pool.network == model.allocation.networks[pool.document.ref]
    for tenant in model.tenants.values():
        wants = tenant.live and tenant.layers.silo("network")
        assert (tenant.network is not None) == wants, tenant.name


def test_pools_list_their_live_tenants(model: ResolvedModel) -> None:
    for pool in model.pools.values():
        expected = sorted(t.name for t in model.tenants.values() if t.live and t.pool is pool)
        assert list(pool.tenants) == expected


def test_the_model_is_frozen(model: ResolvedModel) -> None:
    tenant = next(iter(model.tenants.values()))
    with pytest.raises(dataclasses.FrozenInstanceError):
        tenant.network = "10.0.0.0/16"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        model.units = ()  # type: ignore[misc]
