"""Spec-level data-store findings (PB0940): what a reviewer reads must be plain, correct English."""

from __future__ import annotations

import json

CRM = "specs/data/crm.yaml"


def findings(repo, run) -> list[str]:
    code, out, _ = run(repo.root, "plan", "specs", "--no-terraform", "--base", "HEAD", "--format", "json")
    assert code == 0, out
    return [f["message"] for f in json.loads(out)["findings"] if f["code"] == "PB0940"]


def test_a_dropped_column_is_it_and_dropped_columns_are_them(repo, run) -> None:
    repo.edit(CRM, "        - {name: phone, type: text, pii: true}\n", "")
    assert findings(repo, run) == ["table 'customers' loses column phone: the data in it is dropped"]
    repo.edit(CRM, "        - {name: email, type: text, pii: true}\n", "")
    assert findings(repo, run) == ["table 'customers' loses columns email, phone: the data in them is dropped"]


def test_a_region_move_reads_as_a_move_not_an_isolation_change(repo, run) -> None:
    tenant = "specs/tenants/acme-corp.yaml"
    repo.edit(tenant, "    region: us-east-1\n", "    region: us-west-2\n")
    code, out, _ = run(repo.root, "plan", "specs", "--no-terraform", "--base", "HEAD", "--format", "json")
    assert code == 0, out
    (message,) = [f["message"] for f in json.loads(out)["findings"] if f["code"] == "PB0920"]
    assert message.startswith("tenant 'acme-corp' moves from aws-prod/us-east-1 to aws-prod/us-west-2: ")
    assert "isolation" not in message


def test_a_deleted_pooled_tenant_says_its_rows_wait_for_db_erase(repo, run) -> None:
    """Pooled rows are deleted by `paybill db erase` (after retainUntil, from an export), never by the
    merge or the apply: the finding said they were "removed", so a reviewer thought it was done."""
    vandelay = "specs/tenants/vandelay.yaml"
    repo.edit(vandelay, "lifecycle: active", 'lifecycle: offboarding\n  lifecycleSince: "2026-11-02"')
    repo.edit(vandelay, "status: active", "status: cancelled")
    repo.commit("offboard vandelay")
    repo.edit(vandelay, "lifecycle: offboarding", "lifecycle: deleted")
    (message,) = [m for m in findings(repo, run) if m.startswith("tenant 'vandelay'")]
    assert "its rows in the pool's shared database stay until 'paybill db erase' deletes them" in message
    assert "database is removed" not in message and "shared database and" not in message
