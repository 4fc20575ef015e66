"""``paybill propose``: round-trip edits, change control, a branch built without touching the checkout."""

from __future__ import annotations

import hashlib

import pytest

VANDELAY = "specs/tenants/vandelay.yaml"


def state(repo) -> dict[str, str]:
    """Everything the user's checkout consists of: HEAD, its branch, the index, every file's bytes."""
    files = {}
    for path in sorted(repo.root.rglob("*")):
        if path.is_file() and ".git" not in path.parts:
            files[str(path.relative_to(repo.root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return {
        "head": repo.head(),
        "branch": repo.git("symbolic-ref", "HEAD").strip(),
        "index": hashlib.sha256(repo.path(".git/index").read_bytes()).hexdigest(),
        "status": repo.git("status", "--porcelain"),
        "files": repr(files),
    }


@pytest.fixture
def commented(repo):
    """Comments, flow style and quoting the edit must keep; committed, plus uncommitted work."""
    repo.edit(VANDELAY, "spec:\n", "spec:\n  # Sales promised a free year; see ticket OPS-1234.\n")
    repo.edit(VANDELAY, "  plan: free\n", "  plan: free  # reviewed quarterly\n")
    repo.edit(VANDELAY, "customerId: cus_131127a9895ffb", "customerId: 'cus_131127a9895ffb'")
    repo.commit("annotate vandelay")
    repo.edit("specs/tenants/hooli.yaml", "displayName: Hooli", "displayName: Hooli XYZ")  # uncommitted
    repo.write("notes.txt", "untracked work in progress\n")
    return repo


def test_propose_keeps_comments_and_creates_the_branch_without_touching_the_work_tree(commented, run) -> None:
    repo = commented
    before = state(repo)
    code, out, err = run(repo.root, "propose", "specs", "--as", "billing-agent",
                         "--set", "Tenant/vandelay:spec.plan=starter", "-m", "Upgrade Vandelay to starter",
                         "--no-terraform")
    assert code == 0, out + err
    assert state(repo) == before, "the checkout, index or HEAD changed"
    branch = "paybill/billing-agent/upgrade-vandelay-to-starter"
    assert f"created branch {branch}" in err
    assert repo.git("rev-parse", f"{branch}~1").strip() == before["head"]
    message = repo.git("log", "-1", "--format=%B", branch)
    assert message.startswith("Upgrade Vandelay to starter\n")
    assert message.rstrip().endswith("Paybill-Agent: billing-agent")
    assert repo.git("log", "-1", "--format=%an <%ae>", branch).strip() == \
        "billing-agent <billing-eng@paybill.example.com>"
    diff = repo.git("diff", "--unified=0", before["head"], branch, "--", "specs")
    changed = [line for line in diff.splitlines() if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    assert changed == ["-  plan: free  # reviewed quarterly", "+  plan: starter  # reviewed quarterly"]
    edited = repo.git("show", f"{branch}:{VANDELAY}")
    assert "# Sales promised a free year; see ticket OPS-1234." in edited
    assert "customerId: 'cus_131127a9895ffb'" in edited
    assert "Hooli XYZ" not in repo.git("show", f"{branch}:specs/tenants/hooli.yaml")
    # The pull-request body is the markdown plan of base -> branch.
    assert out.startswith("**Proposed by agent `billing-agent`**: Upgrade Vandelay to starter")
    assert "<!-- paybill-plan -->" in out and "| `spec.plan` | `free` | `starter` |" in out


def test_a_second_proposal_with_the_same_message_gets_a_new_branch(repo, run) -> None:
    args = ("propose", "specs", "--as", "billing-agent", "--set", "Tenant/vandelay:spec.plan=starter",
            "-m", "Upgrade", "--no-terraform")
    assert run(repo.root, *args)[0] == 0
    assert run(repo.root, *args)[0] == 0
    branches = repo.git("branch", "--list", "paybill/*", "--format=%(refname:short)").split()
    assert branches == ["paybill/billing-agent/upgrade", "paybill/billing-agent/upgrade-2"]
    assert repo.git("rev-parse", "--abbrev-ref", "HEAD").strip() == "main"


@pytest.mark.parametrize(("changes", "rule"), [
    (["Tenant/vandelay:spec.plan=enterprise"], "billing-agent-plan-tier-ceiling"),
    (["Tenant/hooli:spec.plan=enterprise"], "billing-agent-plan-tier-ceiling"),
    (["Tenant/acme-corp:spec.isolation.model=pooled", "Tenant/acme-corp:spec.placement.pool=aws-use1-shared"],
     "no-agent-changes-isolation"),
    (["Tenant/nakatomi:spec.lifecycle=offboarding"], None),
])
def test_propose_refused_by_change_control(repo, run, changes, rule) -> None:
    before = repo.git("for-each-ref")
    sets = [arg for change in changes for arg in ("--set", change)]
    code, out, err = run(repo.root, "propose", "specs", "--as", "billing-agent", *sets, "-m", "try", "--no-terraform")
    assert code == 1, out
    assert "no branch was created" in err
    assert repo.git("for-each-ref") == before
    if rule is None:  # not granted by the agent's own spec
        assert "error[PB0973]: agent 'billing-agent' may not propose Tenant/nakatomi spec.lifecycle" in out
        assert out.startswith("specs/agents/billing-agent.yaml:")
    else:
        assert f"error[PB0974]: change-control rule '{rule}' denies agent 'billing-agent'" in out
        assert out.startswith("policies/change-control.cedar:")


def test_no_agent_may_set_lifecycle_to_deleted_even_when_granted(repo, run) -> None:
    agent = "specs/agents/billing-agent.yaml"
    repo.edit(agent, "fields: [spec.plan]", "fields: [spec.plan, spec.lifecycle]")
    repo.edit("specs/tenants/nakatomi.yaml", "lifecycle: suspended", "lifecycle: offboarding")
    repo.edit("specs/tenants/nakatomi.yaml", "status: past_due", "status: cancelled")
    repo.commit("billing agent may move lifecycles; nakatomi offboarding")
    code, out, _ = run(repo.root, "propose", "specs", "--as", "billing-agent",
                       "--set", "Tenant/nakatomi:spec.lifecycle=deleted", "-m", "delete", "--no-terraform")
    assert code == 1
    line = repo.read("policies/change-control.cedar").splitlines().index('@id("no-agent-deletes-tenants")') + 1
    assert f"policies/change-control.cedar:{line}:1: error[PB0974]: change-control rule " \
           "'no-agent-deletes-tenants' denies agent 'billing-agent' proposing Tenant/nakatomi spec.lifecycle: " \
           "offboarding -> deleted" in out
    code, _, _ = run(repo.root, "propose", "specs", "--as", "billing-agent",
                     "--set", "Tenant/nakatomi:spec.lifecycle=active", "-m", "win back", "--no-terraform")
    assert code == 1  # billing status cancelled: validation refuses (PB0405) before any branch exists


def test_agent_cannot_use_a_grant_it_gives_itself(repo, run) -> None:
    code, out, _ = run(repo.root, "propose", "specs", "--as", "billing-agent",
                       "--set", "Agent/billing-agent:spec.limits.maxRowsRead=999999", "-m", "more", "--no-terraform")
    assert code == 1
    assert "PB0974" in out and "no-agent-widens-agents" in out


def test_propose_validates_the_repository_after_the_edit(repo, run) -> None:
    code, out, _ = run(repo.root, "propose", "specs", "--as", "billing-agent",
                       "--set", "Tenant/vandelay:spec.plan=platinum", "-m", "x", "--no-terraform")
    assert code == 1
    assert "specs/tenants/vandelay.yaml:9:9: error[PB0302]: unknown plan 'platinum'" in out


def test_a_refusal_counts_the_errors_not_the_warnings(repo, run) -> None:
    """A warning elsewhere in the repository (here a selector matching no tenant, PB0309) was counted as
    one of the problems that refused the proposal."""
    repo.edit("specs/agents/support-assistant.yaml", "support-tier: premium", "support-tier: platinum")
    repo.commit("a selector that matches nobody")
    code, out, err = run(repo.root, "propose", "specs", "--as", "billing-agent",
                         "--set", "Tenant/vandelay:spec.plan=platinum", "-m", "x", "--no-terraform")
    assert code == 1 and "error[PB0302]" in out and "warning[" in out, out
    assert "proposal refused: 1 problem(s); no branch was created" in err, err


def test_propose_usage_and_target_errors(repo, run) -> None:
    code, _, err = run(repo.root, "propose", "specs", "--as", "billing-agent", "--set", "Tenant/x=1", "-m", "x")
    assert code == 2 and "is not KIND/NAME:FIELD.PATH=VALUE" in err
    code, out, _ = run(repo.root, "propose", "specs", "--as", "billing-agent",
                       "--set", "Tenant/vandelai:spec.plan=x", "-m", "x")
    assert code == 1 and "error[PB0971]: no Tenant named 'vandelai'" in out and "did you mean 'vandelay'?" in out
    code, out, _ = run(repo.root, "propose", "specs", "--as", "billing-agent",
                       "--set", "Tenant/vandelay:spec.plan=free", "-m", "x")
    assert code == 1 and "PB0975" in out


def test_propose_without_policies_is_refused(repo, run) -> None:
    repo.git("rm", "-r", "--quiet", "policies")
    repo.commit("drop policies")
    code, out, _ = run(repo.root, "propose", "specs", "--as", "billing-agent",
                       "--set", "Tenant/vandelay:spec.plan=starter", "-m", "x", "--no-terraform")
    assert code == 1 and "error[PB0963]: no change-control policies" in out


def test_dry_run_prints_the_diff_and_creates_nothing(repo, run) -> None:
    code, out, _err = run(repo.root, "propose", "specs", "--as", "billing-agent", "--dry-run",
                         "--set", "Tenant/vandelay:spec.plan=starter", "-m", "x")
    assert code == 0
    assert "-  plan: free\n+  plan: starter\n" in out
    assert repo.git("branch", "--list", "paybill/*") == ""
