"""``paybill apply run``: Terraform per stack, retries, resume, destroy, migrations, parallelism.

Real Terraform (or OpenTofu) cannot be downloaded here and would need cloud credentials, so these
tests run the real runner against a fake ``terraform`` executable at the process boundary
(fake_terraform.py): it records every call and fails on demand. What is tested is what paybill asks
Terraform to do, in which folder, in which order, how often, and what it records.
"""

from __future__ import annotations

import datetime
import json
import stat
import sys
import threading
import time
from pathlib import Path

import pytest

from paybill.apply.manifest import parse_manifest
from paybill.apply.runner import RunOptions, run_shard
from paybill.apply.schedule import plan_jobs

from .support import Workspace, make_workspace, manifest, removed, stack

NOV_9 = datetime.date(2026, 11, 9)


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return make_workspace(tmp_path / "repo")


def options(ws: Workspace, **extra) -> RunOptions:
    env = extra.pop("env", {})
    return RunOptions(generated=ws.generated, results=ws.root / "results", terraform=ws.terraform,
                      parallelism=extra.pop("parallelism", 1), retries=extra.pop("retries", 3), backoff=0.0,
                      commit=extra.pop("commit", "c0ffee"), env=ws.env(**env), today="2026-11-10",
                      sleep=lambda _s: None, **extra)


def shard_of(ws: Workspace, document: dict, **plan_args):
    ws.write(document)
    plan = plan_jobs(parse_manifest(document, "m"), None, today=NOV_9, **plan_args)
    return plan


def only_shard(ws: Workspace, document: dict):
    plan = shard_of(ws, document, shards_per_phase=1)
    assert len(plan.phases) == 1
    return plan.phases[0].shards[0]


def test_each_stack_is_initialised_planned_and_applied_from_its_saved_plan(ws) -> None:
    shard = only_shard(ws, manifest([stack("tenant/a"), stack("tenant/b")]))
    outcome = run_shard(shard, options(ws), echo=lambda _l: None)
    assert outcome.ok
    a, b = "generated/terraform/tenant/a", "generated/terraform/tenant/b"
    work = ws.root / ".paybill" / "terraform"
    assert ws.lines() == [
        f"{a} init -input=false -no-color", f"{a} plan -input=false -no-color -out={work}/tenant/a/tfplan",
        f"{a} apply -input=false -no-color {work}/tenant/a/tfplan",
        f"{b} init -input=false -no-color", f"{b} plan -input=false -no-color -out={work}/tenant/b/tfplan",
        f"{b} apply -input=false -no-color {work}/tenant/b/tfplan"]
    results = json.loads((ws.root / "results" / f"shard-{shard.id}.json").read_text())
    assert [(r["address"], r["status"], r["commit"], r["attempts"]) for r in results["stacks"]] == [
        ("tenant/a", "applied", "c0ffee", 1), ("tenant/b", "applied", "c0ffee", 1)]


def test_transient_failures_are_retried_and_permanent_ones_are_not(ws) -> None:
    ws.fails = [{"dir": "tenant/a", "command": "apply", "times": 2,
                 "output": "Error: creating IAM Role: RequestLimitExceeded: Request limit exceeded."},
                {"dir": "tenant/b", "command": "plan", "times": 1,
                 "output": "Error: creating IAM Role: LimitExceeded: Cannot exceed quota for RolesPerAccount: 1000"}]
    shard = only_shard(ws, manifest([stack("tenant/a"), stack("tenant/b"), stack("tenant/c")]))
    outcome = run_shard(shard, options(ws), echo=lambda _l: None)
    status = {r.address: (r.status, r.attempts, r.code) for r in outcome.records}
    assert status == {"tenant/a": ("applied", 3, None), "tenant/b": ("failed", 1, "PB1206"),
                      "tenant/c": ("applied", 1, None)}
    calls = [line.split()[1] for line in ws.lines() if "tenant/a" in line]
    assert calls == ["init", "plan", "apply"] * 3  # a retry starts again from init (the saved plan is stale)
    [problem] = outcome.problems
    assert problem.render().startswith("generated/terraform/tenant/b/main.tf.json:1:1: error[PB1206]: terraform "
                                       "plan failed for tenant/b: Error: creating IAM Role: LimitExceeded")


