"""What an agent-authored commit may be and touch, in review: spec fields of loaded spec files, and the
recompiled ``generated/``; nothing that would let a change reach the platform unchecked."""

from __future__ import annotations

import os

from .conftest import SpecRepo

AGENT = "\n\nPaybill-Agent: billing-agent"


def test_a_hidden_copy_of_a_spec_does_not_hide_an_agents_change(repo, run) -> None:
    """Found driving an agent's pull request: billing-agent moved hooli to enterprise (its tier ceiling
    forbids it) and added an unloaded copy of the old spec under specs/.shadow/; the copy stood in for
    hooli when the commit was checked and audited, so the plan said no blocking problems."""
    repo.git("checkout", "--quiet", "-b", "paybill/billing-agent/upgrade-hooli")
    repo.write("specs/.shadow/hooli.yaml", repo.read("specs/tenants/hooli.yaml"))
    repo.edit("specs/tenants/hooli.yaml", "plan: starter", "plan: enterprise")
    repo.commit("Upgrade hooli" + AGENT, author=("billing-agent", "billing-eng@example.com"))
    code, out, _ = run(repo.root, "plan", "specs", "--no-terraform", "--base", "main")
    assert code == 1, out
    assert "change-control rule 'billing-agent-plan-tier-ceiling' denies agent 'billing-agent' proposing " \
           "Tenant/hooli spec.plan: starter -> enterprise" in out
    assert "changes 'specs/.shadow/hooli.yaml', which an agent may not: the loader does not read it" in out
    code, out, _ = run(repo.root, "audit", "specs", "--tenant", "hooli")
    assert code == 0 and "plan changed: starter -> enterprise  (billing-agent <billing-eng@example.com> as agent " \
                          "billing-agent)" in out, out


def test_an_agent_commit_changes_spec_files_and_generated_only(repo, run) -> None:
    """Found driving an agent's pull request: a commit carrying Paybill-Agent that rewrote the
    change-control policies or the pull-request workflow, or changed a spec through a symlink, a
    submodule or an executable bit, passed the plan: only the fields of .yaml files were checked."""
    repo.git("checkout", "--quiet", "-b", "paybill/billing-agent/tidy")
    repo.edit("policies/change-control.cedar", "// Baseline", "// baseline")
    repo.write(".github/workflows/paybill-pr.yml", "name: paybill review\n")
    repo.write("generated/manifest.json", "{}\n")
    repo.write("specs/tenants/notes.txt", "kind: Tenant\n")
    os.symlink("notes.txt", repo.path("specs/tenants/notes.yaml"))
    os.chmod(repo.path("specs/tenants/vandelay.yaml"), 0o755)
    vendor = SpecRepo(repo.path("specs/vendor"))  # an embedded repository: git adds it as a gitlink
    vendor.write("tenants/hooli.yaml", repo.read("specs/tenants/hooli.yaml"))
    vendor.commit("vendored")
    repo.commit("Tidy" + AGENT)
    code, out, _ = run(repo.root, "plan", "specs", "--no-terraform", "--base", "main")
    assert code == 1, out
    why = {
        "policies/change-control.cedar": "it is a change-control policy",
        ".github/workflows/paybill-pr.yml": "it is outside the specs root (specs/) and the compiled output",
        "specs/tenants/notes.txt": "the loader does not read it as a spec",
        "specs/tenants/notes.yaml": "it is a symlink, not a regular file",
        "specs/tenants/vandelay.yaml": "it is an executable file, not a regular file",
        "specs/vendor": "it is a submodule, not a regular file",
    }
    for path, reason in why.items():
        assert f"agent-authored commit 'Tidy' changes '{path}', which an agent may not: {reason}" in out, path
    assert "generated/manifest.json" not in out  # the compiled output is part of a proposal
    assert out.count("error[PB0978]") == len(why)


def test_an_agent_authored_merge_commit_fails_the_plan(repo, run) -> None:
    """Found driving an agent's pull request: merge commits were skipped, so an agent's merge (whose
    tree may hold anything) carried its trailer past change control unchecked."""
    repo.git("checkout", "--quiet", "-b", "side")
    repo.edit("specs/tenants/hooli.yaml", "plan: starter", "plan: enterprise")
    repo.commit("side change")
    repo.git("checkout", "--quiet", "main")
    repo.git("checkout", "--quiet", "-b", "paybill/billing-agent/merge")
    repo.edit("specs/tenants/vandelay.yaml", "plan: free", "plan: starter")
    repo.commit("Upgrade vandelay" + AGENT)
    repo.git("merge", "--quiet", "--no-ff", "side", "-m", "Merge side" + AGENT)
    code, out, _ = run(repo.root, "plan", "specs", "--no-terraform", "--base", "main")
    assert code == 1, out
    assert "agent-authored commit 'Merge side' is a merge: change control checks an agent's own commits one by " \
           "one, and what a merge brings in is not" in out
    assert out.count("error[PB0978]") == 1  # the agent's own commit is within the rules


