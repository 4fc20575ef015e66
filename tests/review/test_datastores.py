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
