"""A tenant's plan downgrade is held to the agents acting for it (PB0450 quota, PB0451 feature).

Driven as a user would: a real git repository seeded with the scaffold's example specs, the tenant
first moved up to a plan with AI agents and given to the selector-scoped support assistant, then
moved down; ``paybill plan`` (what CI runs on the pull request) and ``paybill validate`` must block
the downgrade at the tenant's ``spec.plan``. The scaffold's billing agent (``tenantScope: {all:
true}``) acts for every tenant, the free ones included, and must never count.
"""

from __future__ import annotations

import json

from .conftest import SpecRepo

HOOLI = "specs/tenants/hooli.yaml"


def _premium_growth(repo: SpecRepo, run) -> None:
    """hooli on growth (ai-agents, 5 agents) with the label the support assistant selects."""
    repo.edit(HOOLI, "labels: {segment: smb}", "labels: {segment: smb, support-tier: premium}")
    repo.edit(HOOLI, "plan: starter", "plan: growth")
    code, out, err = run(repo.root, "validate", "specs")
    assert code == 0, out + err
    repo.commit("hooli: growth, premium support")


def _plan_line(repo: SpecRepo) -> int:
    return next(i for i, line in enumerate(repo.read(HOOLI).splitlines(), 1) if line.startswith("  plan: "))


def test_downgrade_to_a_plan_without_ai_agents_is_blocked(repo: SpecRepo, run) -> None:
    _premium_growth(repo, run)
    repo.edit(HOOLI, "plan: growth", "plan: starter")
    code, out, _ = run(repo.root, "plan", "specs", "--no-terraform", "--base", "HEAD", "--format", "json")
    assert code == 1, out
    report = json.loads(out)
    assert not report["ok"] and not [f for f in report["findings"] if f["severity"] == "error"]
    assert [(d["code"], d["path"], d["line"], d["col"], d["message"]) for d in report["diagnostics"]] == [
        ("PB0451", HOOLI, _plan_line(repo), 9,
         "plan 'starter' has no 'ai-agents' feature, but agent support-assistant acts for tenant 'hooli'")]
    code, out, _ = run(repo.root, "validate", "specs")
    assert code == 1
    assert f"specs/tenants/hooli.yaml:{_plan_line(repo)}:9: error[PB0451]" in out
    assert "hint: keep the tenant on a plan with 'ai-agents' (growth, enterprise), or take the tenant out of " \
           "the scope of support-assistant" in out
    # Taking hooli out of the assistant's selector in the same commit makes the downgrade clean.
    repo.edit(HOOLI, "labels: {segment: smb, support-tier: premium}", "labels: {segment: smb}")
    code, out, _ = run(repo.root, "plan", "specs", "--no-terraform", "--base", "HEAD")
    assert code == 0, out


def test_downgrade_to_a_plan_with_fewer_agents_is_blocked(repo: SpecRepo, run) -> None:
    growth = repo.read("specs/plans/growth.yaml")
    team = (growth.replace("name: growth", "name: team").replace("tier: 2", "tier: 4")
            .replace("agents: 5", "agents: 0").replace("price_growth_", "price_team_"))
    repo.write("specs/plans/team.yaml", team)
    _premium_growth(repo, run)
    repo.edit(HOOLI, "plan: growth", "plan: team")
    code, out, _ = run(repo.root, "plan", "specs", "--no-terraform", "--base", "HEAD")
    assert code == 1, out
    assert "plan 'team' allows 0 agents, but 1 acts for tenant 'hooli': support-assistant" in out
    assert "keep the tenant on a plan that allows 1 agent (growth, enterprise)" in out


def test_platform_agents_scoped_to_all_tenants_do_not_count(repo: SpecRepo, run) -> None:
    """vandelay is on free (no ai-agents, 0 agents) and the billing agent acts for it: no error. Naming
    vandelay explicitly instead makes the same agent one of vandelay's agents, and it is refused."""
    code, out, err = run(repo.root, "validate", "specs")
    assert code == 0, out + err
    assert "tenants: [" not in repo.read("specs/agents/billing-agent.yaml")
    assert "plan: free" in repo.read("specs/tenants/vandelay.yaml")
    repo.edit("specs/agents/billing-agent.yaml", "    all: true", "    tenants: [acme-corp, hooli, nakatomi, vandelay]")
    code, out, _ = run(repo.root, "validate", "specs")
    assert code == 1
    assert "error[PB0451]: plan 'free' has no 'ai-agents' feature, but agent billing-agent acts for tenant " \
           "'vandelay'" in out
    assert "error[PB0451]: plan 'starter' has no 'ai-agents' feature, but agent billing-agent acts for tenant " \
           "'hooli'" in out
