"""The workflows users copy, run: import, an agent's pull request reviewed by CI, merge, apply, re-run.

``.github/workflows/paybill-pr.yml``, ``paybill-apply.yml`` and ``paybill-apply-shard.yml`` are
executed from the files themselves by a local runner (:mod:`e2e.actions_runner`), on a real git
repository pushed to a bare "origin", with the paybill under test, a real PostgreSQL for the
migrations, and doubles only at the process boundary (:mod:`e2e.actions_doubles`: checkout from the
bare origin, artifacts in a folder, ``github-script`` run under Node, ``terraform`` the recording
``tests/apply/fake_terraform.py``; pip installs are recorded, not run; the checkov step runs in
``tests/terraform/test_checkov.py`` instead). GitHub itself cannot run here; everything paybill writes
into those files does.

One flow, in order:

0. (drift) after the import, the nightly drift workflow finds nothing; a hand-made change that weakens
   row-level security opens one issue (updated, not duplicated, the next night), closed once fixed; a
   stack changed outside Terraform opens the infrastructure issue, closed once it is back;
1. the fleet is imported: the push runs the apply workflow; its job plan fans out into phase jobs and
   shard jobs (reusable workflow, matrix from ``fromJSON``), every stack is applied once in dependency
   order and every database migrated through ``PAYBILL_DATABASE_URL_COMMAND``;
2. the billing agent, connected over MCP (``paybill serve``, the official client) to the pool database
   apply migrated, walks its dunning workflow and in its propose step calls ``propose_change``: a
   branch; it is pushed and the review
   workflow validates, checks ``generated/`` is fresh, plans against the merge base and posts the
   plan as one pull-request comment;
3. a person pushes to the agent's branch and forgets to recompile: the freshness check fails (and posts
   nothing); recompiled, the plan judges the person's commit as the agent's (every commit on
   ``paybill/<agent>/...`` is) and fails in the same comment, updated in place; the person takes the
   change over on a branch of their own, whose pull request passes;
4. the merge is pushed: apply touches exactly the stacks whose compiled configuration changed;
5. a pull request with a lifecycle move paybill blocks (active -> onboarding) gets its plan comment and a failed check.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from psycopg import sql

from db.pg_support import DSN, admin, drop_roles, paybill_roles, require_server
from e2e.actions_doubles import GH_DOUBLE, GitHubSide
from e2e.actions_runner import JobRecord, Runner
from e2e.harness import Repo, changed_stacks, manifest_at, terraform_calls

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ("paybill-pr.yml", "paybill-apply.yml", "paybill-apply-shard.yml", "paybill-drift.yml")
PLATFORM = ("Priya Platform", "priya@example.com")
ZERO = "0" * 40
MARKER = "<!-- paybill-plan -->"
CHECKOV = "checkov over the generated Terraform"

DATABASE_URL_COMMAND = '''
import json, os, re, sys
import psycopg
stack, record, dsn = os.environ["STACK"], os.environ["WF_DATABASES"], os.environ["WF_ADMIN_DSN"]
name = "pbwf_" + os.environ["WF_PREFIX"] + "_" + re.sub(r"[^a-z0-9]+", "_", stack.lower())[:40]
with psycopg.connect(dsn, autocommit=True) as conn:
    if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
        conn.execute("CREATE DATABASE " + name)
        with open(record, "a") as handle:
            handle.write(json.dumps({"stack": stack, "database": name}) + "\\n")
params = psycopg.conninfo.conninfo_to_dict(dsn)
params["dbname"] = name
print(psycopg.conninfo.make_conninfo(**params))
'''


@dataclass
class Flow:
    repo: Repo
    work: Path
    side: GitHubSide
    runs: int = 0
    logins: list[str] = field(default_factory=list)

    @property
    def fake_log(self) -> Path:
        return self.work / "terraform.jsonl"

    def calls(self) -> list[dict[str, Any]]:
        return terraform_calls(self.fake_log)

    def push(self, ref: str) -> None:
        self.repo.git("push", "--quiet", "--force", "origin", f"{ref}:refs/heads/{ref}")

    def runner(self, github: dict[str, Any], replaced: dict[str, str] | None = None) -> Runner:
        self.runs += 1
        preinstalled = str(self.work / "preinstalled")  # what GitHub's ubuntu image has: gh (a double), jq, git
        env = {**self.repo.env,
               "PATH": os.pathsep.join([preinstalled, str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin",
                                        "/bin"]), "GH_STATE": str(self.work / "gh.json"),
               "HOME": str(self.work / "home"), "LANG": "C.UTF-8", "PIP_LOG": str(self.work / "pip.log"),
               "FAKE_LOG": str(self.fake_log), "FAKE_STATES": str(self.work / "states"),
               "FAKE_COUNTERS": str(self.work / "counters"), "FAKE_DRIFT": str(self.work / "drift"),
               "FAKE_FAILS": str(self.work / "fails.json"), "WF_DATABASES": str(self.work / "databases.jsonl"),
               "WF_ADMIN_DSN": DSN, "WF_PREFIX": f"{os.getpid()}"}
        env.pop("VIRTUAL_ENV", None)
        url_command = f'"{sys.executable}" "{self.work / "dburl.py"}"'
        return Runner(workflows=self.repo.root / ".github" / "workflows", scratch=self.work / f"run-{self.runs}",
                      github={"repository": "acme/platform", "server_url": "https://github.com", "run_attempt": "1",
                              **github},
                      actions=self.side.doubles(), env=env, replaced=replaced or {},
                      vars={"PAYBILL_PIP_REQUIREMENT": "paybill==0.1.0", "PAYBILL_DATABASE_URL_COMMAND": url_command,
                            "PAYBILL_DRIFT_SHARDS": "3"})

    def fail_apply(self, stack: str | None, message: str = "") -> None:
        """Make the fake terraform's apply fail for one stack (every time), or stop failing."""
        rules = [{"dir": f"generated/terraform/{stack}", "command": "apply", "times": 1000, "output": message,
                  "code": 1}] if stack else []
        (self.work / "fails.json").write_text(json.dumps(rules), encoding="utf-8")

    def head(self, ref: str = "HEAD") -> str:
        return self.repo.git("rev-parse", ref).strip()

    def manifest(self, rev: str) -> dict[str, Any]:
        return manifest_at(self.repo, rev)


