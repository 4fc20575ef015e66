"""The apply workflow's destroy of removed stacks: which stacks, when, and which Terraform commands.

Real Terraform cannot be downloaded here (and would need cloud credentials), so the destroy job's
own ``run:`` script is executed by bash at the process boundary with a fake ``terraform`` on PATH:
it records every invocation and answers ``state list`` from a file the test writes. What is tested
is what the workflow asks Terraform to do, in which directory and order.
"""

from __future__ import annotations

import datetime
import json
import os
import shlex
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from paybill.plan.waves import destroy_stacks, main, notices

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "paybill-apply.yml"
NOV_9 = datetime.date(2026, 11, 9)


def _entry(address: str, until: str | None = "2026-11-09", *, kind: str = "tenant",
           unprotect: tuple[str, ...] = (), path: bool = True) -> dict[str, Any]:
    entry: dict[str, Any] = {"address": address, "kind": kind, "retainUntil": until,
                             "sources": [f"specs/tenants/{address.split('/')[1]}.yaml"],
                             "unprotect": list(unprotect)}
    if path:
        entry["path"] = f"terraform/removed/{address}/main.tf.json"
    return entry


def test_removed_stacks_wait_for_the_end_of_retention() -> None:
    manifest = {"removed": [_entry("tenant/a", "2026-11-09")]}
    assert destroy_stacks(manifest, NOV_9 - datetime.timedelta(days=1)) == (
        [], ["tenant/a: held until 2026-11-09, the end of its data retention"])
    assert destroy_stacks(manifest, NOV_9) == (["tenant/a"], [])
    assert destroy_stacks(manifest, NOV_9 + datetime.timedelta(days=400)) == (["tenant/a"], [])


def test_removed_stacks_without_a_retention_date_or_configuration_are_held() -> None:
    manifest = {"removed": [_entry("tenant/a", None), _entry("tenant/b", path=False)]}
    ready, held = destroy_stacks(manifest, NOV_9)
    assert ready == []
    assert held[0].startswith("tenant/a: held, its tenant has no spec.lifecycleSince")
    assert held[1].startswith("tenant/b: no decommission configuration")


def test_tenants_are_destroyed_before_pools() -> None:
    manifest = {"removed": [_entry("pool/p", kind="pool"), _entry("tenant/z"), _entry("tenant/a")]}
    assert destroy_stacks(manifest, NOV_9)[0] == ["tenant/a", "tenant/z", "pool/p"]


def test_stack_gone_without_decommission_configuration_is_flagged() -> None:
    previous = {"stacks": [{"address": "pool/p"}, {"address": "tenant/a"}]}
    current = {"stacks": [], "removed": [_entry("tenant/a")]}
    lines = notices(current, previous, NOV_9)
    assert lines == ["::warning::stack pool/p is gone from the manifest without a decommission configuration; "
                     "nothing destroys it"]


def test_waves_cli_writes_the_destroy_output_for_the_given_day(tmp_path: Path, capsys) -> None:
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"stacks": [], "waves": [],
                                    "removed": [_entry("tenant/a", "2026-11-09"), _entry("tenant/b", "2026-12-01")]}))
    out = tmp_path / "out"
    assert main(["--manifest", str(manifest), "--github-output", str(out), "--today", "2026-11-10"]) == 0
    values = dict(line.split("=", 1) for line in out.read_text().splitlines())
    assert (values["destroy"], values["destroy_count"]) == ("tenant/a", "1")
    assert "::notice::tenant/b: held until 2026-12-01" in capsys.readouterr().out


def _destroy_script() -> str:
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    step = next(s for s in workflow["jobs"]["destroy"]["steps"] if s.get("name", "").startswith("terraform destroy"))
    assert step["env"]["STACKS"] == "${{ needs.prepare.outputs.destroy }}"
    return step["run"]


FAKE_TERRAFORM = """#!/usr/bin/env bash
# A stand-in for terraform: logs its arguments, answers `state list` from $FAKE_STATE_<dir>.
printf '%s\\n' "$*" >> "$FAKE_LOG"
chdir="${1#-chdir=}"
if [ "$2" = "state" ] && [ "$3" = "list" ]; then
  [ -n "$FAKE_STATE_FAILS" ] && { echo "Error: error loading state: AccessDenied" >&2; exit 1; }
  state="$FAKE_STATES/$(echo "$chdir" | tr '/' '_')"
  if [ -f "$state" ]; then cat "$state"; fi
fi
exit 0
"""


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "terraform"
    fake.write_text(FAKE_TERRAFORM, encoding="utf-8")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    (tmp_path / "states").mkdir()
    return tmp_path


Ran = tuple[subprocess.CompletedProcess[str], list[str], str]
"""(the finished bash process, the fake terraform's log lines, the job summary)."""


