"""``paybill init`` and the pre-commit hook this repository ships."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pre_commit.clientlib as clientlib

from paybill.scaffold.readme import policies_readme

ROOT = Path(__file__).resolve().parents[2]


def test_init_scaffolds_a_repository_that_validates_and_plans(tmp_path, run) -> None:
    target = tmp_path / "platform"
    code, out, _ = run(tmp_path, "init", str(target))
    assert code == 0, out
    for rel in ("specs/tenants/acme-corp.yaml", "policies/change-control.cedar", "policies/README.md",
                ".github/workflows/paybill-pr.yml", ".github/workflows/paybill-apply.yml",
                ".github/workflows/paybill-drift.yml", ".pre-commit-config.yaml",
                "schemas/tenant.schema.json", "README.md"):
        assert (target / rel).is_file(), rel
    assert (target / ".git").is_dir()
    code, out, _ = run(target, "validate", "specs")
    assert code == 0 and out.startswith("ok: 16 files checked"), out
    config = clientlib.load_config(str(target / ".pre-commit-config.yaml"))
    hook = config["repos"][0]["hooks"][0]
    assert hook["id"] == "paybill-validate" and hook["entry"] == "paybill validate specs"
    subprocess.run(["git", "add", "-A"], cwd=target, check=True)
    subprocess.run(["git", "-c", "user.name=a", "-c", "user.email=a@b.c", "commit", "-qm", "init"], cwd=target,
                   check=True)
    code, out, _ = run(target, "propose", "specs", "--as", "billing-agent", "--dry-run",
                       "--set", "Tenant/vandelay:spec.plan=starter", "-m", "upgrade")
    assert code == 0, out


def test_a_new_repositorys_first_compile_is_clean_and_its_billing_works(tmp_path, run) -> None:
    """What a new user runs first, from the README: the example must not warn (it used to grant the
    billing agent a table no step reads, PB0705) and `paybill billing` must find its BillingPolicy and
    price ids (it used to stop at PB1017); dunning acts on suspended tenants as the README shows."""
    target = tmp_path / "platform"
    assert run(tmp_path, "init", "--no-git", str(target))[0] == 0
    code, out, err = run(target, "compile")
    assert code == 0 and "warning" not in out + err, out + err
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=target, check=True)
    subprocess.run(["git", "add", "-A"], cwd=target, check=True)
    subprocess.run(["git", "-c", "user.name=a", "-c", "user.email=a@b.c", "commit", "-qm", "init"], cwd=target,
                   check=True)
    hooli = "cus_60a9cc3a975f0b"
    assert f"customerId: {hooli}" in (target / "specs/tenants/hooli.yaml").read_text()
    events = tmp_path / "events.jsonl"
    events.write_text(json.dumps({
        "id": "evt_1", "object": "event", "type": "customer.subscription.updated", "created": 1_796_000_000,
        "livemode": False, "data": {"object": {
            "id": "sub_1", "object": "subscription", "customer": hooli, "status": "active",
            "items": {"object": "list", "data": [{"id": "si_1", "object": "subscription_item",
                                                  "price": {"id": "price_growth_monthly", "object": "price"}}]}}}})
        + "\n")
    code, out, err = run(target, "billing", "sync", str(events), "--now", "2026-12-01T00:00:00Z")
    assert code == 0, out + err
    branches = subprocess.run(["git", "branch", "--list", "paybill/*"], cwd=target, capture_output=True, text=True,
                              check=True).stdout.split()
    assert branches == ["paybill/billing-agent/billing-hooli-billing-status-upgrade"], (branches, out, err)
    # the billing state (customers' details) and the cache stay out of `git add -A`
    assert (target / ".paybill" / "billing-state.json").is_file()
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=target,
                            capture_output=True, text=True, check=True).stdout
    assert status == "", status
    dunning = (target / "specs/workflows/dunning.yaml").read_text()
    assert "lifecycles: [onboarding, active, suspended]" in dunning


def test_the_next_step_init_prints_commits_a_tree_ci_and_apply_accept(tmp_path, run) -> None:
    """The `next:` line run as printed: the first commit holds generated/ (it used to say `paybill
    validate`, so the first push had no generated/manifest.json for the apply workflow to read)."""
    code, out, _ = run(tmp_path, "init", "platform")
    assert code == 0
    (step,) = [line.removeprefix("next: ") for line in out.splitlines() if line.startswith("next: ")]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "GIT_AUTHOR_NAME": "a", "GIT_AUTHOR_EMAIL": "a@b.c", "GIT_COMMITTER_NAME": "a",
           "GIT_COMMITTER_EMAIL": "a@b.c"}
    done = subprocess.run(["bash", "-c", step], cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    target = tmp_path / "platform"
    tracked = subprocess.run(["git", "ls-files", "generated/manifest.json"], cwd=target, capture_output=True,
                             text=True, check=True).stdout
    assert tracked.strip() == "generated/manifest.json"
    assert run(target, "compile", "--check")[0] == 0
    assert run(target, "apply", "plan", "--out", str(tmp_path / "apply-plan.json"))[0] == 0


def test_the_scaffolds_specs_are_the_example_repositorys_where_both_have_a_file() -> None:
    """The scaffold had drifted from specs/ (an unused grant, no price ids, dunning without suspended
    tenants); only the BillingPolicy differs, on purpose: the scaffold has one cloud to place customers on."""
    from paybill.scaffold.init import template_files

    shared = {rel: data for rel, data in template_files().items()
              if rel.startswith("specs/") and (ROOT / rel).is_file()}
    assert len(shared) == 16  # every file of the scaffold's specs/
    differing = sorted(rel for rel, data in shared.items() if (ROOT / rel).read_bytes() != data)
    assert differing == ["specs/billing/stripe.yaml"], differing


def test_init_refuses_a_folder_that_is_not_empty(tmp_path, run) -> None:
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("mine")
    code, _, err = run(tmp_path, "init", "busy")
    assert code == 2
    assert "busy:1:1: error[PB0980]: 'busy' already exists and is not an empty folder" in err
    assert (tmp_path / "busy" / "keep.txt").read_text() == "mine"


def test_the_init_error_is_documented_with_its_real_output(tmp_path, run) -> None:
    from paybill.scaffold.init import CODE_TARGET, ScaffoldError

    assert ScaffoldError.code == CODE_TARGET == "PB0980"  # a literal the errors.md checks can see
    (tmp_path / "platform").mkdir()
    (tmp_path / "platform" / "notes.txt").write_text("mine")
    _, _, err = run(tmp_path, "init", "platform")
    assert err.startswith("platform:1:1: error[PB0980]: ")
    doc = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    section = doc.split("\n### PB0980: ", 1)[1].split("\n### ", 1)[0].split("\n## ", 1)[0]
    for line in err.splitlines():
        assert line in section.splitlines(), line


def test_init_with_a_remote_hook_repository(tmp_path, run) -> None:
    code, _, _ = run(tmp_path, "init", "p", "--no-git", "--hooks-repo", "https://git.example.com/paybill.git")
    assert code == 0
    config = clientlib.load_config(str(tmp_path / "p" / ".pre-commit-config.yaml"))
    assert config["repos"][0]["repo"] == "https://git.example.com/paybill.git"
    assert config["repos"][0]["rev"] == "v0.1.0"
    assert not (tmp_path / "p" / ".git").exists()


def test_shipped_pre_commit_hook_manifest_is_valid() -> None:
    (hook,) = clientlib.load_manifest(str(ROOT / ".pre-commit-hooks.yaml"))
    assert hook["id"] == "paybill-validate"
    assert hook["entry"] == "paybill validate" and hook["args"] == ["specs"]
    assert hook["pass_filenames"] is False


def test_policies_readme_is_generated() -> None:
    assert (ROOT / "policies" / "README.md").read_text(encoding="utf-8") == policies_readme()


def _outer_repository(path: Path) -> Path:
    path.mkdir(parents=True)
    subprocess.run(["git", "init", "--quiet", "--initial-branch=main"], cwd=path, check=True)
    return path


def test_init_inside_an_existing_repository_is_refused(tmp_path, run) -> None:
    outer = _outer_repository(tmp_path / "monorepo")
    code, _, err = run(outer, "init", "platform")
    assert code == 2
    assert err.startswith(f"platform:1:1: error[PB0981]: 'platform' is inside the existing git repository at "
                          f"'{outer.resolve()}'")
    assert "--in-existing-repo" in err
    assert not (outer / "platform").exists(), "nothing is written"


def test_init_in_an_existing_repository_on_purpose_says_where_commits_go(tmp_path, run) -> None:
    outer = _outer_repository(tmp_path / "monorepo")
    code, out, err = run(outer, "init", "platform", "--in-existing-repo")
    assert code == 0, err
    assert not (outer / "platform" / ".git").exists(), "no nested repository"
    assert f"inside the git repository at {outer.resolve()}; git init was not run" in err
    assert "GitHub only runs workflows from" in err
    assert "next: cd platform && paybill compile && git add . && git commit" in out
    code, out, _ = run(outer / "platform", "validate", "specs")
    assert code == 0 and "warning" not in out, out


def test_init_outside_a_repository_without_git_hints_at_git_init(tmp_path, run) -> None:
    """The hint's `git init` made the user's default branch (often master), where the scaffolded apply
    workflow, which runs on pushes to main, never runs."""
    code, out, _ = run(tmp_path, "init", "p", "--no-git")
    assert code == 0
    (step,) = [line.removeprefix("next: ") for line in out.splitlines() if line.startswith("next: ")]
    assert step.startswith("cd p && paybill compile && git init --initial-branch=main && git add -A")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "GIT_AUTHOR_NAME": "a", "GIT_AUTHOR_EMAIL": "a@b.c", "GIT_COMMITTER_NAME": "a",
           "GIT_COMMITTER_EMAIL": "a@b.c", "GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "init.defaultBranch",
           "GIT_CONFIG_VALUE_0": "master"}
    done = subprocess.run(["bash", "-c", step], cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    branch = subprocess.run(["git", "branch", "--show-current"], cwd=tmp_path / "p", capture_output=True, text=True,
                            check=True).stdout.strip()
    assert branch == "main"
    workflow = (tmp_path / "p" / ".github" / "workflows" / "paybill-apply.yml").read_text(encoding="utf-8")
    assert "branches: [main]" in workflow


def test_the_inside_a_repository_error_is_documented_with_its_real_output(tmp_path, run) -> None:
    from paybill.scaffold.init import CODE_INSIDE_REPO

    assert CODE_INSIDE_REPO == "PB0981"
    outer = _outer_repository(tmp_path / "monorepo")
    _, _, err = run(outer, "init", "platform")
    doc = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    section = doc.split("\n### PB0981: ", 1)[1].split("\n### ", 1)[0]
    shown = err.replace(str(outer.resolve()), "/home/alice/monorepo")
    for line in shown.splitlines():
        assert line in section.splitlines(), line


def test_a_policy_naming_an_unknown_agent_is_a_warning_in_validate(tmp_path, run) -> None:
    target = tmp_path / "platform"
    assert run(tmp_path, "init", str(target), "--no-git")[0] == 0
    cedar = target / "policies" / "change-control.cedar"
    text = cedar.read_text(encoding="utf-8")
    cedar.write_text(text.replace('principal == Paybill::Agent::"billing-agent"',
                                  'principal == Paybill::Agent::"billing-agnet"')
                     + '\n// Paybill::Agent::"ghost" in a comment is not a reference\n', encoding="utf-8")
    line = next(n for n, row in enumerate(cedar.read_text().splitlines(), 1) if "billing-agnet" in row)
    code, out, _ = run(target, "validate", "specs")
    assert code == 0, "a warning does not fail validate"
    assert (f"policies/change-control.cedar:{line}:16: warning[PB0982]: change-control policy names Agent "
            "'billing-agnet', which is not in the specs (the rule can never match it)") in out
    assert "did you mean 'billing-agent'?" in out
    assert "ghost" not in out
    code, out, _ = run(target, "validate", "specs", "--format", "github")
    assert "::warning file=policies/change-control.cedar" in out


def test_the_starter_policies_name_only_specs_the_starter_repository_has(tmp_path, run) -> None:
    from paybill.propose.references import check_file
    from paybill.scaffold.init import template_files
    from paybill.validate import validate_repository

    target = tmp_path / "platform"
    assert run(tmp_path, "init", str(target), "--no-git")[0] == 0
    index = validate_repository(target / "specs").index
    files = template_files()
    cedar = [rel for rel in files if rel.endswith(".cedar")]
    assert cedar
    for rel in cedar:
        assert check_file(rel, files[rel].decode(), index) == []
    # ... and the check is real: without the billing agent the starter policy names an unknown agent.
    (target / "specs" / "agents" / "billing-agent.yaml").unlink()
    smaller = validate_repository(target / "specs").index
    assert [d.code for d in check_file(cedar[0], files[cedar[0]].decode(), smaller)] == ["PB0982"]