@pytest.fixture
def flow(tmp_path: Path) -> Iterator[Flow]:
    require_server()
    assert shutil.which("node"), "Node 20 runs actions/github-script's JavaScript"
    before = paybill_roles()
    work = tmp_path / "work"
    for folder in ("home", "states", "counters", "drift"):
        (work / folder).mkdir(parents=True)
    (work / "dburl.py").write_text(DATABASE_URL_COMMAND, encoding="utf-8")
    (work / "fails.json").write_text("[]", encoding="utf-8")
    (work / "preinstalled").mkdir()
    (work / "gh.py").write_text(GH_DOUBLE, encoding="utf-8")
    gh = work / "preinstalled" / "gh"
    gh.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{work / "gh.py"}" "$@"\n', encoding="utf-8")
    gh.chmod(0o755)
    assert shutil.which("jq"), "jq (on GitHub's runners) reads migrations.json in the drift workflow"
    origin = tmp_path / "origin.git"
    repo = Repo(tmp_path / "platform")
    repo.root.mkdir()
    for folder in ("specs", "policies"):
        shutil.copytree(ROOT / folder, repo.root / folder)
    (repo.root / ".github" / "workflows").mkdir(parents=True)
    for name in WORKFLOWS:
        shutil.copy2(ROOT / ".github" / "workflows" / name, repo.root / ".github" / "workflows" / name)
    repo.git("init", "--quiet", "--initial-branch=main")
    repo.git("init", "--quiet", "--bare", str(origin))
    repo.git("remote", "add", "origin", origin.as_uri())
    state = Flow(repo, work, GitHubSide(origin, work, repo.env))
    yield state
    with admin() as conn:
        for record in recorded_databases(state):
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(record["database"])))
        for login in state.logins:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(login)))
    drop_roles(paybill_roles() - before)


def test_import_review_merge_apply_and_rerun_through_the_shipped_workflows(flow: Flow) -> None:
    import_pushed_and_applied(flow)
    nightly_drift_check(flow)
    branch = agent_proposes(flow)
    reviewed(flow, branch, pr=7)
    taken_over = forgot_to_recompile_then_fixed(flow, branch, pr=7, own_pr=9)
    merged_and_applied(flow, taken_over)
    lifecycle_jump_is_blocked(flow, pr=8)


# -- 1. import ----------------------------------------------------------------------------------------

APPLIED = "refs/paybill/applied/main"
"""Where the apply workflow records the commit its last complete run applied."""