def _run_destroy(work: Path, removed: list[dict[str, Any]], stacks: str,
                 states: dict[str, list[str]], **extra_env: str) -> Ran:
    generated = work / "generated"
    for entry in removed:
        folder = generated / "terraform" / "removed" / entry["address"]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "main.tf.json").write_text("{}", encoding="utf-8")
    (generated / "manifest.json").write_text(json.dumps({"stacks": [], "removed": removed}), encoding="utf-8")
    for address, resources in states.items():
        name = f"generated/terraform/removed/{address}".replace("/", "_")
        (work / "states" / name).write_text("".join(f"{r}\n" for r in resources), encoding="utf-8")
    summary = work / "summary.md"
    env = {**os.environ, "PATH": f"{work / 'bin'}:{os.environ['PATH']}", "STACKS": stacks,
           "FAKE_LOG": str(work / "log"), "FAKE_STATES": str(work / "states"),
           "GITHUB_STEP_SUMMARY": str(summary), **extra_env}
    done = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", _destroy_script()], cwd=work, env=env,
                          capture_output=True, text=True, timeout=60)
    log = (work / "log").read_text().splitlines() if (work / "log").exists() else []
    return done, log, summary.read_text() if summary.exists() else ""


def test_destroy_job_unprotects_what_is_in_state_then_destroys_the_decommission_configuration(workspace) -> None:
    removed = [_entry("tenant/acme", unprotect=("aws_db_instance.main", "aws_s3_bucket.data")),
               _entry("pool/old", kind="pool")]
    done, log, summary = _run_destroy(workspace, removed, "tenant/acme pool/old", {
        "tenant/acme": ["aws_db_instance.main", "aws_kms_key.data", "aws_vpc.main"],  # the bucket is gone already
        "pool/old": ["aws_vpc.main"],
    })
    assert done.returncode == 0, done.stderr
    acme, pool = "-chdir=generated/terraform/removed/tenant/acme", "-chdir=generated/terraform/removed/pool/old"
    assert log == [
        f"{acme} init -input=false",
        f"{acme} state list",
        f"{acme} apply -input=false -auto-approve -target=aws_db_instance.main",
        f"{acme} destroy -input=false -auto-approve",
        f"{pool} init -input=false",
        f"{pool} state list",
        f"{pool} destroy -input=false -auto-approve",
    ]
    assert "`tenant/acme` destroyed" in summary and "specs/tenants/acme.yaml" in summary
    assert 'decommission: {destroyedAt: "' in summary


def test_destroy_job_never_applies_to_a_stack_already_destroyed(workspace) -> None:
    """A stack stays listed until its destroy is recorded; later runs must not create it again."""
    removed = [_entry("tenant/acme", unprotect=("aws_db_instance.main",))]
    done, log, summary = _run_destroy(workspace, removed, "tenant/acme", {"tenant/acme": []})
    assert done.returncode == 0, done.stderr
    assert [shlex.split(line)[1] for line in log] == ["init", "state"]
    assert "`tenant/acme` destroyed (state empty)" in summary


def test_destroy_job_fails_for_a_stack_without_decommission_configuration(workspace) -> None:
    done, log, _ = _run_destroy(workspace, [_entry("tenant/acme")], "tenant/ghost", {})
    assert done.returncode == 1
    assert "::error::tenant/ghost has no decommission configuration" in done.stdout
    assert log == []


def test_destroy_job_fails_closed_when_the_state_cannot_be_read(workspace) -> None:
    """An unreadable state is not an empty one: nothing may be reported as destroyed."""
    removed = [_entry("tenant/acme", unprotect=("aws_db_instance.main",))]
    done, log, summary = _run_destroy(workspace, removed, "tenant/acme", {"tenant/acme": ["aws_db_instance.main"]},
                                      FAKE_STATE_FAILS="1")
    assert done.returncode != 0
    assert [shlex.split(line)[1] for line in log] == ["init", "state"]
    assert summary == ""



def test_plan_blocks_removing_a_deleted_tenant_until_its_destroy_is_recorded(repo, run) -> None:
    acme = "specs/tenants/acme-corp.yaml"
    repo.edit(acme, "lifecycle: active", "lifecycle: offboarding")
    repo.edit(acme, "status: active", "status: cancelled")
    repo.commit("offboard acme")
    repo.edit(acme, "lifecycle: offboarding", 'lifecycle: deleted\n  lifecycleSince: "2026-11-02"')
    repo.commit("delete acme")
    deleted = repo.read(acme)
    repo.remove(acme)
    code, out, _ = run(repo.root, "plan", "specs", "--no-terraform", "--base", "HEAD")
    assert code == 1
    assert "error[PB0661] Tenant/acme-corp: tenant 'acme-corp' is removed before the destroy of its stack " \
           "was recorded" in out
    repo.write(acme, deleted.replace("  lifecycleSince:", '  decommission: {destroyedAt: "2026-12-08"}\n'
                                     "  lifecycleSince:"))
    repo.commit("record the destroy of acme")
    repo.remove(acme)
    code, out, _ = run(repo.root, "plan", "specs", "--no-terraform", "--base", "HEAD")
    assert code == 0, out
    assert "PB0661" not in out