def test_retries_are_bounded(ws) -> None:
    ws.fails = [{"dir": "tenant/a", "command": "init", "times": 99,
                 "output": "Error: Failed to query available provider packages: 503 Service Unavailable"}]
    shard = only_shard(ws, manifest([stack("tenant/a")]))
    outcome = run_shard(shard, options(ws, retries=2), echo=lambda _l: None)
    [record] = outcome.records
    assert (record.status, record.attempts, record.code) == ("failed", 3, "PB1207")
    assert len(ws.calls()) == 3
    assert "still failing after 3 attempts" in outcome.problems[0].message


def test_a_rerun_resumes_skipping_what_was_applied_at_this_commit(ws) -> None:
    ws.fails = [{"dir": "tenant/b", "command": "apply", "times": 1, "output": "Error: AccessDenied"}]
    shard = only_shard(ws, manifest([stack("tenant/a"), stack("tenant/b"), stack("tenant/c")]))
    first = run_shard(shard, options(ws), echo=lambda _l: None)
    assert not first.ok
    artifact = ws.root / "artifact-attempt-1"
    (ws.root / "results").rename(artifact)
    (ws.root / "log").unlink()
    second = run_shard(shard, options(ws, resume=(artifact,)), echo=lambda _l: None)
    assert second.ok
    assert {r.address: r.status for r in second.records} == {"tenant/a": "skipped", "tenant/b": "applied",
                                                            "tenant/c": "skipped"}
    assert {line.split()[0] for line in ws.lines()} == {"generated/terraform/tenant/b"}
    # another commit applies everything again; a results file that is not ours is never trusted
    (artifact / "forged.json").write_text(json.dumps({"kind": "Other", "stacks": []}))
    (ws.root / "log").unlink()
    third = run_shard(shard, options(ws, resume=(artifact,), commit="later"), echo=lambda _l: None)
    assert third.ok and len({line.split()[0] for line in ws.lines()}) == 3


def test_destroy_lifts_protections_still_in_state_then_destroys(ws) -> None:
    document = manifest([], [removed("tenant/acme", unprotect=("aws_db_instance.main", "aws_s3_bucket.data")),
                             removed("tenant/done", unprotect=("aws_db_instance.main",))])
    ws.states = {"tenant/acme": ["aws_db_instance.main", "aws_kms_key.data", "aws_vpc.main"], "tenant/done": []}
    shard = only_shard(ws, document)
    summary = ws.root / "summary.md"
    outcome = run_shard(shard, options(ws, summary=summary), echo=lambda _l: None)
    assert outcome.ok
    acme, done = "generated/terraform/removed/tenant/acme", "generated/terraform/removed/tenant/done"
    assert ws.lines() == [
        f"{acme} init -input=false -no-color", f"{acme} state list",
        f"{acme} apply -input=false -no-color -auto-approve -target=aws_db_instance.main",
        f"{acme} destroy -input=false -no-color -auto-approve",
        # already destroyed by an earlier run: never applied again (that would create it)
        f"{done} init -input=false -no-color", f"{done} state list"]
    text = summary.read_text()
    assert "`tenant/acme` destroyed (state empty) on 2026-11-10" in text and "specs/tenants/acme.yaml" in text
    assert 'decommission: {destroyedAt: "2026-11-10"}' in text


def test_a_pooled_tenants_destroy_says_its_rows_in_the_pool_database_are_still_to_erase(ws) -> None:
    """Found deleting a pooled tenant end to end: the destroy summary said to record destroyedAt, after which
    the tenant's file may be removed; its rows in the pool's database are not part of the stack, and
    `paybill db erase` needs the tenant deleted at HEAD, so removing the file first left them for good.
    A silo tenant's database goes with its stack: nothing to say."""
    document = manifest([], [removed("tenant/pooled"), removed("tenant/silo")])
    ws.states = {"tenant/pooled": ["aws_iam_role.tenant"], "tenant/silo": ["aws_db_instance.main"]}
    shard = only_shard(ws, document)
    (ws.generated / "tenants").mkdir(parents=True)
    for name, database in (("pooled", "pooled"), ("silo", "silo")):
        (ws.generated / "tenants" / f"{name}.json").write_text(json.dumps(
            {"tenant": name, "lifecycle": "deleted", "isolation": {"model": database, "layers": {"database": database}},
             "placement": {"cloud": "aws-prod", "region": "us-east-1",
                           "pool": "aws-use1-shared" if database == "pooled" else None}}))
    summary = ws.root / "summary.md"
    assert run_shard(shard, options(ws, summary=summary), echo=lambda _l: None).ok
    pooled, silo = summary.read_text().split("- `tenant/silo`")
    assert "Its rows in pool aws-use1-shared's database are not part of that stack" in pooled
    assert ("`paybill db erase --tenant pooled --database-url URL generated/sql/pool-aws-use1-shared "
            "--export-manifest DIR/manifest.json`") in pooled
    assert "rows" not in silo


