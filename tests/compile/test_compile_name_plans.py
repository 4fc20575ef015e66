"""Stack name plans reused from the unit store (paybill.resolve.name_memo), keyed by their owner's value.

A plan is reused only while every field of its owner (and its cloud's profile) is equal: each test
compares the resolved names and quota usage with a resolve that uses no store.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

import paybill.resolve.name_memo as name_memo
from paybill.clouds import registry
from paybill.clouds.names import NameOwner, OfferedLayers
from paybill.diagnostics import DiagnosticSink
from paybill.load import load_repository
from paybill.resolve import resolve_model
from paybill.resolve.layers import LayerPlan
from paybill.store import UNITS_FOLDER, UnitStore, key
from paybill.validate import validate_documents


def _resolve(specs: Path, cache: Path | None):
    sink = DiagnosticSink()
    index = validate_documents(load_repository(specs, sink).documents, sink)
    return resolve_model(index, UnitStore(cache / UNITS_FOLDER) if cache is not None else None)


def _plans(model) -> dict[str, tuple]:
    """Every stack's claimed names (rule object, key, name, purpose) and quota usage."""
    found = {}
    for pool in model.pools.values():
        found[f"pool/{pool.name}"] = (list(pool.names or ()), pool.usage)
    for tenant in model.tenants.values():
        found[f"tenant/{tenant.name}"] = (list(tenant.names or ()), tenant.usage)
    return found


