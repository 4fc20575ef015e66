"""``paybill plan --format markdown`` for each kind of change, on real commits, as snapshots.

Snapshots are readable ``.md`` files under ``__snapshots__/``: the pull-request comment exactly as
GitHub renders it. Terraform is left out here (``--no-terraform``) so these snapshots follow the
plan engine only; Terraform comparison has its own tests.
"""

from __future__ import annotations

import json

import pytest

from .scenarios import DUNNING, SCENARIOS


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_markdown_plan_per_kind_of_change(name, repo, run, md_snapshot) -> None:
    expected = SCENARIOS[name](repo)
    repo.commit(f"scenario: {name}")
    code, out, _ = run(repo.root, "plan", "specs", "--base", "HEAD~1", "--head", "HEAD", "--no-terraform",
                       "--format", "markdown")
    assert out.startswith("<!-- paybill-plan -->\n")
    assert out == md_snapshot
    _, report, _ = run(repo.root, "plan", "specs", "--base", "HEAD~1", "--head", "HEAD", "--no-terraform",
                       "--format", "json")
    found = {f["code"] for f in json.loads(report)["findings"]}
    assert expected <= found, f"missing findings {expected - found}"
    blocking = any(f["severity"] == "error" for f in json.loads(report)["findings"])
    assert code == (1 if blocking else 0)


def test_removed_approval_step_is_permission_widening(repo, run, md_snapshot) -> None:
    repo.edit(DUNNING, "      resource: invoices\n      next: [propose-plan-change, done]",
              "      resource: invoices\n      requiresApproval: true\n      next: [propose-plan-change, done]")
    repo.commit("dunning: approve before marking invoices overdue")
    repo.edit(DUNNING, "      requiresApproval: true\n", "")
    repo.commit("dunning: no approval")
    code, out, _ = run(repo.root, "plan", "specs", "--base", "HEAD~1", "--head", "HEAD", "--no-terraform",
                       "--format", "markdown")
    assert code == 0
    assert "workflow dunning: approval step 'mark-overdue' no longer requires approval" in out
    assert out == md_snapshot


def test_markdown_is_deterministic_and_positions_point_at_head(repo, run) -> None:
    SCENARIOS["isolation_migration"](repo)
    repo.commit("bridge acme")
    args = ("plan", "specs", "--base", "HEAD~1", "--head", "HEAD", "--no-terraform", "--format", "json")
    first, second = run(repo.root, *args)[1], run(repo.root, *args)[1]
    assert first == second
    report = json.loads(first)
    fields = {f["path"]: f for c in report["changes"] for f in c["fields"]}
    head_lines = repo.read("specs/tenants/acme-corp.yaml").splitlines()
    pool = fields["spec.placement.pool"]
    assert pool["file"] == "specs/tenants/acme-corp.yaml"
    assert head_lines[pool["line"] - 1].strip() == "pool: aws-use1-shared"
    model = fields["spec.isolation.model"]
    assert head_lines[model["line"] - 1].strip() == "model: bridge"