def import_pushed_and_applied(flow: Flow) -> None:
    repo = flow.repo
    repo.paybill("compile")
    sha = repo.commit("Import the fleet", PLATFORM)
    flow.push("main")
    manifest = flow.manifest(sha)
    victim = next(s["address"] for s in manifest["stacks"] if s["dependsOn"])  # not in the first phase
    for removed_stack in manifest["removed"]:  # resources still in the state of stacks the fleet no longer has
        folder = f"generated/{Path(removed_stack['path']).parent.as_posix()}"
        (flow.work / "states" / folder.replace("/", "_")).write_text("aws_db_instance.tenant\n", encoding="utf-8")
    flow.fail_apply(victim, "Error: creating RDS DB Instance: AccessDenied: not authorized")
    runner, _ = apply_run(flow, before=ZERO, sha=sha, run_id="500")
    [failed] = [j for j in runner.jobs if j.result == "failure"]
    assert victim in failed.step("paybill apply run").output, failed.describe()
    later = [j for j in runner.jobs if j.job.startswith("paybill-apply.yml/phase") and j.result == "skipped"]
    assert later, "phases after the failed one do not start"
    assert flow.repo.git("ls-remote", "origin", APPLIED) == "", "a failed run records nothing as applied"

    flow.fail_apply(None)
    jobs = apply_workflow(flow, before=ZERO, sha=sha, run_id="500", attempt="2")  # "Re-run all jobs"
    assert flow.repo.git("ls-remote", "origin", APPLIED).split() == [sha, APPLIED], \
        "the complete run records its commit: the next run plans against it"
    applied = [c["dir"] for c in flow.calls() if c["args"][:1] == ["apply"] and c["code"] == 0]
    assert sorted(applied) == sorted(f"generated/terraform/{s['address']}" for s in manifest["stacks"]), \
        "across both attempts every stack applied exactly once"
    order = {d: i for i, d in enumerate(applied)}
    for s in manifest["stacks"]:
        for needed in s["dependsOn"]:
            assert order[f"generated/terraform/{needed}"] < order[f"generated/terraform/{s['address']}"]
    sql_folders = {name.split("/")[1] for name in manifest["outputs"]["sql"]}
    assert len(flow_databases(flow)) == len(sql_folders), "one database per SQL folder, via the URL command"
    for database in flow_databases(flow):
        assert ledger(database) == 1, database
    assert "pip install --quiet paybill==0.1.0" in (flow.work / "pip.log").read_text(), \
        "the install step takes PAYBILL_PIP_REQUIREMENT"
    removed = [r for r in manifest["removed"] if "retainUntil" in r]
    if jobs["prepare"].outputs["destroys"] != "0":  # a removed stack past its retention: a human approves first
        assert removed and jobs["approve-destroy"].result == "success", jobs["approve-destroy"]
        assert jobs["approve-destroy"].environment == "paybill-destroy"
        plan = json.loads((flow.side.artifacts("500") / "paybill-apply-plan" / "apply-plan.json").read_text())
        doomed = {u["address"] for phase in plan["phases"] for s in phase["shards"] for u in s["units"]
                  if u["action"] == "destroy"}
        folders = {f"generated/{Path(r['path']).parent.as_posix()}" for r in removed if r["address"] in doomed}
        destroyed = [c["dir"] for c in flow.calls() if c["args"][:1] == ["destroy"] and c["code"] == 0]
        assert sorted(destroyed) == sorted(folders) and folders, (destroyed, folders)
    else:
        assert jobs["approve-destroy"].result == "skipped"
    names = sorted(p.name for p in flow.side.artifacts("500").iterdir())
    assert "paybill-apply-plan" in names and any(n.endswith("-2") for n in names), names


# -- drift -------------------------------------------------------------------------------------------------