def _count_plans(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    computed: list[str] = []
    real = name_memo.stack_plan

    def spy(owner, cloud):
        computed.append(f"{owner.kind}/{owner.name}")
        return real(owner, cloud)

    monkeypatch.setattr(name_memo, "stack_plan", spy)
    return computed


def _edit(path: Path, pattern: str, replacement: str) -> None:
    text = path.read_text()
    edited = re.sub(pattern, replacement, text, count=1)
    assert edited != text, f"{pattern} not found in {path.name}"
    path.write_text(edited)


def test_plans_are_computed_again_exactly_when_their_owner_changes(spec_copy, tmp_path: Path, monkeypatch) -> None:
    specs = spec_copy({})
    cache = tmp_path / "cache"
    computed = _count_plans(monkeypatch)
    first = _resolve(specs, cache)
    every = sorted(computed)
    assert len(every) == len(set(every)) > 10
    assert _plans(first) == _plans(_resolve(specs, None))

    def step(edit, expected: set[str]) -> None:
        edit()
        computed.clear()
        cached = _resolve(specs, cache)
        assert set(computed) == expected
        assert _plans(cached) == _plans(_resolve(specs, None))  # the same names, rule objects and usage

    tenants = specs / "tenants"
    # edits that leave every owner equal: nothing is computed again
    step(lambda: _edit(tenants / "globex.yaml", r"labels: \{", "labels: {edited: x, "), set())
    step(lambda: _edit(tenants / "globex.yaml", r"\n  plan: \w+", "\n  plan: growth"), set())
    step(lambda: _edit(tenants / "globex.yaml", r"status: active", "status: past_due"), set())
    step(lambda: _edit(specs / "plans" / "growth.yaml", r"trialDays: \d+", "trialDays: 30"), set())
    # a field of the owner: that stack only
    step(lambda: _edit(tenants / "globex.yaml", r"lifecycle: active", "lifecycle: suspended"), {"tenant/globex"})
    step(lambda: _edit(tenants / "globex.yaml", r"keys: silo", "keys: pooled"), {"tenant/globex"})
    step(lambda: _edit(tenants / "acme-corp.yaml", r"region: us-east-1", "region: us-west-2"), {"tenant/acme-corp"})
    # the cloud's account fields: every stack on that cloud
    on_aws = {unit for unit in every if _cloud_of(first, unit) == "aws-prod"}
    assert len(on_aws) > 2
    step(lambda: _edit(specs / "clouds" / "aws-prod.yaml", r'accountId: "\d+"', 'accountId: "210987654321"'),
         on_aws)
    # a pool's layers: the pool and the tenants placed in it (what their pool offers)
    pool = first.pools["aws-use1-shared"]
    in_pool = {f"tenant/{t.name}" for t in first.tenants.values() if t.pool is pool and t.names is not None}
    step(lambda: _edit(specs / "pools" / "aws-use1-shared.yaml", r", compute\]", "]"),
         {"pool/aws-use1-shared"} | in_pool)


def _cloud_of(model, unit: str) -> str:
    kind, _, name = unit.partition("/")
    return (model.pools[name] if kind == "pool" else model.tenants[name]).cloud.name


def test_the_key_covers_every_field_of_the_owner_and_the_profile() -> None:
    """Keyed too loosely, a changed field would reuse another owner's names."""
    plan = LayerPlan({"network": "pooled", "keys": "silo"}, {}, {"network": "pooled", "keys": "silo"})
    owner = NameOwner("tenant", "acme", "us-east-1", {"account_id": "1"}, plan, "active", frozenset({"network"}))
    variants = [
        dataclasses.replace(owner, kind="pool"),
        dataclasses.replace(owner, name="acme2"),
        dataclasses.replace(owner, region="us-west-2"),
        dataclasses.replace(owner, account={"account_id": "2"}),
        dataclasses.replace(owner, account={"account_id": "1", "other": "x"}),
        dataclasses.replace(owner, layers=LayerPlan({"network": "silo", "keys": "silo"}, {},
                                                    {"network": "pooled", "keys": "silo"})),
        dataclasses.replace(owner, layers=LayerPlan({"network": "pooled", "keys": "silo"}, {"keys": "pooled"},
                                                    {"network": "pooled", "keys": "silo"})),
        dataclasses.replace(owner, layers=LayerPlan({"network": "pooled", "keys": "silo"}, {},
                                                    {"network": "pooled", "keys": "pooled"})),
        dataclasses.replace(owner, layers=OfferedLayers(frozenset({"network", "keys"}))),
        dataclasses.replace(owner, lifecycle="suspended"),
        dataclasses.replace(owner, pool_offers=frozenset({"network", "keys"})),
    ]
    keys = [name_memo.owner_key(o, "profile") for o in [owner, *variants]]
    assert None not in keys and len(set(keys)) == len(keys)
    assert name_memo.owner_key(owner, "another profile") != keys[0]
    # the memo of shared parts is by identity: an equal new object gives the same key, another value another
    parts: dict[int, tuple[object, str]] = {}
    assert name_memo.owner_key(owner, "profile", parts) == keys[0]
    assert [name_memo.owner_key(o, "profile", parts) for o in variants] == keys[1:]
    aws = registry.get("aws")
    assert aws is not None
    identity = name_memo.profile_identity(aws)
    assert identity is not None
    shorter = dataclasses.replace(aws, names=tuple(dataclasses.replace(rule, max_len=rule.max_len - 1)
                                                   for rule in aws.names))
    assert name_memo.profile_identity(shorter) not in (None, identity)
    assert name_memo.profile_identity(dataclasses.replace(aws, claims=lambda owner, claims: None)) is None


@pytest.mark.parametrize("damage", ["flip", "truncate", "other-key", "unknown-rule", "bad-shape"])
def test_a_damaged_or_foreign_entry_is_not_trusted(spec_copy, tmp_path: Path, monkeypatch, damage: str) -> None:
    specs = spec_copy({})
    cache = tmp_path / "cache"
    _resolve(specs, cache)
    entry = cache / UNITS_FOLDER / key("index", name_memo.NAMESPACE)
    units = UnitStore(cache / UNITS_FOLDER)
    index = units.load_index(name_memo.NAMESPACE)
    assert index
    if damage == "flip":
        blob = bytearray(entry.read_bytes())
        blob[-5] ^= 0xFF
        entry.write_bytes(bytes(blob))
    elif damage == "truncate":
        entry.write_bytes(entry.read_bytes()[:-10])
    elif damage == "other-key":  # plans stored for other owners
        units.save_index(name_memo.NAMESPACE, {unit: ("0" * 64, value) for unit, (_, value) in index.items()})
    elif damage == "unknown-rule":
        units.save_index(name_memo.NAMESPACE, {
            unit: (stored, (tuple(("no-such-rule", *row[1:]) for row in value[0]) if value[0] else value[0],
                            value[1]))
            for unit, (stored, value) in index.items()})
    else:
        units.save_index(name_memo.NAMESPACE, {unit: (stored, ("x",)) for unit, (stored, _) in index.items()})
    computed = _count_plans(monkeypatch)
    cached = _resolve(specs, cache)
    named = {unit for unit, (_, value) in index.items() if value[0]}
    assert set(computed) >= named and len(named) > 10  # read as absent: computed again
    assert _plans(cached) == _plans(_resolve(specs, None))
