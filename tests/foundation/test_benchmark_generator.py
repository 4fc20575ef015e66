"""``benchmarks/generate.py`` writes a valid, varied and deterministic synthetic repository."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections import Counter
from functools import cache
from pathlib import Path

import pytest

from paybill.models.base import LAYERS
from paybill.validate import validate_repository
from paybill.validate.index import SpecIndex

from .support import ROOT

GENERATE = ROOT / "benchmarks" / "generate.py"
TENANTS = 300


def generate(n: int, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(GENERATE), str(n), str(out)], capture_output=True, text=True,
                          timeout=120, check=False)


def digest_tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synthetic") / "specs"
    result = generate(TENANTS, out)
    assert result.returncode == 0, result.stderr
    return out


@cache
def _index(root: Path) -> SpecIndex:
    result = validate_repository(root)
    assert result.diagnostics == []
    return result.index


def test_generated_repository_validates_cleanly(synthetic: Path) -> None:
    index = _index(synthetic)
    assert len(list(index.of_kind("Tenant"))) == TENANTS
    assert len(list((synthetic / "tenants").glob("*.yaml"))) == TENANTS, "one file per tenant"


def test_generated_repository_covers_the_spec_language(synthetic: Path) -> None:
    index = _index(synthetic)
    tenants = [d.model for d in index.of_kind("Tenant")]
    providers = {index.model("Cloud", t.spec.placement.cloud).spec.provider for t in tenants}
    assert providers == {"aws", "azure", "gcp", "oci", "ibm"}
    assert {t.spec.plan for t in tenants} == {"free", "starter", "growth", "enterprise"}
    assert {t.spec.isolation.model for t in tenants} == {"silo", "pooled", "bridge"}
    assert {t.spec.lifecycle for t in tenants} == {"onboarding", "active", "suspended", "offboarding", "deleted"}
    assert {t.spec.billing.status for t in tenants} == {"trialing", "active", "past_due", "cancelled"}
    assert any(t.spec.data_residency for t in tenants)
    mixed = [t for t in tenants if t.spec.isolation.model == "bridge"
             and len({t.layer_placement(layer) for layer in LAYERS}) == 2]
    assert mixed, "bridge tenants mix silo and pooled layers"
    assert {d.kind for d in index.all_documents()} == {"Plan", "Cloud", "Pool", "Tenant", "DataModel", "Agent",
                                                       "Workflow"}


def test_every_cloud_account_holds_at_most_one_dedicated_network(synthetic: Path) -> None:
    """Silo-network tenants and pools get networks derived inside their cloud; none may share one."""
    index = _index(synthetic)
    networks: Counter[str] = Counter()
    for document in index.of_kind("Pool"):
        networks[document.model.spec.cloud] += 1
    for document in index.of_kind("Tenant"):
        if document.model.layer_placement("network") == "silo":
            networks[document.model.spec.placement.cloud] += 1
    assert networks and max(networks.values()) == 1


def test_generation_is_deterministic_and_stable_per_tenant(tmp_path: Path, synthetic: Path) -> None:
    again = tmp_path / "again"
    assert generate(TENANTS, again).returncode == 0
    assert digest_tree(again) == digest_tree(synthetic)
    smaller = tmp_path / "smaller"
    assert generate(100, smaller).returncode == 0
    small, large = digest_tree(smaller), digest_tree(synthetic)
    tenants = [name for name in small if name.startswith("tenants/")]
    assert len(tenants) == 100
    assert all(small[name] == large[name] for name in tenants), "tenant i does not depend on N"


def test_refuses_to_overwrite_a_folder_it_did_not_create(tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "important.txt").write_text("keep me\n", encoding="utf-8")
    result = generate(5, out)
    assert result.returncode != 0
    assert (out / "important.txt").read_text(encoding="utf-8") == "keep me\n"


def test_regenerates_its_own_folder(tmp_path: Path) -> None:
    out = tmp_path / "bench"
    assert generate(20, out).returncode == 0
    assert generate(10, out).returncode == 0
    assert len(list((out / "tenants").glob("*.yaml"))) == 10


def test_usage_error(tmp_path: Path) -> None:
    result = generate(0, tmp_path / "x")
    assert result.returncode == 2 and "usage" in result.stderr
