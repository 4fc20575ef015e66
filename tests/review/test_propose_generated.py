"""A proposal passes the shipped pull-request check: its commit carries the recompiled ``generated/``.

Everything runs on real temporary git repositories: the proposal branch is checked out in a fresh
clone and ``paybill compile specs --check`` (the step ``paybill-pr.yml`` runs) must find it fresh.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

VANDELAY = "specs/tenants/vandelay.yaml"
UPGRADE = ("propose", "specs", "--as", "billing-agent", "--set", "Tenant/vandelay:spec.plan=starter",
           "-m", "Upgrade Vandelay to starter")
BRANCH = "paybill/billing-agent/upgrade-vandelay-to-starter"


def compiled(repo, run) -> None:
    """Commit a fresh generated/ (what a paybill repository keeps on main)."""
    code, out, _ = run(repo.root, "compile", "specs")
    assert code == 0, out
    repo.commit("compile")


def clone_at(repo, branch: str, target: Path) -> Path:
    subprocess.run(["git", "clone", "--quiet", str(repo.root), str(target)], check=True, capture_output=True)
    subprocess.run(["git", "checkout", "--quiet", branch], cwd=target, check=True, capture_output=True)
    return target


def test_the_proposal_branch_passes_compile_check_in_a_fresh_clone(repo, run, tmp_path) -> None:
    compiled(repo, run)
    # A file the compile does not produce (left by an older paybill): the proposal must remove it.
    repo.write("generated/terraform/tenant/ghost/main.tf.json", "{}\n")
    base = repo.commit("stray output")
    code, out, err = run(repo.root, *UPGRADE)
    assert code == 0, out + err
    assert "changed files in generated/)" in err

    changed = repo.git("diff", "--name-status", base, BRANCH).splitlines()
    assert f"M\t{VANDELAY}" in changed
    assert "D\tgenerated/terraform/tenant/ghost/main.tf.json" in changed
    assert "M\tgenerated/tenants/vandelay.json" in changed and "M\tgenerated/manifest.json" in changed
    assert len(repo.git("rev-list", f"{base}..{BRANCH}").split()) == 1, "spec edit and output in one commit"

    clone = clone_at(repo, BRANCH, tmp_path / "ci")
    code, out, _ = run(clone, "compile", "specs", "--check")
    assert code == 0, out
    assert "generated/ is up to date" in out
    # ... and the base itself was stale (the stray file), so the check above is not vacuous.
    subprocess.run(["git", "checkout", "--quiet", base], cwd=clone, check=True, capture_output=True)
    assert run(clone, "compile", "specs", "--check")[0] == 1


def test_the_output_is_compiled_from_the_proposed_commit_not_the_work_tree(repo, run, tmp_path) -> None:
    compiled(repo, run)
    # Uncommitted work in the checkout must not leak into the proposal's generated/.
    repo.edit("specs/tenants/hooli.yaml", "displayName: Hooli", "displayName: Hooli Uncommitted")
    code, out, err = run(repo.root, *UPGRADE)
    assert code == 0, out + err
    assert "Hooli Uncommitted" not in repo.git("show", f"{BRANCH}:generated/tenants/hooli.json")
    clone = clone_at(repo, BRANCH, tmp_path / "ci")
    assert run(clone, "compile", "specs", "--check")[0] == 0


def test_a_repository_without_generated_gets_the_whole_tree(repo, run, tmp_path) -> None:
    code, out, err = run(repo.root, *UPGRADE, "--no-terraform")
    assert code == 0, out + err
    clone = clone_at(repo, BRANCH, tmp_path / "ci")
    assert run(clone, "compile", "specs", "--check")[0] == 0


def test_the_pull_request_body_is_the_markdown_plan_of_the_proposal_commit(repo, run) -> None:
    compiled(repo, run)
    base = repo.head()
    code, out, err = run(repo.root, *UPGRADE)
    assert code == 0, out + err
    body = out.split("\n\n", 2)[2].lstrip("\n")
    code, plan, _ = run(repo.root, "plan", "specs", "--base", base, "--head", BRANCH, "--format", "markdown")
    assert body == plan
    assert "| `spec.plan` | `free` | `starter` |" in body
    assert "tenant/vandelay" in body or "vandelay" in body


def test_a_proposal_whose_tree_does_not_compile_is_refused_and_creates_no_branch(repo, run) -> None:
    # A silo tenant with a fixed network, and an agent allowed to propose a pool's network range.
    repo.edit("specs/tenants/acme-corp.yaml", "    region: us-east-1\n",
              "    region: us-east-1\n    networkCidr: 10.30.0.0/20\n")
    repo.edit("specs/agents/billing-agent.yaml", "        fields: [spec.plan]\n",
              "        fields: [spec.plan]\n      - kind: Pool\n        fields: [spec.networkCidr]\n")
    repo.commit("fixed network for acme")
    before = repo.git("for-each-ref", "refs/heads")
    code, out, err = run(repo.root, "propose", "specs", "--as", "billing-agent",
                         "--set", "Pool/aws-use1-shared:spec.networkCidr=10.30.0.0/16", "-m", "Widen the pool")
    assert code == 1, out + err
    assert "error[PB0603]" in out
    assert "no branch was created" in err
    assert repo.git("for-each-ref", "refs/heads") == before


def test_a_custom_output_folder_is_the_one_committed(repo, run, tmp_path) -> None:
    code, out, _ = run(repo.root, "compile", "specs", "--out", "build/out")
    assert code == 0, out
    repo.commit("compile into build/out")
    code, out, err = run(repo.root, *UPGRADE, "--out", "build/out", "--no-terraform")
    assert code == 0, out + err
    assert "changed files in build/out/)" in err
    files = repo.git("diff", "--name-only", "HEAD", BRANCH).split()
    assert "build/out/tenants/vandelay.json" in files and not any(f.startswith("generated/") for f in files)
    clone = clone_at(repo, BRANCH, tmp_path / "ci")
    assert run(clone, "compile", "specs", "--out", "build/out", "--check")[0] == 0


def test_an_output_folder_that_is_not_paybills_is_never_replaced(repo, run) -> None:
    repo.write("generated/NOTES.md", "hand-written notes, not compiler output\n")
    repo.commit("notes")
    before = repo.git("for-each-ref", "refs/heads")
    code, out, err = run(repo.root, *UPGRADE)
    assert code == 1, out + err
    assert ("generated:1:1: error[PB0983]: 'generated/' in the base commit holds files but no paybill "
            "manifest.json; refusing to replace it") in out
    assert repo.git("for-each-ref", "refs/heads") == before
    code, out, _ = run(repo.root, *UPGRADE, "--out", ".")
    assert code == 1 and "error[PB0983]: the output folder './' would replace the specs folder 'specs/'" in out
    assert repo.git("for-each-ref", "refs/heads") == before
