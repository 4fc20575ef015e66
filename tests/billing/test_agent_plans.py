"""A Stripe plan change meets the agents acting for the tenant (PB0450/PB0451), through the real CLI.

The customer has already changed plan in Stripe, so the platform owes the change. When the tenant's
agents block it, ``paybill billing sync`` reports PB1021 (naming the agents and what a person must
do), exits 1 and keeps the events until that person's change is merged; the next pass then proposes
it. Upgrades to a plan that allows the agents are still proposed for automatic merge.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from .conftest import CUSTOMERS, T0, invoice, subscription

HOOLI = CUSTOMERS["hooli"]

SUPPORT_BOT = """\
apiVersion: paybill.dev/v1alpha1
kind: Agent
metadata:
  name: support-bot
spec:
  description: Answers the tenants' own support questions.
  owner:
    team: support
    email: support-leads@paybill.example.com
  tenantScope:
    tenants: [hooli]
  permissions:
    tables:
      - table: tickets
        read: [id, subject]
  limits:
    maxSteps: 10
    maxRowsRead: 100
    maxRowsWritten: 0
    maxWallTimeSeconds: 60
    maxCallsPerMinute: 30
    budgetUnits: 100
  workflows: [answer-ticket]
"""

ANSWER_TICKET = """\
apiVersion: paybill.dev/v1alpha1
kind: Workflow
metadata:
  name: answer-ticket
spec:
  description: Read a ticket, then stop.
  start: fetch-ticket
  terminal: [done]
  steps:
    - id: fetch-ticket
      action: read
      resource: tickets
      next: [done]
      maxVisits: 1
    - id: done
      action: none