def test_audit_tells_what_a_merge_changed_itself(repo, run) -> None:
    """Found auditing after an agent's pull request: an edit slipped into a merge commit (hooli moved to
    enterprise while merging a display-name change) never appeared in `paybill audit`: merges were
    skipped, so hooli's story ended on starter while its spec said enterprise."""
    repo.git("checkout", "--quiet", "-b", "side")
    repo.edit("specs/tenants/hooli.yaml", "displayName: Hooli", "displayName: Hooli Inc")
    repo.commit("Rename hooli")
    repo.git("checkout", "--quiet", "main")
    repo.edit("specs/tenants/vandelay.yaml", "plan: free", "plan: starter")
    repo.commit("Upgrade vandelay")
    repo.git("merge", "--quiet", "--no-ff", "--no-commit", "side")
    repo.edit("specs/tenants/hooli.yaml", "plan: starter", "plan: enterprise")
    merge = repo.commit("Merge side", author=("billing-agent", "billing-eng@example.com"))
    code, out, _ = run(repo.root, "audit", "specs", "--tenant", "hooli")
    assert code == 0, out
    events = [line.split("  ", 2)[2] for line in out.splitlines()]
    assert events[1:] == ["updated: spec.displayName: Hooli -> Hooli Inc  (Alice Admin <alice@example.com>)",
                          "plan changed: starter -> enterprise  (billing-agent <billing-eng@example.com>)"], out
    code, out, _ = run(repo.root, "audit", "specs")
    block = out.split(f"commit {merge[:12]}")[1]
    assert "(a merge: what it changed itself, that none of its parents had)" in block
    assert "spec.plan: starter -> enterprise" in block and "displayName" not in block and "vandelay" not in block


def test_on_an_agents_branch_every_commit_is_the_agents(repo, run) -> None:
    """Found driving an agent's pull request: the check applied only to commits that declared
    Paybill-Agent, so support-assistant pushing paybill/support-assistant/tidy with its own read grant
    widened to customers' email and phone, and no trailer, got a plan with no blocking problems."""
    repo.git("checkout", "--quiet", "-b", "paybill/support-assistant/tidy")
    repo.edit("specs/agents/support-assistant.yaml", "read: [id, name]", "read: [id, name, email, phone]")
    repo.commit("Tidy", author=("Alice Admin", "alice@example.com"))
    code, out, _ = run(repo.root, "plan", "specs", "--no-terraform", "--base", "main")
    assert code == 0 and "PB0978" not in out, out  # without the branch, a person's commit
    code, out, _ = run(repo.root, "plan", "specs", "--no-terraform", "--base", "main",
                       "--head-ref", "paybill/support-assistant/tidy")
    assert code == 1, out
    assert "change-control rule 'no-agent-widens-agents' denies agent 'support-assistant' proposing " \
           "Agent/support-assistant spec.permissions.tables[table=customers].read: + email" in out, out
    # the person who may have written it reads why a commit without the trailer is the agent's, and what to do
    assert "commit 'Tidy' on agent 'support-assistant''s branch 'paybill/support-assistant/tidy' (every commit " \
           "there is judged as the agent's) breaks change control" in out, out
    assert "a person's change goes on a branch of their own (outside paybill/)" in out, out
    # a trailer naming another agent on the branch: refused, and judged as the branch's agent anyway
    repo.edit("specs/agents/support-assistant.yaml", "read: [id, name, email, phone]", "read: [id, name]")
    repo.commit("Undo" + AGENT)
    code, out, _ = run(repo.root, "plan", "specs", "--no-terraform", "--base", "main",
                       "--head-ref", "paybill/support-assistant/tidy")
    assert "commit 'Undo' on branch 'paybill/support-assistant/tidy' of agent 'support-assistant' declares " \
           "Paybill-Agent: billing-agent" in out, out
    assert "denies agent 'billing-agent'" not in out
    code, out, _ = run(repo.root, "plan", "specs", "--no-terraform", "--base", "main", "--head-ref", "paybill/tidy")
    assert code == 1 and "branch 'paybill/tidy' is in the namespace agents push to (paybill/) but names no agent" \
        in out, out