def nightly_drift_check(flow: Flow) -> None:
    """Clean: no issue. Someone weakens row-level security by hand: one issue, kept up to date, closed once
    fixed. Then someone edits a stack's resources in the console: every stack is planned read only across
    the shard jobs, one infrastructure issue names that stack, and it is closed once the cloud is back."""
    job = drift_workflow(flow)["drift"]
    assert job.result == "success", job.describe()
    assert gh_state(flow)["issues"] == []
    database = flow_databases(flow)[0]
    with psycopg.connect(database_dsn(database), autocommit=True) as conn:
        row = conn.execute("SELECT schemaname, tablename FROM pg_tables WHERE rowsecurity ORDER BY 1, 2").fetchone()
        assert row is not None, "every pooled database has tables under row-level security"
        table = sql.Identifier(*row)
        conn.execute(sql.SQL("ALTER TABLE {} NO FORCE ROW LEVEL SECURITY").format(table))
        for _ in range(2):  # the next night still finds it: the same issue is updated, not a second one
            job = drift_workflow(flow)["drift"]
            assert job.result == "failure", job.describe()
            [issue] = gh_state(flow)["issues"]
            assert issue["state"] == "open" and issue["labels"] == ["paybill-drift"], issue
            assert row[1] in issue["body"], issue["body"]
        conn.execute(sql.SQL("ALTER TABLE {} FORCE ROW LEVEL SECURITY").format(table))
    jobs = drift_workflow(flow)
    assert jobs["drift"].result == "success", jobs["drift"].describe()
    [issue] = gh_state(flow)["issues"]
    assert issue["state"] == "closed" and "No drift any more" in issue["comments"][0], issue
    manifest = flow.manifest(flow.head("main"))
    assert jobs["infrastructure-report"].result == "success", jobs["infrastructure-report"].describe()
    planned = {c["dir"] for c in flow.calls() if c["args"][:1] == ["plan"] and "-detailed-exitcode" in c["args"]}
    assert planned == {f"generated/terraform/{s['address']}" for s in manifest["stacks"]}, \
        "every live stack planned, read only, across the shard jobs"
    shards = json.loads(jobs["infrastructure-shards"].outputs["matrix"])["include"]
    assert [s["shard"] for s in shards] == ["1/3", "2/3", "3/3"], "PAYBILL_DRIFT_SHARDS jobs"
    victim = manifest["stacks"][-1]
    marker = flow.work / "drift" / f"generated/terraform/{victim['address']}".replace("/", "_")
    marker.write_text(json.dumps({"format_version": "1.2", "resource_drift": [
        {"address": "aws_s3_bucket_public_access_block.data", "change": {"actions": ["update"]}}]}))
    jobs = drift_workflow(flow)
    assert jobs["infrastructure-report"].result == "failure", jobs["infrastructure-report"].describe()
    infra = [i for i in gh_state(flow)["issues"] if i["title"] == "paybill drift: infrastructure"]
    assert [i["state"] for i in infra] == ["open"], infra
    assert f"`{victim['address']}`" in infra[0]["body"] and "aws_s3_bucket_public_access_block.data" in infra[0]["body"]
    marker.unlink()
    jobs = drift_workflow(flow)
    assert jobs["infrastructure-report"].result == "success", jobs["infrastructure-report"].describe()
    [infra_issue] = [i for i in gh_state(flow)["issues"] if i["title"] == "paybill drift: infrastructure"]
    assert infra_issue["state"] == "closed" and "No drift any more" in infra_issue["comments"][0], infra_issue


# -- 2, 3. the agent's pull request under review ---------------------------------------------------------

def agent_proposes(flow: Flow) -> str:
    """The billing agent works its dunning workflow over MCP (``paybill serve``, stdio, the official client)
    on the pool database apply migrated, and in its propose step opens the upgrade as a branch."""
    repo = flow.repo
    catalog = "generated/sql/pool-aws-use1-shared"
    stack = json.loads(repo.read(f"{catalog}/migrations.json"))["stack"]
    [database] = [d["database"] for d in recorded_databases(flow) if d["stack"] == stack]
    login = f"wf_agent_{os.getpid()}"
    flow.logins.append(login)
    with admin() as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN IN ROLE paybill_guard").format(sql.Identifier(login)))
    params = psycopg.conninfo.conninfo_to_dict(database_dsn(database))
    params["user"] = login
    server = StdioServerParameters(
        command=sys.executable, cwd=str(repo.root), env=repo.env,
        args=["-m", "paybill", "serve", "--bundle", "generated/bundles/billing-agent", "--catalog", catalog,
              "--database-url", psycopg.conninfo.make_conninfo(**params), "--spec-repo", str(repo.root)])

    async def work() -> dict[str, Any]:
        async with Client(server) as client:
            run = await tool(client, "start_run", tenant="vandelay", workflow="dunning")
            for step in ("load-customer", "mark-overdue", "propose-plan-change"):
                await tool(client, "advance_step", run_id=run["run_id"], tenant="vandelay", step=step)
            return await tool(client, "propose_change", run_id=run["run_id"], tenant="vandelay", kind="Tenant",
                              name="vandelay", field="spec.plan", value="starter",
                              message="Upgrade vandelay to starter")

    proposed = asyncio.run(work())
    branch = str(proposed["branch"])
    assert branch.startswith("paybill/billing-agent/") and MARKER in str(proposed["plan"]), proposed
    assert repo.git("rev-parse", "--abbrev-ref", "HEAD").strip() == "main", "the checkout is untouched"
    flow.push(branch)
    return branch


