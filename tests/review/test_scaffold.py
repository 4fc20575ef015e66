"""``paybill init`` and the pre-commit hook this repository ships."""

from __future__ import annotations

import subprocess
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
    assert code == 0 and out.startswith("ok: 15 files checked"), out
    config = clientlib.load_config(str(target / ".pre-commit-config.yaml"))
    hook = config["repos"][0]["hooks"][0]
    assert hook["id"] == "paybill-validate" and hook["entry"] == "paybill validate specs"
    subprocess.run(["git", "add", "-A"], cwd=target, check=True)
    subprocess.run(["git", "-c", "user.name=a", "-c", "user.email=a@b.c", "commit", "-qm", "init"], cwd=target,
                   check=True)
    code, out, _ = run(target, "propose", "specs", "--as", "billing-agent", "--dry-run",
                       "--set", "Tenant/vandelay:spec.plan=starter", "-m", "upgrade")
    assert code == 0, out


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
