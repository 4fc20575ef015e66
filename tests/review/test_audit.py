"""``paybill audit``: one record per commit, trailers, semantic changes, a tenant's whole life."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from paybill.changes.trailers import parse_trailers

VANDELAY = "specs/tenants/vandelay.yaml"


def life_of_vandelay(repo) -> None:
    repo.edit(VANDELAY, "plan: free", "plan: starter")
    repo.commit("Upgrade Vandelay\n\nWhy: outgrew the free plan.\n\nPaybill-Agent: billing-agent\n"
                "Approved-by: Jane Ops <jane@example.com>", author=("billing-agent", "billing@example.com"))
    repo.edit(VANDELAY, "plan: starter", "plan: growth")
    repo.edit(VANDELAY, "    model: pooled\n", "    model: bridge\n    layers:\n      network: pooled\n"
              "      keys: pooled\n      identity: pooled\n      database: silo\n      storage: pooled\n"
              "      compute: pooled\n")
    repo.commit("Vandelay gets its own database", author=("Bob Builder", "bob@example.com"))
    repo.edit("specs/tenants/hooli.yaml", "displayName: Hooli", "displayName: Hooli Inc")
    repo.commit("Rename hooli")
    repo.edit(VANDELAY, "lifecycle: active", "lifecycle: suspended")
    repo.edit(VANDELAY, "status: active", "status: past_due")
    repo.commit("Suspend Vandelay for non-payment")
    repo.edit(VANDELAY, "lifecycle: suspended", "lifecycle: deleted")
    repo.edit(VANDELAY, "status: past_due", "status: cancelled")
    repo.commit("Delete Vandelay (skipping offboarding: a violation)")


def test_audit_tells_one_tenants_life(repo, run) -> None:
    life_of_vandelay(repo)
    code, out, _ = run(repo.root, "audit", "specs", "--tenant", "vandelay")
    assert code == 0
    lines = [line.split("  ", 2)[2] for line in out.splitlines()]
    assert lines == [
        "onboarded: plan free, pooled on aws-prod/us-east-1, pool aws-use1-shared, lifecycle active, billing active"
        "  (Alice Admin <alice@example.com>)",
        "plan changed: free -> starter  (billing-agent <billing@example.com> as agent billing-agent)",
        "plan changed: starter -> growth  (Bob Builder <bob@example.com>)",
        "isolation moved: pooled on aws-prod/us-east-1, pool aws-use1-shared -> bridge (silo: database) on "
        "aws-prod/us-east-1, pool aws-use1-shared  (Bob Builder <bob@example.com>)",
        "suspended: lifecycle active -> suspended  (Alice Admin <alice@example.com>)",
        "billing changed: active -> past_due  (Alice Admin <alice@example.com>)",
        "deleted: lifecycle suspended -> deleted  (Alice Admin <alice@example.com>)",
        "billing changed: past_due -> cancelled  (Alice Admin <alice@example.com>)",
        "VIOLATION [PB0910] lifecycle transition 'suspended' -> 'deleted' is not allowed",
    ]
    assert out.splitlines()[0].startswith("2026-01-02T00:00:00+00:00  ")


def test_audit_jsonl_records_and_filters(repo, run) -> None:
    life_of_vandelay(repo)
    code, out, _ = run(repo.root, "audit", "specs", "--format", "jsonl")
    assert code == 0
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["subject"] for r in records] == [
        "Initial specs", "Upgrade Vandelay", "Vandelay gets its own database", "Rename hooli",
        "Suspend Vandelay for non-payment", "Delete Vandelay (skipping offboarding: a violation)"]
    upgrade = records[1]
    assert upgrade["trailers"] == [{"key": "Paybill-Agent", "value": "billing-agent"},
                                   {"key": "Approved-by", "value": "Jane Ops <jane@example.com>"}]
    assert upgrade["author"] == {"name": "billing-agent", "email": "billing@example.com"}
    assert upgrade["committer"] == {"name": "Platform Bot", "email": "platform@example.com"}
    assert upgrade["changes"][0]["fields"][0] == {"path": "spec.plan", "op": "changed", "before": "free",
                                                  "after": "starter", "file": VANDELAY, "line": 9, "col": 9}
    assert len(records[0]["changes"]) == 16  # the scaffold: 15 specs and its BillingPolicy
    agent_only = run(repo.root, "audit", "specs", "--format", "jsonl", "--agent", "billing-agent")[1]
    assert [json.loads(x)["subject"] for x in agent_only.splitlines()] == ["Upgrade Vandelay"]
    bob = run(repo.root, "audit", "specs", "--format", "jsonl", "--author", "bob@")[1]
    assert [json.loads(x)["subject"] for x in bob.splitlines()] == ["Vandelay gets its own database"]
    plans = run(repo.root, "audit", "specs", "--format", "jsonl", "--kind", "Plan")[1]
    assert [json.loads(x)["subject"] for x in plans.splitlines()] == ["Initial specs"]
    since = run(repo.root, "audit", "specs", "--format", "jsonl", "--since", "2026-01-05")[1]
    assert next(json.loads(x)["subject"] for x in since.splitlines()) == "Suspend Vandelay for non-payment"


def test_trailers() -> None:
    assert parse_trailers("Subject\n\nBody text.\n\nPaybill-Agent: a\nApproved-by: B <b@x>\n") == [
        ("Paybill-Agent", "a"), ("Approved-by", "B <b@x>")]
    assert parse_trailers("Subject only\n") == []
    assert parse_trailers("Subject\n\nNot: a trailer block\nbecause this line is prose\n") == []
    assert parse_trailers("S\n\nSigned-off-by: x\n  continued\n") == [("Signed-off-by", "x continued")]


def test_audit_outside_history(tmp_path, run) -> None:
    from .conftest import SpecRepo

    fresh = SpecRepo(tmp_path / "fresh").seed()
    code, _, err = run(fresh.root, "audit", "specs")
    assert code == 2 and "no commits" in err


@pytest.mark.parametrize("closed", [">&-", "2>&-"])
def test_audit_with_a_standard_stream_closed(repo, closed: str) -> None:
    """``paybill audit >&-`` (a cron job keeping only the exit status) walks the history and exits 0, and an
    unknown ``--tenant`` exits 1 with standard error closed; both were internal errors (exit 70): the
    records and the diagnostic were written to a ``sys.stdout`` / ``sys.stderr`` that is None."""
    life_of_vandelay(repo)

    def audit(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["sh", "-c", f'exec "$0" "$@" {closed}', sys.executable, "-m", "paybill", "audit",
                               "specs", *args], cwd=repo.root, capture_output=True, text=True, check=False)

    whole, unknown = audit(), audit("--tenant", "vandelya")
    assert (whole.returncode, unknown.returncode) == (0, 1), (whole.stderr, unknown.stderr)
    if closed == "2>&-":
        assert "Delete Vandelay" in whole.stdout and unknown.stdout == ""
    else:
        assert whole.stderr == "" and "error[PB0" in unknown.stderr and "did you mean 'vandelay'" in unknown.stderr


@pytest.mark.parametrize("option", ["--since", "--until"])
@pytest.mark.parametrize("text", ["garbage", "", "HEAD", "all"])
def test_audit_refuses_a_date_git_cannot_read(repo, run, option: str, text: str) -> None:
    """``git log --since=garbage`` reads the text as "now": audit printed no commit and exited 0, an
    answer that looks like "nothing happened". Text git's careful date parser rejects is a usage error
    (``all`` is an expiry spelling of git config that ``git log`` also reads as "now")."""
    code, out, err = run(repo.root, "audit", "specs", option, text)
    assert (code, out) == (2, "")
    assert f"{option}: '{text}' is not a date git understands" in err and "2 weeks ago" in err


@pytest.mark.parametrize("text", ["2026-01-01", "2026-01-01 00:00:00", "2 weeks ago", "yesterday", "3.days.ago",
                                  "last monday", "@1767225600", "never", "now"])
def test_audit_accepts_the_dates_git_users_pass(repo, run, text: str) -> None:
    code, _, err = run(repo.root, "audit", "specs", "--format", "jsonl", "--since", text)
    assert code == 0, err
    code, _, err = run(repo.root, "audit", "specs", "--format", "jsonl", "--until", text)
    assert code == 0, err
