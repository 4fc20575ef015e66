"""``paybill apply drift`` and ``drift-report``: the nightly "is the cloud what git compiled?" check.

Run as a user runs them (the CLI, in a workspace with ``generated/``), against the fake ``terraform``
at the process boundary (tests/apply/fake_terraform.py: real Terraform cannot be downloaded here and
would need a cloud): ``plan -detailed-exitcode`` answers 2 with a saved plan for the stacks a test
marks as drifted, and ``show -json`` prints that plan as Terraform's JSON output format does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from paybill.apply.drift import parse_shard, shard_stacks
from paybill.apply.drift_report import BODY_BUDGET, build_report, render_markdown
from paybill.apply.manifest import parse_manifest

from .support import Workspace, make_workspace, manifest, stack

SECRET = "hunter2-db-password"


def paybill(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "paybill", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120, check=False)


def drifted_plan(*changed: str) -> str:
    """A plan as ``terraform show -json`` prints it: each resource changed outside Terraform, an update
    to put it back, a no-op beside it, and attribute values (one sensitive) that must never be shown."""
    return json.dumps({
        "format_version": "1.2", "terraform_version": "1.9.8",
        "resource_drift": [{"address": a, "change": {"actions": ["update"], "before": {"password": SECRET},
                                                     "after": {"password": "changed"}}} for a in changed],
        "resource_changes": [
            *({"address": a, "change": {"actions": ["update"], "before": {"password": SECRET}}} for a in changed),
            {"address": "aws_kms_key.tenant", "change": {"actions": ["no-op"]}},
            {"address": "data.aws_caller_identity.current", "change": {"actions": ["read"]}}],
        "future_key": {"ignored": True}})


def fleet(tmp_path: Path) -> tuple[Workspace, dict[str, str]]:
    ws = make_workspace(tmp_path)
    ws.write(manifest([stack("pool/shared", resources=40), stack("tenant/acme", wave=2, resources=12),
                       stack("tenant/hooli", wave=2, resources=9), stack("tenant/initech", wave=2, resources=9)]))
    (tmp_path / "drift").mkdir()
    return ws, ws.env(FAKE_DRIFT=str(tmp_path / "drift"))


def mark_drifted(tmp_path: Path, address: str, *resources: str) -> None:
    (tmp_path / "drift" / f"generated/terraform/{address}".replace("/", "_")).write_text(drifted_plan(*resources))


def test_a_clean_fleet_reports_no_drift_and_changes_nothing(tmp_path: Path) -> None:
    ws, env = fleet(tmp_path)
    for k in (1, 2):
        done = paybill(tmp_path, "apply", "drift", "--shard", f"{k}/2", "--terraform", ws.terraform,
                       "--commit", "c0ffee", env=env)
        assert done.returncode == 0, done.stdout + done.stderr
    report = paybill(tmp_path, "apply", "drift-report", "--commit", "c0ffee", env=env)
    assert report.returncode == 0, report.stdout + report.stderr
    assert report.stdout == "no drift: all 4 stacks are what git compiled\n"
    commands = {c["args"][0] for c in ws.calls()}
    assert commands == {"init", "plan"}, "read only: no apply, no destroy, nothing shown when nothing changed"
    plans = [c["args"] for c in ws.calls() if c["args"][0] == "plan"]
    assert len(plans) == 4 and all("-lock=false" in a and "-detailed-exitcode" in a for a in plans)
    assert sorted(p.name for p in (tmp_path / "generated").rglob("*") if p.is_file()) == \
        ["main.tf.json"] * 4 + ["manifest.json"], "Terraform's working files stay out of generated/"


def test_drift_is_reported_per_stack_with_resource_addresses_and_never_a_value(tmp_path: Path) -> None:
    ws, env = fleet(tmp_path)
    mark_drifted(tmp_path, "tenant/hooli", "aws_s3_bucket_policy.data", "aws_iam_role.agent")
    run = paybill(tmp_path, "apply", "drift", "--shard", "1/1", "--terraform", ws.terraform, "--commit", "c0ffee",
                  env=env)
    assert run.returncode == 0, run.stdout + run.stderr  # drift is a finding, not a failed check
    assert "drift tenant/hooli: drifted" in run.stdout and "drift shard 1/1: 1 drifted, 3 in-sync" in run.stdout
    text = paybill(tmp_path, "apply", "drift-report", env=env)
    assert text.returncode == 1
    assert text.stdout.startswith("generated/terraform/tenant/hooli/main.tf.json:1:1: error[PB1220]: stack "
                                  "tenant/hooli differs from git: 2 resources changed outside Terraform, an apply "
                                  "would change 2\n  hint: apply it again from git"), text.stdout
    assert "specs/tenants/hooli.yaml" in text.stdout
    body = paybill(tmp_path, "apply", "drift-report", "--format", "markdown", env=env)
    assert body.returncode == 1
    assert "4 stacks at commit `c0ffee`: 1 differs from git, 0 could not be checked, 0 not checked." in body.stdout
    assert "| `tenant/hooli` | `specs/tenants/hooli.yaml` | `aws_iam_role.agent` (update), " \
           "`aws_s3_bucket_policy.data` (update) |" in body.stdout, body.stdout
    assert "aws_kms_key.tenant" not in body.stdout and "data.aws_caller_identity" not in body.stdout, \
        "no-ops and data reads are not drift"
    results = (tmp_path / "drift-results" / "drift-1-of-1.json").read_text()
    assert not list(tmp_path.rglob("drift.tfplan")), "the saved plans (values in clear) are not left behind"
    for where in (run.stdout, run.stderr, results, text.stdout, body.stdout):
        assert SECRET not in where, "a plan's attribute values (sensitive ones in clear) are never written"
    data = json.loads(paybill(tmp_path, "apply", "drift-report", "--format", "json", env=env).stdout)
    assert [d["address"] for d in data["drifted"]] == ["tenant/hooli"] and data["clean"] is False


def test_a_stack_that_cannot_be_planned_is_never_counted_in_sync(tmp_path: Path) -> None:
    ws, env = fleet(tmp_path)
    ws.fails = [{"dir": "tenant/acme", "command": "plan", "times": 99, "code": 1,
                 "output": "Error: error configuring S3 Backend: AccessDenied: not authorized"},
                {"dir": "tenant/initech", "command": "plan", "times": 1, "code": 1,
                 "output": "Error: RequestLimitExceeded: Request limit exceeded"}]
    env = ws.env(FAKE_DRIFT=str(tmp_path / "drift"))
    run = paybill(tmp_path, "apply", "drift", "--shard", "1/1", "--terraform", ws.terraform, "--backoff", "0",
                  "--commit", "c0ffee", env=env)
    assert run.returncode == 1
    assert "generated/terraform/tenant/acme/main.tf.json:1:1: error[PB1206]: terraform plan failed for tenant/acme: " \
           "Error: error configuring S3 Backend: AccessDenied: not authorized" in run.stderr, run.stderr
    assert "a stack that cannot be planned is never reported as in sync" in run.stderr
    assert "tenant/initech" not in run.stderr, "a throttled plan is retried and then succeeds"
    report = paybill(tmp_path, "apply", "drift-report", env=env)
    assert report.returncode == 1 and "error[PB1206]: stack tenant/acme could not be checked" in report.stdout
    assert "PB1220" not in report.stdout


def test_a_missing_or_unfinished_shard_makes_the_report_incomplete_not_clean(tmp_path: Path) -> None:
    ws, env = fleet(tmp_path)
    assert paybill(tmp_path, "apply", "drift", "--shard", "1/2", "--terraform", ws.terraform, "--commit", "c0ffee",
                   env=env).returncode == 0
    report = paybill(tmp_path, "apply", "drift-report", env=env)  # shard 2/2 never ran
    assert report.returncode == 1
    assert "error[PB1221]: 1 of 4 stacks were not checked (" in report.stdout or \
           "error[PB1221]: 3 of 4 stacks were not checked (" in report.stdout, report.stdout
    assert paybill(tmp_path, "apply", "drift", "--shard", "2/2", "--terraform", ws.terraform, "--commit", "c0ffee",
                   env=env).returncode == 0
    assert paybill(tmp_path, "apply", "drift-report", env=env).returncode == 0
    # a shard killed half-way leaves its file marked unfinished: its stacks were not all checked
    results = tmp_path / "drift-results" / "drift-2-of-2.json"
    document = json.loads(results.read_text())
    results.write_text(json.dumps({**document, "complete": False}))
    unfinished = paybill(tmp_path, "apply", "drift-report", env=env)
    assert unfinished.returncode == 1 and "its shard did not finish" in unfinished.stdout, unfinished.stdout
    # results of yesterday's commit are not today's verdict
    results.write_text(json.dumps({**document, "commit": "0ld"}))
    other = paybill(tmp_path, "apply", "drift-report", "--commit", "c0ffee", env=env)
    assert other.returncode == 1 and "results of commit 0ld, not c0ffee: not used" in other.stdout, other.stdout
    # a stack recompiled since the check (another hash) was not checked in its current form
    ws.write(manifest([stack("pool/shared", resources=40),
                       stack("tenant/acme", wave=2, resources=12, hash="sha256:new"),
                       stack("tenant/hooli", wave=2, resources=9), stack("tenant/initech", wave=2, resources=9)]))
    results.write_text(json.dumps(document))
    stale = paybill(tmp_path, "apply", "drift-report", env=env)
    assert stale.returncode == 1 and "1 of 4 stacks were not checked (tenant/acme)" in stale.stdout, stale.stdout


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    ws, env = fleet(tmp_path)
    for shard in ("0/2", "3/2", "2", "a/b", "1/1001", "-1/2"):
        done = paybill(tmp_path, "apply", "drift", "--shard", shard, "--terraform", ws.terraform, env=env)
        assert done.returncode == 2 and "is not K/N" in done.stderr and "Traceback" not in done.stderr, shard
    no_manifest = paybill(tmp_path, "apply", "drift-report", "--manifest", "nowhere.json", env=env)
    assert no_manifest.returncode == 1 and "error[PB1201]" in no_manifest.stderr


def test_show_output_that_is_not_a_plan_is_a_failure_not_a_clean_stack(tmp_path: Path) -> None:
    ws, env = fleet(tmp_path)
    (tmp_path / "drift" / "generated_terraform_tenant_acme").write_text('{"format_version": "2.0"}')
    run = paybill(tmp_path, "apply", "drift", "--shard", "1/1", "--terraform", ws.terraform, env=env)
    assert run.returncode == 1
    assert "unsupported plan format_version '2.0' (paybill reads 1.x)" in run.stderr, run.stderr


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 500), st.booleans()), min_size=1, max_size=40), st.integers(1, 12))
def test_every_stack_is_in_exactly_one_shard(sizes: list[tuple[int, bool]], count: int) -> None:
    document = manifest([stack(f"tenant/t{i}", wave=2 if pooled else 1, resources=n)
                         for i, (n, pooled) in enumerate(sizes)])
    parsed = parse_manifest(document, "generated/manifest.json")
    shards = [[s.address for s in shard_stacks(parsed, k, count)] for k in range(1, count + 1)]
    flat = [a for shard in shards for a in shard]
    assert sorted(flat) == sorted(s.address for s in parsed.stacks)
    assert parse_shard(f"{count}/{count}") == (count, count)


def test_a_huge_drift_stays_under_githubs_issue_body_limit_and_resource_keys_cannot_inject(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path)
    stacks = [stack(f"tenant/t{i:05d}", resources=3) for i in range(3000)]
    path = ws.write(manifest(stacks))
    hostile = 'aws_s3_object.files["x` **APPROVED** <!-- |"]'
    records = [{"address": s["address"], "hash": s["hash"], "sources": s["sources"], "status": "drifted",
                "drift": [{"address": hostile, "actions": ["update"]}] * 7,
                "changes": [{"address": hostile, "actions": ["delete", "create"]}]} for s in stacks]
    (tmp_path / "drift-results").mkdir()
    (tmp_path / "drift-results" / "drift-1-of-1.json").write_text(json.dumps(
        {"kind": "DriftResults", "shard": "1/1", "commit": "c0ffee", "complete": True, "stacks": records}))
    report = build_report(parse_manifest(json.loads(path.read_text()), "m"), [tmp_path / "drift-results"], None)
    body = render_markdown(report)
    assert len(body) < 65_536 and len(body) <= BODY_BUDGET + 2_500
    assert "more drifted stacks" in body and "and 2 more" in body
    tokens = MarkdownIt("commonmark").enable("table").parse(body)
    inline = [t for t in tokens if t.type == "inline"]
    assert not [c for t in inline for c in t.children or [] if c.type in ("html_inline", "strong_open")], \
        "a resource key is shown as code, never as markup"


@pytest.mark.parametrize("shard", ["1/1", "2/3"])
def test_results_file_is_named_by_shard(tmp_path: Path, shard: str) -> None:
    ws, env = fleet(tmp_path)
    assert paybill(tmp_path, "apply", "drift", "--shard", shard, "--terraform", ws.terraform, env=env).returncode == 0
    k, n = shard.split("/")
    assert json.loads((tmp_path / "drift-results" / f"drift-{k}-of-{n}.json").read_text())["complete"] is True


def test_an_unwritable_results_folder_or_working_folder_is_a_clear_failure(tmp_path: Path) -> None:
    ws, env = fleet(tmp_path)
    (tmp_path / "a-file").write_text("not a folder")
    done = paybill(tmp_path, "apply", "drift", "--shard", "1/1", "--terraform", ws.terraform,
                   "--results", "a-file/results", env=env)
    assert done.returncode == 1 and "paybill: cannot write the drift results to a-file/results" in done.stderr, \
        done.stderr
    assert "Traceback" not in done.stderr
    (tmp_path / ".paybill").write_text("a file where Terraform's working folders go")
    stuck = paybill(tmp_path, "apply", "drift", "--shard", "1/1", "--terraform", ws.terraform, env=env)
    assert stuck.returncode == 1 and "Traceback" not in stuck.stderr, stuck.stderr
    assert "error[PB1206]: cannot prepare the check of pool/shared" in stuck.stderr, stuck.stderr
    report = paybill(tmp_path, "apply", "drift-report", env=env)
    assert report.returncode == 1 and "could not be checked" in report.stdout


def test_hostile_results_are_set_aside_never_trusted_and_a_fifo_is_not_waited_on(tmp_path: Path) -> None:
    _, env = fleet(tmp_path)
    results = tmp_path / "drift-results"
    results.mkdir()
    os.mkfifo(results / "drift-9-of-9.json")
    (results / "broken.json").write_text("{not json")
    (results / "forged.json").write_text(json.dumps(
        {"kind": "DriftResults", "shard": "1/1", "commit": None, "complete": True,
         "stacks": [{"address": "pool/shared", "hash": "sha256:pool/shared", "status": "in-sync",
                     "drift": "everything"}, ["not", "a", "record"]]}))
    done = subprocess.run([sys.executable, "-m", "paybill", "apply", "drift-report"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert "4 of 4 stacks were not checked" in done.stdout, done.stdout
    assert "broken.json: unreadable" in done.stdout and "forged.json: 2 records are not what paybill writes" \
        in done.stdout, done.stdout


def test_without_terraform_the_shard_fails_once_and_the_report_says_every_stack_could_not_be_checked(
        tmp_path: Path) -> None:
    _, env = fleet(tmp_path)
    done = paybill(tmp_path, "apply", "drift", "--shard", "1/1", "--terraform", "no-such-terraform", env=env)
    assert done.returncode == 1 and done.stderr.count("error[PB1208]") == 1, done.stderr
    assert "cannot run 'no-such-terraform': not an executable on PATH" in done.stderr
    report = paybill(tmp_path, "apply", "drift-report", env=env)
    assert report.returncode == 1 and report.stdout.count("error[PB1208]: stack ") == 4, report.stdout
