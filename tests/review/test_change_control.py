"""Change-control policies: validated with positions, and enforced on agent-authored commits in plan."""

from __future__ import annotations

from pathlib import Path

from paybill.changes.policies import load_change_control
from paybill.gitio import GitRepo, WorkTreeSide

ROOT = Path(__file__).resolve().parents[2]
POLICY = "policies/change-control.cedar"


def control(repo):
    return load_change_control(WorkTreeSide(GitRepo(repo.root)), "policies", required=True)


def test_shipped_policies_validate_and_every_rule_is_named(repo) -> None:
    loaded = control(repo)
    assert loaded.ok, loaded.diagnostics
    ids = [rule.id for rule in loaded.rules]
    assert ids[0] == "agent-spec-grants" and len(ids) == len(set(ids)) == 8
    text = repo.read(POLICY).splitlines()
    for rule in loaded.rules:
        assert text[rule.position.line - 1].startswith(f'@id("{rule.id}")')


def test_a_policy_that_does_not_type_check_is_reported_at_its_line(repo, run) -> None:
    repo.write(POLICY, repo.read(POLICY) + '\n@id("typo")\nforbid (principal, action, resource is Paybill::Tenant)\n'
               'when { context.feild == "spec.plan" };\n')
    loaded = control(repo)
    assert not loaded.ok
    (diagnostic,) = loaded.diagnostics
    assert diagnostic.code == "PB0961" and diagnostic.path == POLICY
    assert repo.read(POLICY).splitlines()[diagnostic.position.line - 1] == '@id("typo")'
    assert "feild" in diagnostic.message and "[typo]" in diagnostic.message
    code, out, _ = run(repo.root, "plan", "specs", "--no-terraform", "--base", "HEAD")
    assert code == 1 and "error[PB0961]" in out  # a broken rule cannot be merged


def test_syntax_errors_missing_and_duplicate_ids(repo) -> None:
    repo.write("policies/extra.cedar", "permit (principal, action, resource) when {\n")
    loaded = control(repo)
    assert [d.code for d in loaded.diagnostics] == ["PB0960"]
    assert loaded.diagnostics[0].path == "policies/extra.cedar"
    repo.write("policies/extra.cedar", '@id("agent-spec-grants")\nforbid (principal, action, resource);\n'
               'forbid (principal, action, resource);\n')
    codes = sorted(d.code for d in control(repo).diagnostics)
    assert codes == ["PB0962", "PB0962"]


def test_id_problems_point_at_the_policy_they_are_about(repo) -> None:
    repo.write("policies/extra.cedar", '// extra rules\n@id("local")\nforbid (principal, action, resource)\n'
               'when { context.field == "a;b // not a comment" };\n\n// no id here\n'
               'forbid (principal, action, resource);\n@id("local")\npermit (principal, action, resource);\n')
    lines = repo.read("policies/extra.cedar").splitlines()
    found = {(d.code, d.position.line, d.position.col, d.message) for d in control(repo).diagnostics}
    assert found == {
        ("PB0962", 7, 1, "policy #2 in policies/extra.cedar has no @id annotation"),
        ("PB0962", 8, 1, '@id("local") is already used at policies/extra.cedar:2'),
    }
    assert lines[6].startswith("forbid") and lines[7] == '@id("local")'


def test_a_rule_that_cannot_be_evaluated_is_named_by_its_id_at_its_line(repo, run) -> None:
    repo.write(POLICY, repo.read(POLICY) + '\n@id("premium-ceiling")\nforbid (principal is Paybill::Agent, action == '
               'Paybill::Action::"propose", resource is Paybill::Tenant)\nwhen { context has toPlan && '
               'context.toPlan.tier > Paybill::Plan::"premium".tier };\n')
    repo.commit("a rule naming a plan that does not exist")
    line = repo.read(POLICY).splitlines().index('@id("premium-ceiling")') + 1
    code, out, _ = run(repo.root, "propose", "specs", "--as", "billing-agent",
                       "--set", "Tenant/vandelay:spec.plan=starter", "-m", "Upgrade vandelay", "--no-terraform")
    assert code == 1
    assert f"{POLICY}:{line}:1: error[PB0977]: change control could not evaluate Tenant/vandelay spec.plan: " \
           "free -> starter for agent 'billing-agent': error while evaluating policy `premium-ceiling`: entity " \
           '`Paybill::Plan::"premium"` does not exist\n' in out
    assert f"  hint: the rule is at {POLICY}:{line}; a rule that cannot be evaluated denies (fail closed)" in out
    assert "policy7" not in out


