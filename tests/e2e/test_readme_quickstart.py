"""README.md's "Your own spec repository" quick start, run as written: the two ``sh`` blocks in bash.

The README's quick start was ``make run`` / ``make test`` (developing paybill itself): a platform
engineer starting a spec repository had to piece the first day together from the commands table. The
blocks are read from README.md, so a command that stops working, or a doc that drifts from what the
CLI does, fails here. Terraform is ``tests/apply/fake_terraform.py`` on PATH (no cloud), PostgreSQL is
real (a scratch database), git is real.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from db.pg_support import drop_roles, dsn_for, paybill_roles, require_server, scratch_database

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
FAKE_TERRAFORM = ROOT / "tests" / "apply" / "fake_terraform.py"


def quickstart_blocks() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n### Your own spec repository\n", 1)[1].split("\n### ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", section, re.DOTALL)


def test_the_readme_quickstart_runs_as_written(tmp_path: Path) -> None:
    blocks = quickstart_blocks()
    assert len(blocks) == 2, blocks
    require_server()
    roles = paybill_roles()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    terraform = bin_dir / "terraform"
    # it leaves the working files `init` and `plan -out` write, where Terraform writes them
    terraform.write_text(f'#!/bin/sh\nexec {sys.executable} {FAKE_TERRAFORM} "$@"\n', encoding="utf-8")
    terraform.chmod(0o755)
    work = tmp_path / "work"
    work.mkdir()
    try:
        with scratch_database("quickstart") as database:
            env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}"
                                         f"{os.environ['PATH']}",
                   "FAKE_LOG": str(tmp_path / "terraform.jsonl"), "FAKE_STATES": str(tmp_path / "states"),
                   "PAYBILL_DATABASE_URL": dsn_for(database), "GIT_CONFIG_GLOBAL": os.devnull,
                   "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "New User", "GIT_AUTHOR_EMAIL": "new@example.com",
                   "GIT_COMMITTER_NAME": "New User", "GIT_COMMITTER_EMAIL": "new@example.com", "NO_COLOR": "1"}
            env.pop("VIRTUAL_ENV", None)
            script = "set -euo pipefail\n" + "\n".join(blocks)
            done = subprocess.run(["bash", "--noprofile", "--norc", "-c", script], cwd=work, env=env,
                                  capture_output=True, text=True, check=False, timeout=600)
    finally:
        drop_roles(paybill_roles() - roles)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "ok: 16 files checked, no problems" in done.stdout
    assert "spec.plan: starter -> growth" in done.stdout
    assert done.stdout.count("generated/ is up to date") == 2  # on the branch, and after the local apply
    assert "shard 1.1: 1 applied" in out
    assert "tenant-acme-corp: applied revision " in done.stdout
    calls = [json.loads(line) for line in (tmp_path / "terraform.jsonl").read_text().splitlines()]
    assert [(c["dir"], c["args"][0]) for c in calls] == [("generated/terraform/tenant/hooli", command)
                                                         for command in ("init", "plan", "apply")]
    repo = work / "platform"
    assert (repo / ".paybill" / "terraform" / "tenant" / "hooli" / ".terraform.lock.hcl").is_file()
    assert subprocess.run(["git", "branch", "--show-current"], cwd=repo, capture_output=True, text=True,
                          check=True).stdout.strip() == "main"
    # what the apply left in the work tree (the job plan, the results) is not something to commit
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=repo, env=env,
                            capture_output=True, text=True, check=True).stdout
    assert status == "", status