def test_destroy_fails_closed_when_the_state_cannot_be_read(ws) -> None:
    ws.fails = [{"dir": "removed/tenant/acme", "command": "state", "times": 99,
                 "output": "Error: error loading state: AccessDenied: Access Denied"}]
    ws.states = {"tenant/acme": ["aws_db_instance.main"]}
    shard = only_shard(ws, manifest([], [removed("tenant/acme", unprotect=("aws_db_instance.main",))]))
    summary = ws.root / "summary.md"
    outcome = run_shard(shard, options(ws, summary=summary), echo=lambda _l: None)
    assert [p.code for p in outcome.problems] == ["PB1206"]
    assert [line.split()[1] for line in ws.lines()] == ["init", "state"]  # not retried: AccessDenied
    assert not summary.exists()


def test_a_stack_without_configuration_fails_without_running_terraform(ws) -> None:
    shard = only_shard(ws, manifest([stack("tenant/a")]))
    (ws.generated / "terraform" / "tenant" / "a" / "main.tf.json").unlink()
    outcome = run_shard(shard, options(ws), echo=lambda _l: None)
    assert [p.code for p in outcome.problems] == ["PB1205"] and ws.calls() == []


def test_a_missing_terraform_executable_is_reported_once_for_the_shard(ws) -> None:
    """Found driving the README's flow: a shard of three stacks printed PB1208 three times."""
    shard = only_shard(ws, manifest([stack("tenant/a"), stack("tenant/b"), stack("tenant/c")]))
    outcome = run_shard(shard, RunOptions(generated=ws.generated, results=ws.root / "r",
                                          terraform=str(ws.root / "no-such-tofu"), backoff=0,
                                          sleep=lambda _s: None), echo=lambda _l: None)
    [problem] = outcome.problems
    assert problem.code == "PB1208" and "no-such-tofu" in problem.message
    assert [(r.address, r.status, r.attempts) for r in outcome.records] == [
        ("tenant/a", "failed", 0), ("tenant/b", "failed", 0), ("tenant/c", "failed", 0)]
    results = json.loads((ws.root / "r" / f"shard-{shard.id}.json").read_text())
    assert [r["status"] for r in results["stacks"]] == ["failed"] * 3


def test_parallelism_is_bounded(ws) -> None:
    shard = only_shard(ws, manifest([stack(f"tenant/t{i}") for i in range(6)]))
    outcome = run_shard(shard, options(ws, parallelism=2, env={"FAKE_SLEEP": "0.3"}), echo=lambda _l: None)
    assert outcome.ok
    spans = [(c["t0"], c["t1"]) for c in ws.calls() if c["args"][0] == "apply"]
    most = max(sum(1 for s in spans if s[0] <= t < s[1]) for t, _ in spans)
    assert most == 2  # two at once, never three


def fake_migrate(ws: Workspace) -> tuple[str, ...]:
    """`paybill db migrate` stand-in: records the folder and the URL it got (the real one is tested on
    PostgreSQL in tests/dbops); fails with the status in $FAKE_MIGRATE_EXIT once if set."""
    script = ws.root / "bin" / "migrate"
    script.write_text(f"""#!{sys.executable}
import os, sys, pathlib
log = pathlib.Path(os.environ["FAKE_LOG"]).with_name("migrate.log")
flag = log.with_name("migrate.failed")
code = int(os.environ.get("FAKE_MIGRATE_EXIT", "0"))
if code and not flag.exists():
    flag.write_text("x"); sys.exit(code)
with open(os.environ["FAKE_LOG"], "a") as f:
    import json, time
    f.write(json.dumps({{"dir": sys.argv[-1].split("generated/")[-1],
                        "args": ["migrate", os.environ["PAYBILL_DATABASE_URL"]],
                        "t0": time.time(), "t1": time.time(), "code": 0}}) + "\\n")
""")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return (str(script),)