def test_agent_commit_pushed_without_propose_fails_the_plan(repo, run) -> None:
    repo.git("checkout", "--quiet", "-b", "sneaky")
    repo.edit("specs/tenants/hooli.yaml", "plan: starter", "plan: enterprise")
    repo.commit("Upgrade hooli\n\nPaybill-Agent: billing-agent", author=("bot", "bot@example.com"))
    code, out, _ = run(repo.root, "plan", "specs", "--no-terraform")
    assert code == 1
    assert "error[PB0978] commit " in out
    assert "change-control rule 'billing-agent-plan-tier-ceiling' denies agent 'billing-agent' proposing " \
           "Tenant/hooli spec.plan: starter -> enterprise" in out


def test_agent_commit_within_the_rules_passes_and_human_commits_are_not_checked(repo, run) -> None:
    repo.git("checkout", "--quiet", "-b", "fine")
    repo.edit("specs/tenants/vandelay.yaml", "plan: free", "plan: starter")
    repo.commit("Upgrade vandelay\n\nPaybill-Agent: billing-agent")
    repo.edit("specs/tenants/hooli.yaml", "plan: starter", "plan: enterprise")
    repo.commit("A person upgrades hooli")
    code, out, _ = run(repo.root, "plan", "specs", "--no-terraform")
    assert code == 0, out
    assert "PB0978" not in out


def test_an_agent_proposes_only_for_tenants_in_its_scope(repo, run) -> None:
    """Found driving the README's change process: support-assistant (scope: support-tier premium, only
    acme-corp) granted display names could propose, and push, a change to hooli; nothing said no."""
    repo.edit("specs/agents/support-assistant.yaml", "        read: [id, name]\n",
              "        read: [id, name]\n    proposals:\n      - kind: Tenant\n        fields: [spec.displayName]\n")
    repo.commit("support may propose display names")
    code, out, err = run(repo.root, "propose", "specs", "--as", "support-assistant", "--dry-run",
                         "--set", "Tenant/acme-corp:spec.displayName=ACME", "-m", "in scope")
    assert code == 0, out + err
    code, out, err = run(repo.root, "propose", "specs", "--as", "support-assistant",
                         "--set", "Tenant/hooli:spec.displayName=Hooli XYZ", "-m", "out of scope")
    line = repo.read("specs/agents/support-assistant.yaml").splitlines().index("  tenantScope:") + 2  # its value
    assert code == 1 and (f"specs/agents/support-assistant.yaml:{line}:5: error[PB0979]: agent 'support-assistant' "
                          "may not propose changes to Tenant/hooli: tenant 'hooli' is outside its tenantScope"
                          ) in out + err, out + err
    assert repo.git("branch", "--list", "paybill/*").strip() == ""
    # the same change pushed as an agent's commit fails the pull request's plan
    repo.git("checkout", "--quiet", "-b", "sneaky")
    repo.edit("specs/tenants/hooli.yaml", "displayName: Hooli", "displayName: Hooli XYZ")
    repo.commit("Rename hooli\n\nPaybill-Agent: support-assistant", author=("bot", "bot@example.com"))
    code, out, _ = run(repo.root, "plan", "specs", "--no-terraform")
    assert code == 1 and "error[PB0978]" in out and "outside its tenantScope" in out, out


def test_a_pull_request_cannot_loosen_the_rules_it_is_judged_by(repo, run) -> None:
    repo.git("checkout", "--quiet", "-b", "loosen")
    rule = '@id("billing-agent-plan-tier-ceiling")\n'
    repo.edit(POLICY, rule + "forbid", rule + "permit")
    repo.edit(POLICY, "\nunless {\n  context has fromPlan", "\nwhen {\n  context has fromPlan")
    repo.edit("specs/tenants/hooli.yaml", "plan: starter", "plan: enterprise")
    repo.commit("loosen and use it\n\nPaybill-Agent: billing-agent")
    code, out, _ = run(repo.root, "plan", "specs", "--no-terraform")
    assert code == 1 and "PB0978" in out


def test_repository_policies_are_the_scaffolded_ones() -> None:
    from paybill.scaffold.init import template_files

    files = template_files()
    for name in ("change-control.cedar", "change-control.cedarschema", "README.md"):
        assert (ROOT / "policies" / name).read_bytes() == files[f"policies/{name}"], f"policies/{name} is stale"