"""


def hooli_on_growth_with_the_support_assistant(repo) -> None:
    """hooli pays for growth (ai-agents, 5 agents) and the support assistant acts for it (its label)."""
    repo.edit("specs/tenants/hooli.yaml", "labels: {segment: smb}", "labels: {segment: smb, support-tier: premium}")
    repo.edit("specs/tenants/hooli.yaml", "plan: starter", "plan: growth")
    repo.edit("specs/tenants/hooli.yaml", "status: trialing", "status: active")
    repo.commit("hooli on growth, with the support assistant")


def sync(repo, tmp_path: Path, events: list[dict], now: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / f"events-{now}.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    return subprocess.run([sys.executable, "-m", "paybill", "billing", "sync", str(path), "--base", "main",
                           "--state", str(tmp_path / "state.json"), "--pr-dir", str(tmp_path / "prs"),
                           "--now", now], cwd=repo.root, capture_output=True, text=True, timeout=300, check=False)


def branches(repo) -> list[str]:
    return repo.git("branch", "--list", "paybill/*", "--format=%(refname:short)").split()


def test_a_downgrade_the_agents_block_is_reported_kept_and_proposed_once_they_are_out(brepo, tmp_path) -> None:
    hooli_on_growth_with_the_support_assistant(brepo)
    down = subscription("evt_down", "customer.subscription.updated", T0, HOOLI, price="price_starter_monthly")
    first = sync(brepo, tmp_path, [down], "2026-01-12T00:00:00Z")
    assert first.returncode == 1, first.stdout + first.stderr
    assert "error[PB0451]: plan 'starter' has no 'ai-agents' feature, but agent support-assistant" in first.stdout
    assert ("<stripe>:1:1: error[PB1021]: Stripe bills tenant 'hooli' on plan 'starter' (event evt_down "
            "(customer.subscription.updated)), but plan 'starter' does not allow the agents acting for it "
            "(support-assistant); the tenant stays on plan 'growth' in git") in first.stdout, first.stdout
    assert "  hint: a person takes 'hooli' out of the scope of support-assistant" in first.stdout
    assert "PB1018" not in first.stdout, "not a policy refusal: the customer already pays for starter"
    assert "1 kept for a re-run" in first.stderr and "Traceback" not in first.stderr
    assert branches(brepo) == []
    again = sync(brepo, tmp_path, [], "2026-01-13T00:00:00Z")            # not lost, not silent: every pass
    assert again.returncode == 1 and "error[PB1021]" in again.stdout and "1 kept for a re-run" in again.stderr
    # the person's fix: hooli leaves the support assistant's scope
    brepo.edit("specs/tenants/hooli.yaml", "labels: {segment: smb, support-tier: premium}", "labels: {segment: smb}")
    brepo.commit("hooli leaves the support assistant")
    fixed = sync(brepo, tmp_path, [], "2026-01-14T00:00:00Z")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert branches(brepo) == ["paybill/billing-agent/billing-hooli-downgrade"]
    assert "(downgrade; review: human; events: evt_down)" in fixed.stderr
    body = (tmp_path / "prs" / "paybill__billing-agent__billing-hooli-downgrade.md").read_text(encoding="utf-8")
    assert "| `spec.plan` | `growth` | `starter` |" in body and "**needs a human review**" in body


def test_a_quota_downgrade_is_pb1021_and_an_upgrade_that_allows_the_agents_merges_automatically(brepo,
                                                                                                 tmp_path) -> None:
    # starter sells ai-agents with a quota of 1; hooli on growth has two agents (label and list)
    brepo.edit("specs/plans/starter.yaml", "features: [core, api-access]", "features: [core, api-access, ai-agents]")
    brepo.write("specs/agents/support-bot.yaml", SUPPORT_BOT)
    brepo.write("specs/workflows/answer-ticket.yaml", ANSWER_TICKET)
    hooli_on_growth_with_the_support_assistant(brepo)
    down = subscription("evt_down", "customer.subscription.updated", T0, HOOLI, price="price_starter_monthly")
    refused = sync(brepo, tmp_path, [down], "2026-01-12T00:00:00Z")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "error[PB0450]: plan 'starter' allows 1 agent, but 2 act for tenant 'hooli'" in refused.stdout
    assert "the agents acting for it (support-assistant, support-bot)" in refused.stdout, refused.stdout
    # a person takes hooli out of support-bot's scope: one agent, the downgrade is proposed
    brepo.edit("specs/agents/support-bot.yaml", "tenants: [hooli]", "tenants: [acme-corp]")
    brepo.commit("support-bot serves acme-corp only")
    down_ok = sync(brepo, tmp_path, [], "2026-01-13T00:00:00Z")
    assert down_ok.returncode == 0, down_ok.stdout + down_ok.stderr
    brepo.git("merge", "--quiet", "--ff-only", "paybill/billing-agent/billing-hooli-downgrade")
    # the customer comes back to growth (5 agents): an upgrade the BillingPolicy merges without a human
    up = subscription("evt_up", "customer.subscription.updated", T0 + 86_400 * 3, HOOLI, price="price_growth_monthly")
    upgraded = sync(brepo, tmp_path, [up], "2026-01-15T00:00:00Z")
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    assert "billing-hooli-upgrade for tenant 'hooli' (upgrade; review: auto; events: evt_up)" in upgraded.stderr


def test_a_blocked_downgrade_does_not_stop_dunning(brepo, tmp_path) -> None:
    # the downgrade waits for a person; the payment failure and the suspension 14 days later must not
    hooli_on_growth_with_the_support_assistant(brepo)
    down = subscription("evt_down", "customer.subscription.updated", T0, HOOLI, price="price_starter_monthly")
    failed = invoice("evt_fail", "invoice.payment_failed", T0 + 60, HOOLI)
    first = sync(brepo, tmp_path, [down, failed], "2026-01-12T00:00:00Z")
    assert first.returncode == 1, first.stdout + first.stderr
    assert ("the tenant stays on plan 'growth' in git and its other changes (billing.status -> past_due) are "
            "proposed without it") in first.stdout, first.stdout
    assert "billing-hooli-billing-status for tenant 'hooli' (billing-status; review: auto" in first.stderr
    assert branches(brepo) == ["paybill/billing-agent/billing-hooli-billing-status"]
    past_due = (tmp_path / "prs" / "paybill__billing-agent__billing-hooli-billing-status.md").read_text("utf-8")
    assert "Not in this change: plan `starter`, which Stripe bills, is held back" in past_due, past_due
    next_day = sync(brepo, tmp_path, [], "2026-01-13T00:00:00Z")       # still reported, nothing proposed twice
    assert next_day.returncode == 1 and "error[PB1021]" in next_day.stdout, next_day.stdout
    assert "on plan 'starter' (since event evt_down)" in next_day.stdout
    assert len(branches(brepo)) == 1
    overdue = sync(brepo, tmp_path, [], "2026-01-26T00:00:00Z")         # 14 days past due: suspended anyway
    assert overdue.returncode == 1 and "error[PB1021]" in overdue.stdout
    suspend = "paybill/billing-agent/billing-hooli-billing-status-suspend"
    assert f"{suspend} for tenant 'hooli' (billing-status, suspend; review: auto" in overdue.stderr, overdue.stderr
    assert "spec.plan" not in brepo.git("diff", "main", suspend, "--", "specs")
    brepo.git("merge", "--quiet", "--ff-only", suspend)
    brepo.edit("specs/tenants/hooli.yaml", "labels: {segment: smb, support-tier: premium}", "labels: {segment: smb}")
    brepo.commit("hooli leaves the support assistant")
    fixed = sync(brepo, tmp_path, [], "2026-01-27T00:00:00Z")           # the saved price: the downgrade at last
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "billing-hooli-downgrade for tenant 'hooli' (downgrade; review: human; events: evt_down)" in fixed.stderr, \
        fixed.stderr
    body = (tmp_path / "prs" / "paybill__billing-agent__billing-hooli-downgrade.md").read_text(encoding="utf-8")
    assert "- plan: the subscription's price `price_starter_monthly` (plan `starter`) since event evt_down" in body
