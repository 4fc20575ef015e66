"""Every cloud name an emitter uses was claimed (and collision-checked) by resolve, and nothing more.

Resolve derives each stack's names from its cloud's claim plan (``CloudProfile.claims``); the Terraform
emitters read them by key. Asking for a key the plan did not claim raises, so an emitter cannot use a
name resolve did not predict; this test also proves the converse over the repository in ``specs/``
and the benchmark generator's repository (every shape of tenant: silo, pooled, bridge, migrating,
suspended, offboarding, on five clouds): every claimed name is used by the emitter, so
``paybill validate`` never reports a collision between names that are never built.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paybill.clouds import registry
from paybill.clouds.names import NameClaims, NameRule
from paybill.diagnostics import DiagnosticSink
from paybill.emit.contract import EmitContext
from paybill.emit.terraform.emitter import build_stacks
from paybill.resolve import resolve_model
from paybill.validate import validate_repository

ROOT = Path(__file__).resolve().parents[2]
GENERATE = ROOT / "benchmarks" / "generate.py"


@pytest.fixture(scope="module")
def generated_repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bench") / "repo"
    subprocess.run([sys.executable, str(GENERATE), "600", str(out)], check=True, capture_output=True)
    return out


Found = list[tuple[str, str, set[tuple[str, ...]], set[tuple[str, ...]]]]


def _predicted_and_used(root: Path, monkeypatch: pytest.MonkeyPatch) -> Found:
    """(provider, stack address, keys resolve claimed, keys the emitter read) of every built stack."""
    result = validate_repository(root)
    assert not [d for d in result.diagnostics if d.severity == "error"]
    model = resolve_model(result.index)
    used: dict[int, set[tuple[str, ...]]] = defaultdict(set)
    read = NameClaims.name

    def recording(self: NameClaims, rule: NameRule, *key: str) -> str:
        used[id(self)].add((rule.label, *key))
        return read(self, rule, *key)

    monkeypatch.setattr(NameClaims, "name", recording)
    sink = DiagnosticSink()
    build_stacks(EmitContext(result.index, sink, resolved=model))
    found: Found = []
    for unit in model.units:
        owner = model.pools[unit.owner.name] if unit.kind == "pool" else model.tenants[unit.owner.name]
        assert owner.names is not None, unit.address
        found.append((owner.cloud.provider, unit.address, set(owner.names.by_key), used[id(owner.names)]))
    return found


def _assert_exact(found: Found) -> None:
    assert {provider for provider, *_ in found} == set(registry.provider_ids())
    assert all(predicted for *_, predicted, _ in found)
    wrong = [(address, sorted(predicted - used), sorted(used - predicted))
             for _, address, predicted, used in found if predicted != used]
    assert not wrong, f"claimed but unused / used but unclaimed: {wrong[:5]}"


def test_the_emitters_use_exactly_the_claimed_names_in_specs(monkeypatch: pytest.MonkeyPatch) -> None:
    _assert_exact(_predicted_and_used(ROOT / "specs", monkeypatch))


def test_the_emitters_use_exactly_the_claimed_names_in_the_benchmark_repository(
    generated_repository: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = _predicted_and_used(generated_repository, monkeypatch)
    _assert_exact(found)
    assert len(found) > 500


def test_an_unclaimed_name_is_an_internal_error() -> None:
    claims = NameClaims()
    rule = NameRule("some-name", 63)
    claims.add(rule, ("pb", "acme"), purpose="thing")
    assert claims.name(rule) == "pb-acme"
    with pytest.raises(KeyError, match="was not claimed"):
        claims.name(rule, "other")


def _reference_derive(rule: NameRule, *parts: str) -> str:
    """The derivation as it was written before resolve derived every name: each part cleaned on its own."""
    disallowed = re.compile(f"[^{rule.alphabet}]")
    joined = rule.separator.join(disallowed.sub("", p.lower()) for p in parts if p)
    if rule.must_start_with_letter and (not joined or not joined[0].isalpha()):
        joined = "p" + joined
    if rule.min_len <= len(joined) <= rule.max_len:
        return joined
    digest = hashlib.sha256("/".join(parts).encode()).hexdigest()[:6]
    head = joined[:rule.max_len - 6 - len(rule.separator)].rstrip("-_.")
    return f"{head}{rule.separator}{digest}".ljust(rule.min_len, "0")


RULES = sorted({rule for profile in registry.profiles() for rule in profile.names}, key=lambda r: r.label)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(RULES), st.lists(st.text(alphabet="abcXYZ09-_./ é", max_size=30), max_size=5))
def test_deriving_from_the_joined_parts_equals_cleaning_each_part(rule: NameRule, parts: list[str]) -> None:
    """Names are cleaned once, joined (every rule's separator is inside its alphabet): same names as before."""
    assert rule.derive(*parts) == _reference_derive(rule, *parts)


def test_a_separator_outside_the_alphabet_is_refused() -> None:
    with pytest.raises(ValueError, match="outside its alphabet"):
        NameRule("bad", 20, alphabet="a-z0-9", separator="-")