async def tool(client: Client, tool_name: str, /, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(tool_name, arguments)
    assert not result.is_error, f"{tool_name}: {result.structured_content or result.content}"
    return dict(result.structured_content or {})


def reviewed(flow: Flow, branch: str, *, pr: int) -> JobRecord:
    job = review_workflow(flow, branch, pr)
    assert job.result == "success", job.describe()
    assert job.step("Plan").outputs == {"exit": "0"}
    assert job.step("Blocking plan findings fail the check").outcome == "skipped"
    [comment] = flow.side.comments
    assert comment["body"].startswith(MARKER) and "vandelay" in comment["body"], comment["body"][:500]
    assert comment["body"].strip() in job.summary, "the plan is also the job summary"
    assert [c["method"] for c in flow.side.calls][-1] == "createComment"
    return job


def forgot_to_recompile_then_fixed(flow: Flow, branch: str, *, pr: int, own_pr: int) -> str:
    repo = flow.repo
    repo.git("checkout", "--quiet", branch)
    repo.edit("specs/tenants/vandelay.yaml", "displayName: ", "displayName: Vandelay Industries International ")
    repo.commit("Rename vandelay", PLATFORM)
    flow.push(branch)
    before = list(flow.side.calls)
    stale = review_workflow(flow, branch, pr)
    assert stale.result == "failure"
    fresh = stale.step("generated/ is fresh")
    assert fresh.outcome == "failure", fresh.output[-2000:]
    assert "generated/ is stale" in fresh.output and "generated/tenants/vandelay.json" in fresh.output, fresh.output
    assert stale.step("Post or update the plan comment").outcome == "skipped"
    assert flow.side.calls == before, "a failed freshness check posts nothing"

    repo.paybill("compile")
    repo.commit("Recompile", PLATFORM)
    flow.push(branch)
    repo.git("checkout", "--quiet", "main")
    job = review_workflow(flow, branch, pr)
    # On an agent's branch (paybill/<agent>/...) every commit is judged as that agent's: its credential
    # pushes there, and a commit's author is only what the commit says. The person's rename is an edit
    # billing-agent may not propose, so the pull request fails, in the same comment, updated in place.
    assert job.result == "failure", job.describe()
    assert job.step("Blocking plan findings fail the check").outcome == "failure", job.describe()
    [comment] = flow.side.comments
    assert flow.side.calls[-1]["method"] == "updateComment", "the same comment, updated in place"
    assert "PB0978" in comment["body"] and "Rename vandelay" in comment["body"], comment["body"][:3000]
    # The person takes the change over on a branch of their own (a new pull request): the agent's commit
    # is still checked as the agent's (its trailer), theirs as theirs.
    own = "priya/vandelay-upgrade"
    repo.git("branch", own, branch)
    flow.push(own)
    flow.side.comments.clear()
    job = review_workflow(flow, own, own_pr)
    assert job.result == "success", job.describe()
    [comment] = flow.side.comments
    assert flow.side.calls[-1]["method"] == "createComment"
    assert "Vandelay Industries International" in comment["body"] or "displayName" in comment["body"]
    return own


# -- 4. merge and apply ------------------------------------------------------------------------------------

def merged_and_applied(flow: Flow, branch: str) -> None:
    repo = flow.repo
    base = flow.head("main")
    repo.git("merge", "--quiet", "--ff-only", branch)
    sha = flow.head("main")
    flow.push("main")
    changed = changed_stacks(flow.manifest(base), flow.manifest(sha))
    assert changed, "the upgrade changes at least one compiled stack"
    before = len(flow.calls())
    jobs = apply_workflow(flow, before=base, sha=sha, run_id="600")
    assert jobs["cache"].step("paybill compile --check (records the compile in .paybill/cache)").outcome == "success"
    assert (flow.side.caches / f"paybill-cache-{sha}").is_dir(), "the merged commit's compile cache is saved"
    applied = {c["dir"] for c in flow.calls()[before:] if c["args"][:1] == ["apply"]}
    assert applied == {f"generated/terraform/{a}" for a in changed}, "exactly the changed stacks"
    assert any(p.name.startswith("paybill-apply-results-") for p in flow.side.artifacts("600").iterdir())


# -- 5. a blocked lifecycle jump ----------------------------------------------------------------------------

def lifecycle_jump_is_blocked(flow: Flow, *, pr: int) -> None:
    repo = flow.repo
    flow.side.comments.clear()
    repo.git("checkout", "--quiet", "-b", "reonboard-globex")
    repo.edit("specs/tenants/globex.yaml", "lifecycle: active", "lifecycle: onboarding")
    repo.paybill("compile")
    repo.commit("Onboard globex again", PLATFORM)
    flow.push("reonboard-globex")
    repo.git("checkout", "--quiet", "main")
    job = review_workflow(flow, "reonboard-globex", pr)
    assert job.result == "failure", job.describe()
    assert job.step("generated/ is fresh").outcome == "success", job.describe()
    assert job.step("Plan").outputs["exit"] != "0", job.describe()
    assert job.step("Blocking plan findings fail the check").outcome == "failure"
    [comment] = flow.side.comments
    assert "globex" in comment["body"] and "onboarding" in comment["body"], comment["body"][:800]
    # The merge's apply run saved its compile cache under main's commit; this review restored it, so
    # the plan proved both commits' generated/ from compile records and compiled neither side.
    assert job.step("Restore the compile cache of the merge base").outputs["cache-hit"] == "true", job.describe()
    assert "nothing compiled" in job.step("Plan").output, job.step("Plan").output[-2000:]


# -- helpers -------------------------------------------------------------------------------------------------

def review_workflow(flow: Flow, branch: str, pr: int) -> JobRecord:
    runner = flow.runner({"event_name": "pull_request", "sha": flow.head(branch), "ref": f"refs/pull/{pr}/merge",
                          "base_ref": "main", "head_ref": branch, "run_id": str(100 + flow.runs),
                          "event": {"pull_request": {"number": pr}}},
                         replaced={CHECKOV: "runs in tests/terraform/test_checkov.py (own venv, minutes to install)"})
    return runner.run("paybill-pr.yml")["review"]


def apply_run(flow: Flow, *, before: str, sha: str, run_id: str, attempt: str = "1"
              ) -> tuple[Runner, dict[str, JobRecord]]:
    runner = flow.runner({"event_name": "push", "sha": sha, "ref": "refs/heads/main", "run_id": run_id,
                          "run_attempt": attempt, "event": {"before": before}})
    jobs = runner.run("paybill-apply.yml")
    assert [j for j in runner.jobs if j.job.startswith("paybill-apply-shard.yml/")], [j.job for j in runner.jobs]
    return runner, jobs


def apply_workflow(flow: Flow, *, before: str, sha: str, run_id: str, attempt: str = "1") -> dict[str, JobRecord]:
    runner, jobs = apply_run(flow, before=before, sha=sha, run_id=run_id, attempt=attempt)
    failed = [j for j in runner.jobs if j.result == "failure"]
    assert not failed, "\n".join(j.describe() for j in failed)
    return jobs


def drift_workflow(flow: Flow) -> dict[str, JobRecord]:
    runner = flow.runner({"event_name": "schedule", "sha": flow.head("main"), "ref": "refs/heads/main",
                          "run_id": str(700 + flow.runs), "token": "ghs_test"})
    return runner.run("paybill-drift.yml")


def gh_state(flow: Flow) -> dict[str, Any]:
    return json.loads((flow.work / "gh.json").read_text(encoding="utf-8"))


def database_dsn(database: str) -> str:
    params = psycopg.conninfo.conninfo_to_dict(DSN)
    params["dbname"] = database
    return psycopg.conninfo.make_conninfo(**params)


def recorded_databases(flow: Flow) -> list[dict[str, str]]:
    """(stack, database) of every database the URL command created, in creation order."""
    recorded = flow.work / "databases.jsonl"
    return [json.loads(line) for line in recorded.read_text().splitlines()] if recorded.exists() else []


def flow_databases(flow: Flow) -> list[str]:
    return [record["database"] for record in recorded_databases(flow)]


def ledger(database: str) -> int:
    with psycopg.connect(database_dsn(database)) as conn:
        row = conn.execute("SELECT count(*) FROM paybill.schema_migrations").fetchone()
    assert row is not None
    return int(row[0])