def test_migrations_run_right_after_the_stack_that_creates_the_database(ws) -> None:
    document = manifest([stack("tenant/a"), stack("tenant/b")], sql={"sql/tenant-a": "sha256:1"})
    shard = only_shard(ws, document)
    outcome = run_shard(shard, options(ws, migrate_command=fake_migrate(ws),
                                       database_url_command='echo "postgresql://db/$STACK"',
                                       env={"FAKE_MIGRATE_EXIT": "4"}), echo=lambda _l: None)
    assert outcome.ok, outcome.problems
    lines = ws.lines()
    a = "generated/terraform/tenant/a"
    # exit 4 (lock held) is retried: the stack is applied again (a no-op) and migrated
    plan = ws.root / ".paybill" / "terraform" / "tenant" / "a" / "tfplan"
    assert lines[:7] == [f"{a} init -input=false -no-color", f"{a} plan -input=false -no-color -out={plan}",
                         f"{a} apply -input=false -no-color {plan}",
                         f"{a} init -input=false -no-color", f"{a} plan -input=false -no-color -out={plan}",
                         f"{a} apply -input=false -no-color {plan}", "sql/tenant-a migrate postgresql://db/tenant/a"]
    assert not any("migrate" in line for line in lines[7:])


def test_migrations_without_a_database_url_command_fail_loudly(ws) -> None:
    shard = only_shard(ws, manifest([stack("tenant/a")], sql={"sql/tenant-a": "sha256:1"}))
    outcome = run_shard(shard, options(ws, migrate_command=fake_migrate(ws)), echo=lambda _l: None)
    [problem] = outcome.problems
    assert problem.code == "PB1209" and "PAYBILL_DATABASE_URL_COMMAND" in (problem.hint or "")
    assert problem.path == "generated/terraform/tenant/a/main.tf.json"


def test_a_missing_database_url_command_stops_the_shard_before_terraform_runs(ws) -> None:
    """Found driving the README's flow: without the command, every stack of the shard used to be applied
    first and the shard failed afterwards, leaving a created database unmigrated. It is known up front."""
    shard = only_shard(ws, manifest([stack("tenant/a"), stack("tenant/b")], sql={"sql/tenant-a": "sha256:1"}))
    outcome = run_shard(shard, options(ws, migrate_command=fake_migrate(ws)), echo=lambda _l: None)
    assert [p.code for p in outcome.problems] == ["PB1209"]
    assert ws.calls() == []  # not even init of tenant/b
    results = json.loads((ws.root / "results" / f"shard-{shard.id}.json").read_text())
    assert [(r["address"], r["status"]) for r in results["stacks"]] == [("tenant/a", "failed")]


def test_two_runs_of_one_shard_into_one_results_folder_take_turns(ws) -> None:
    # Both at once would run Terraform twice in the same stack folders (each `plan -out=tfplan`
    # overwriting the other's saved plan) and overwrite each other's results file.
    shard = only_shard(ws, manifest([stack("tenant/a"), stack("tenant/b")]))
    said: list[str] = []
    outcomes = []
    first_started = threading.Event()

    def first() -> None:
        def echo(line: str) -> None:
            first_started.set()
            time.sleep(0.3)  # the second run starts while this one is under way
        outcomes.append(run_shard(shard, options(ws, env={"FAKE_SLEEP": "0.2"}), echo=echo))

    thread = threading.Thread(target=first)
    thread.start()
    assert first_started.wait(10)
    second = run_shard(shard, options(ws), echo=said.append)
    thread.join()
    assert outcomes[0].ok and second.ok
    assert said[0].startswith(f"shard {shard.id}: another paybill apply run of this shard is writing to ")
    assert {r.address: r.status for r in second.records} == {"tenant/a": "skipped", "tenant/b": "skipped"}
    applies = [line.split()[0] for line in ws.lines() if line.split()[1] == "apply"]
    assert sorted(applies) == ["generated/terraform/tenant/a", "generated/terraform/tenant/b"]
    results = json.loads((ws.root / "results" / f"shard-{shard.id}.json").read_text())
    assert {r["address"]: r["status"] for r in results["stacks"]} == {"tenant/a": "skipped", "tenant/b": "skipped"}