def test_an_honest_proposal_passes_on_its_branch(repo, run) -> None:
    code, out, err = run(repo.root, "propose", "specs", "--as", "billing-agent", "--no-terraform",
                         "--set", "Tenant/hooli:spec.plan=growth", "-m", "Upgrade hooli")
    assert code == 0, out + err
    branch = "paybill/billing-agent/upgrade-hooli"
    code, out, _ = run(repo.root, "plan", "specs", "--no-terraform", "--base", "main", "--head", branch,
                       "--head-ref", branch)
    assert code == 0 and "PB0978" not in out, out
    # the reviewer sees that change control ran (found: a clean plan did not say so)
    assert "notice[PB0984] Agent/billing-agent: 1 commit of agent 'billing-agent' (on its branch) checked against " \
           "the base side's change control: 1 field change allowed, nothing refused (specs/agents/billing-agent.yaml:" \
           in out, out
    code, out, _ = run(repo.root, "plan", "specs", "--no-terraform", "--base", "main", "--head", branch,
                       "--format", "markdown")
    assert "| ℹ️ | PB0984 | `Agent/billing-agent` | 1 commit of agent 'billing-agent' (declaring Paybill-Agent) " \
           "checked against the base side's change control: 1 field change allowed, nothing refused<br>" \
           "`specs/agents/billing-agent.yaml:6` |" in out, out


def test_an_oversized_spec_in_the_work_tree_is_not_given_a_wrong_size(repo, run) -> None:
    """Found planning an agent's branch that added a 34 MB spec: validate said 'file is 34288991 bytes',
    the plan of the same checkout 'file is 1048577 bytes' (it reads one byte past the limit)."""
    repo.write("specs/tenants/huge.yaml", "# " + "x" * (2 << 20) + "\n")
    code, out, _ = run(repo.root, "plan", "specs", "--no-terraform", "--base", "main")
    assert code == 1 and "specs/tenants/huge.yaml:1:1: error[PB0105]: file is over the limit of 1048576 bytes" in out
    assert "1048577" not in out


def test_a_change_to_the_change_control_rules_is_shown_rule_by_rule(repo, run) -> None:
    """Found reviewing a pull request that loosened policies/: the plan said nothing about it (only
    that the rules still validate), so the comment read 'no blocking problems' like any other."""
    policy = "policies/change-control.cedar"
    repo.git("checkout", "--quiet", "-b", "rules")
    repo.edit(policy, "// Baseline", "// The baseline")  # a comment: nothing to say
    repo.commit("Reword a comment")
    code, out, _ = run(repo.root, "plan", "specs", "--no-terraform", "--base", "main")
    assert code == 0 and "PB0985" not in out, out
    repo.edit(policy, 'context.after == "deleted"', 'context.after == "deleted" && false')
    repo.write("policies/extra.cedar", '@id("agents-may-rename")\npermit (principal is Paybill::Agent, '
               'action == Paybill::Action::"propose", resource is Paybill::Tenant)\n'
               'when { context.field == "spec.displayName" };\n')
    repo.commit("Loosen")
    code, out, _ = run(repo.root, "plan", "specs", "--no-terraform", "--base", "main")
    assert code == 0, out
    assert "warning[PB0985] policies/: the change-control rules change: added permit 'agents-may-rename' (loosens); " \
           "changed forbid 'no-agent-deletes-tenants' (policies/extra.cedar:1:1)" in out, out


def test_a_file_name_that_is_not_utf8_is_shown_escaped(repo, run) -> None:
    """Found driving an agent's branch that added a file named with bytes that are not UTF-8: the
    refusal's message escaped the name, its location wrote the raw bytes into the plan comment."""
    repo.git("checkout", "--quiet", "-b", "paybill/billing-agent/bytes")
    (repo.root / os.fsdecode(b"notes-\xff.txt")).write_text("x", encoding="utf-8")
    repo.commit("Add notes" + AGENT)
    for fmt in ("text", "markdown", "json"):
        code, out, _ = run(repo.root, "plan", "specs", "--no-terraform", "--base", "main", "--format", fmt)
        assert code == 1 and "notes-\\udcff.txt" in out.replace("\\\\", "\\"), out
        assert "\udcff" not in out and "\xff" not in out, fmt
