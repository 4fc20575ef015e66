"""A platform team's day, end to end: every flow joined to the next, with the tools users run.

The README's example repository in a real git repository, driven only through `paybill` commands
(subprocesses, as CI and people run them), a real PostgreSQL and the official MCP client:

1. the fleet is imported and applied: `paybill apply plan` / `apply run` in dependency order, each
   database migrated (`paybill db migrate`, real PostgreSQL) right after the stack that creates it;
   a re-run resumes instead of applying twice;
2. an agent connects with the official MCP client to `paybill serve` over stdio and works inside its
   workflow on the database that apply migrated: reads its tenant's rows, is refused out of order and
   across tenants, waits for a human's `paybill guard approve`, then closes the tickets;
3. Stripe cancels the subscription: `paybill billing sync` proposes the suspension on a branch; CI's
   checks run on that branch (`validate`, `compile --check`, `plan`), it merges, and `apply` touches
   exactly the stacks whose compiled configuration changed; the agent is now refused for that tenant;
4. thirty days later the dunning clock proposes offboarding (a human must review it); it merges and
   is applied;
5. the tenant is deleted: its decommission configuration is held by `apply` until the plan's backup
   retention has passed, then destroyed.

Terraform cannot run here (no download, no cloud): ``tests/apply/fake_terraform.py`` stands in for it
at the process boundary and records every call, as in the apply tests.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import os
import shutil
import sys
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from psycopg import sql

from db.pg_support import admin, drop_roles, dsn_for, paybill_roles, require_server, scratch_database, unique
from e2e.harness import Repo, changed_stacks, manifest_at, terraform_calls

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
FAKE_TERRAFORM = ROOT / "tests" / "apply" / "fake_terraform.py"
PLATFORM = ("Priya Platform", "priya@example.com")
TENANT = "wayne-enterprises"  # bridge: pooled compute, its own (silo) database; in ops-agent's scope
CUSTOMER = "cus_4c947854c1d6ae"
AGENT = "ops-agent"
DAY0 = datetime.datetime(2026, 6, 1, tzinfo=datetime.UTC)


@dataclass
class Day:
    repo: Repo
    work: Path
    """Everything that is not the repository: job plans, results, billing state, scripts."""
    databases: dict[str, str] = field(default_factory=dict)
    """Stack address -> connection string of the database that stack 'created'."""
    applies: int = 0
    logins: list[str] = field(default_factory=list)

    @property
    def fake_log(self) -> Path:
        return self.work / "terraform.jsonl"

    def calls(self) -> list[dict[str, Any]]:
        return terraform_calls(self.fake_log)

    def manifest(self, rev: str = "HEAD") -> dict[str, Any]:
        return manifest_at(self.repo, rev)


@pytest.fixture
def day(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Day]:
    require_server()
    before = paybill_roles()
    work = tmp_path / "work"
    (work / "bin").mkdir(parents=True)
    (work / "states").mkdir()
    (work / "counters").mkdir()
    terraform = work / "bin" / "terraform"
    terraform.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE_TERRAFORM}" "$@"\n', encoding="utf-8")
    terraform.chmod(0o755)
    monkeypatch.setenv("FAKE_LOG", str(work / "terraform.jsonl"))
    monkeypatch.setenv("FAKE_STATES", str(work / "states"))
    monkeypatch.setenv("FAKE_COUNTERS", str(work / "counters"))
    (work / "dburl.py").write_text(
        "import json, os, sys\n"
        f"urls = json.load(open({str(work / 'databases.json')!r}))\n"
        "stack = os.environ['STACK']\n"
        "sys.exit(f'no database for {stack}') if stack not in urls else print(urls[stack])\n", encoding="utf-8")
    repo = Repo(tmp_path / "specs-repo")
    repo.root.mkdir()
    for folder in ("specs", "policies"):
        shutil.copytree(ROOT / folder, repo.root / folder)
    repo.git("init", "--quiet", "--initial-branch=main")
    state = Day(repo, work)
    yield state
    drop_roles(paybill_roles() - before)
    with admin() as conn:
        for login in state.logins:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(login)))


def test_a_platform_teams_day(day: Day) -> None:
    with ExitStack() as databases:
        import_and_apply_the_fleet(day, databases)
        agent_works_inside_its_workflow(day)
        branch = stripe_cancels_the_subscription(day)
        ci_checks_merge_and_apply(day, branch, review="auto")
        agent_is_refused_for_the_suspended_tenant(day)
        branch = dunning_proposes_offboarding(day)
        ci_checks_merge_and_apply(day, branch, review="human")
        delete_the_tenant_and_destroy_after_retention(day)


# -- 1. import and first apply ----------------------------------------------------------------------

def import_and_apply_the_fleet(day: Day, databases: ExitStack) -> None:
    repo = day.repo
    repo.paybill("compile")
    repo.commit("Import the fleet", PLATFORM)
    plan = apply_plan(day, base="0" * 40)
    for unit in units(plan):
        if unit.get("migrate"):
            day.databases[unit["address"]] = dsn_for(databases.enter_context(scratch_database("day")))
    (day.work / "databases.json").write_text(json.dumps(day.databases), encoding="utf-8")
    run_all(day, plan)

    manifest = day.manifest()
    applied = [c["dir"] for c in day.calls() if c["args"][:1] == ["apply"]]
    assert sorted(applied) == sorted(f"generated/terraform/{s['address']}" for s in manifest["stacks"])
    phase_of = {u["address"]: i for i, phase in enumerate(plan["phases"]) for s in phase["shards"]
                for u in s["units"] if u["action"] == "apply"}
    for s in manifest["stacks"]:
        for needed in s["dependsOn"]:
            assert phase_of[needed] < phase_of[s["address"]], f"{s['address']} applied before {needed}"
    sql_folders = {name.split("/")[1] for name in manifest["outputs"]["sql"]}
    migrated = {u["migrate"].split("/")[1] for u in units(plan) if u.get("migrate")}
    assert migrated == sql_folders, "every database folder is migrated by the apply that creates it"
    for address, url in day.databases.items():
        assert ledger(url) == 1, f"{address}: one migration recorded"

    # a re-run of the same commit (a retried workflow) resumes: nothing is applied or migrated twice
    before = len(day.calls())
    first = plan["phases"][0]["shards"][0]["id"]
    again = day.work / "results-again"
    day.repo.paybill("apply", "run", *run_options(day, plan, first, again), "--resume", str(results_dir(day)))
    assert len(day.calls()) == before
    [record] = json.loads((again / f"shard-{first}.json").read_text())["stacks"]
    assert record["status"] == "skipped", record


# -- 2. the agent at work ---------------------------------------------------------------------------

def agent_works_inside_its_workflow(day: Day) -> None:
    url = day.databases[f"tenant/{TENANT}"]
    database = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    with admin() as conn:
        login = unique("day_agent")
        day.logins.append(login)
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN IN ROLE paybill_guard").format(sql.Identifier(login)))
        conn.execute(sql.SQL("GRANT CREATE ON DATABASE {} TO {}").format(sql.Identifier(str(database)),
                                                                          sql.Identifier(login)))
    with psycopg.connect(url, autocommit=True) as conn:
        for i in range(3):
            conn.execute("INSERT INTO crm.tickets (id, customer_id, subject, status, priority, created_at) "
                         "VALUES (%s, %s, %s, 'open', 'high', now())", (uuid.uuid4(), uuid.uuid4(), f"outage {i}"))
    day.databases["agent-login"] = dsn_for(str(database), user=login)

    async def work(client: Client) -> str:
        names = {t.name for t in (await client.list_tools()).tools}
        assert names == {"start_run", "advance_step", "request_approval", "read_tickets", "update_tickets"}
        ok, run = await call(client, "start_run", tenant=TENANT, workflow="incident-response")
        assert ok, run
        run_id = run["run_id"]
        ok, rows = await call(client, "read_tickets", run_id=run_id, tenant=TENANT, columns=["id", "status"],
                              where={"status": "open"})
        assert ok and rows["count"] == 3, rows
        ok, refused = await call(client, "update_tickets", run_id=run_id, tenant=TENANT, set={"status": "closed"},
                                 where={"status": "open"})
        assert not ok and "inspect" in json.dumps(refused), f"updating is not allowed in the inspect step: {refused}"
        ok, _ = await call(client, "read_tickets", run_id=run_id, tenant="acme-corp", columns=["id"])
        assert not ok, "a run is bound to its tenant"
        ok, pending = await call(client, "advance_step", run_id=run_id, tenant=TENANT, step="close-tickets")
        assert not ok and "approv" in json.dumps(pending), pending
        ok, _ = await call(client, "request_approval", run_id=run_id, tenant=TENANT, step="close-tickets",
                           reason="incident resolved")
        assert ok
        return str(run_id)

    run_id = asyncio.run(with_agent(day, work))
    day.repo.paybill("guard", "approve", run_id, "close-tickets", "--by", "oncall@example.com",
                     "--bundle", f"generated/bundles/{AGENT}", "--database-url", day.databases["agent-login"])

    async def close(client: Client) -> None:
        ok, step = await call(client, "advance_step", run_id=run_id, tenant=TENANT, step="close-tickets")
        assert ok, step
        ok, done = await call(client, "update_tickets", run_id=run_id, tenant=TENANT, set={"status": "closed"},
                              where={"status": "open"})
        assert ok and done["rows"] == 3, done

    asyncio.run(with_agent(day, close))  # a new server process: the run's state lives in PostgreSQL
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM crm.tickets WHERE status = 'closed'").fetchone() == (3,)


def agent_is_refused_for_the_suspended_tenant(day: Day) -> None:
    async def work(client: Client) -> None:
        ok, run = await call(client, "start_run", tenant=TENANT, workflow="incident-response")
        assert ok, run  # a run may start; no step of incident-response acts on a suspended tenant
        ok, refused = await call(client, "read_tickets", run_id=run["run_id"], tenant=TENANT, columns=["id"])
        assert not ok and "suspended" in json.dumps(refused), refused

    asyncio.run(with_agent(day, work))


# -- 3, 4. billing proposes, CI checks, merge, apply --------------------------------------------------

def stripe_cancels_the_subscription(day: Day) -> str:
    event = {"id": "evt_day_cancel", "object": "event", "type": "customer.subscription.deleted",
             "created": int(DAY0.timestamp()),
             "data": {"object": {"object": "subscription", "id": "sub_day", "customer": CUSTOMER, "status": "canceled",
                                 "items": {"object": "list", "data": [
                                     {"object": "subscription_item", "id": "si_day",
                                      "price": {"object": "price", "id": "price_growth_monthly"}}]}}}}
    events = day.work / "events.jsonl"
    events.write_text(json.dumps(event) + "\n", encoding="utf-8")
    return billing_sync(day, str(events), now=DAY0 + datetime.timedelta(minutes=5))


def dunning_proposes_offboarding(day: Day) -> str:
    return billing_sync(day, now=DAY0 + datetime.timedelta(days=31))


def billing_sync(day: Day, *events: str, now: datetime.datetime) -> str:
    before = branches(day.repo)
    day.repo.paybill("billing", "sync", *events, "--base", "main", "--pr-dir", str(day.work / "prs"),
                     "--state", str(day.work / "billing-state.json"), "--now", now.isoformat())
    [branch] = branches(day.repo) - before
    return branch


def ci_checks_merge_and_apply(day: Day, branch: str, *, review: str) -> None:
    repo = day.repo
    message = repo.git("log", "-1", "--format=%B", branch)
    assert f"Paybill-Review: {review}" in message and "Paybill-Via: billing" in message, message
    checkout = day.work / f"ci-{branch.replace('/', '-')}"
    repo.git("worktree", "add", "--quiet", "--detach", str(checkout), branch)
    repo.paybill("validate", cwd=checkout)
    repo.paybill("compile", "--check", cwd=checkout)
    report = repo.paybill("plan", "--base", "main", "--head", branch, "--format", "json").json()
    assert report["ok"] is True, report["findings"]
    assert [f"{c['kind']}/{c['name']}" for c in report["changes"]] == [f"Tenant/{TENANT}"], report["changes"]
    repo.git("worktree", "remove", "--force", str(checkout))

    base = repo.git("rev-parse", "main").strip()
    repo.git("merge", "--quiet", "--ff-only", branch)
    changed = changed_stacks(day.manifest(base), day.manifest())
    assert f"tenant/{TENANT}" in changed
    plan = apply_plan(day, base=base)
    assert {u["address"] for u in units(plan) if u["action"] == "apply"} == changed
    before = len(day.calls())
    run_all(day, plan)
    applied = {c["dir"] for c in day.calls()[before:] if c["args"][:1] == ["apply"]}
    assert applied == {f"generated/terraform/{a}" for a in changed}
    assert ledger(day.databases[f"tenant/{TENANT}"]) >= 2, "the tenant's database follows its new revision"


# -- 5. deletion ------------------------------------------------------------------------------------

def delete_the_tenant_and_destroy_after_retention(day: Day) -> None:
    repo = day.repo
    path = f"specs/tenants/{TENANT}.yaml"
    repo.edit(path, "lifecycle: offboarding", "lifecycle: deleted")
    text = repo.read(path)
    if "lifecycleSince:" in text:
        lines = [line for line in text.splitlines() if "lifecycleSince:" not in line]
        text = "\n".join(lines) + "\n"
    since = '  lifecycle: deleted\n  lifecycleSince: "2026-07-15"'
    repo.path(path).write_text(text.replace("  lifecycle: deleted", since), encoding="utf-8")
    repo.paybill("compile")
    base = repo.git("rev-parse", "HEAD").strip()
    repo.commit(f"Delete {TENANT}", PLATFORM)
    report = repo.paybill("plan", "--base", base, "--head", "HEAD", "--format", "json").json()
    assert report["ok"] is True, report["findings"]

    [entry] = [r for r in day.manifest()["removed"] if r["address"] == f"tenant/{TENANT}"]
    assert entry["path"] == f"terraform/removed/tenant/{TENANT}/main.tf.json"
    retain_until = datetime.date.fromisoformat(entry["retainUntil"])
    folder = f"generated/terraform/removed/tenant/{TENANT}"
    (day.work / "states" / folder.replace("/", "_")).write_text("aws_db_instance.tenant\n", encoding="utf-8")

    held = apply_plan(day, base=base, today=retain_until - datetime.timedelta(days=1))
    assert f"tenant/{TENANT}" in json.dumps(held["held"]), held["held"]
    assert f"tenant/{TENANT}" not in {u["address"] for u in units(held) if u["action"] == "destroy"}

    plan = apply_plan(day, base=base, today=retain_until)
    assert f"tenant/{TENANT}" in {u["address"] for u in units(plan) if u["action"] == "destroy"}
    before = len(day.calls())
    run_all(day, plan)
    destroyed = [c for c in day.calls()[before:] if c["args"][:1] == ["destroy"]]
    assert [c["dir"] for c in destroyed] == [folder], destroyed


# -- helpers ----------------------------------------------------------------------------------------

def results_dir(day: Day) -> Path:
    return day.work / f"results-{day.applies}"


def apply_plan(day: Day, *, base: str, today: datetime.date | None = None) -> dict[str, Any]:
    day.applies += 1
    out = day.work / f"jobs-{day.applies}.json"
    head = day.repo.git("rev-parse", "HEAD").strip()
    extra = ("--today", today.isoformat()) if today else ()
    day.repo.paybill("apply", "plan", "--base", base, "--commit", head, "--out", str(out), *extra)
    return json.loads(out.read_text(encoding="utf-8"))


def run_options(day: Day, plan: dict[str, Any], shard: str, results: Path) -> tuple[str, ...]:
    del plan
    return ("--plan", str(day.work / f"jobs-{day.applies}.json"), "--shard", shard,
            "--terraform", str(day.work / "bin" / "terraform"), "--backoff", "0", "--by", "day-test",
            "--database-url-command", f'"{sys.executable}" "{day.work / "dburl.py"}"', "--results", str(results))


def run_all(day: Day, plan: dict[str, Any]) -> None:
    """Every shard of every phase, in the order the workflow's phase jobs run them."""
    for phase in plan["phases"]:
        for shard in phase["shards"]:
            day.repo.paybill("apply", "run", *run_options(day, plan, shard["id"], results_dir(day)))


def units(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [u for phase in plan["phases"] for s in phase["shards"] for u in s["units"]]



def branches(repo: Repo) -> set[str]:
    return set(repo.git("branch", "--list", "--format=%(refname:short)", "paybill/*").split())


def ledger(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM paybill.schema_migrations").fetchone()
    assert row is not None
    return int(row[0])


async def with_agent(day: Day, work: Any) -> Any:
    """One `paybill serve` process over stdio (as a desktop assistant starts it) and the official client."""
    args = ["-m", "paybill", "serve", "--bundle", f"generated/bundles/{AGENT}",
            "--catalog", f"generated/sql/tenant-{TENANT}", "--database-url", day.databases["agent-login"]]
    params = StdioServerParameters(command=sys.executable, args=args, cwd=str(day.repo.root),
                                   env={**os.environ, **day.repo.env})
    async with Client(params) as client:
        return await work(client)


async def call(client: Client, tool: str, **arguments: Any) -> tuple[bool, dict[str, Any]]:
    result = await client.call_tool(tool, arguments)
    return not result.is_error, result.structured_content or {"content": str(result.content)}
