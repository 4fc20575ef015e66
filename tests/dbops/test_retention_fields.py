"""``spec.lifecycleSince`` and the retention it starts: what ``paybill db erase`` reads at HEAD."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from paybill.compile import compile_repository

ROOT = Path(__file__).resolve().parents[2]


def _entitlements(specs: Path, tenant: str) -> dict:
    result = compile_repository(specs)
    assert result.ok, [d.message for d in result.diagnostics]
    return json.loads(result.tree[f"tenants/{tenant}.json"])


def test_deleted_tenant_keeps_its_file_with_retain_until_from_its_plan() -> None:
    data = _entitlements(ROOT / "specs", "cyberdyne")  # deleted, plan starter, lifecycleSince 2026-11-02
    assert data["lifecycle"] == "deleted" and data["stacks"] == []
    assert data["lifecycleSince"] == "2026-11-02"
    assert data["retainUntil"] == "2026-11-09"  # starter: sizing.database.backupRetentionDays 7


def test_retention_only_for_leaving_tenants_that_say_since_when(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    shutil.copytree(ROOT / "specs", specs)
    hooli = specs / "tenants" / "hooli.yaml"
    since = "  lifecycle: active\n  lifecycleSince: 2026-01-01\n"
    hooli.write_text(hooli.read_text().replace("  lifecycle: active\n", since))
    data = _entitlements(specs, "hooli")
    assert "retainUntil" not in data and "lifecycleSince" not in data  # active: nothing to retain
    tyrell = _entitlements(specs, "tyrell")  # offboarding, growth (14 days)
    assert (tyrell["lifecycleSince"], tyrell["retainUntil"]) == ("2026-11-20", "2026-12-04")


def test_an_impossible_day_is_a_schema_error(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    shutil.copytree(ROOT / "specs", specs)
    tyrell = specs / "tenants" / "tyrell.yaml"
    tyrell.write_text(tyrell.read_text().replace("lifecycleSince: 2026-11-20", "lifecycleSince: 2026-02-30"))
    result = compile_repository(specs)
    assert not result.ok
    assert any("lifecycleSince" in d.message for d in result.diagnostics), [d.message for d in result.diagnostics]
