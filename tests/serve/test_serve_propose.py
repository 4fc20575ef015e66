"""`propose_change` end to end: billing-agent served over stdio by the official MCP client, with a real
temporary git spec repository (the served specs and the change-control policies, one commit).

The tool runs `paybill propose` as a subprocess in the spec repository and returns the branch and
the plan; the guard decides first (the step, the spec kind and field), so a denied proposal never
reaches git. The server process itself never loads the compiler: checked in a fresh interpreter that
performs a real proposal through :class:`paybill.serve.service.Service`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from clients import call, run, stdio_client
from serve_support import PAYBILL, ROOT, ServeWorld

pytestmark = pytest.mark.postgres

AGENT = "billing-agent"
PROPOSE_POLICY = "specs/agents/billing-agent.yaml#permissions.proposals.Tenant"
GIT_ENV = {"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1", "NO_COLOR": "1"}


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=False,
                          env={**os.environ, **GIT_ENV})
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def spec_repo(serve_world: ServeWorld, tmp_path: Path) -> Path:
    """A git repository holding the served specs and the change-control policies, committed on main."""
    repo = tmp_path / "platform"
    shutil.copytree(serve_world.specs, repo / "specs")
    shutil.copytree(ROOT / "policies", repo / "policies")
    _git(repo, "init", "--quiet", "--initial-branch=main")
    _git(repo, "config", "user.name", "Platform Bot")
    _git(repo, "config", "user.email", "platform@example.com")
    _git(repo, "add", "-A")
    _git(repo, "commit", "--quiet", "-m", "Initial specs")
    return repo


def _branches(repo: Path) -> list[str]:
    return _git(repo, "branch", "--list", "paybill/*", "--format=%(refname:short)").split()


def _args(world: ServeWorld, repo: Path) -> list[str]:
    return [*PAYBILL, "serve", "--bundle", str(world.bundle.parent / AGENT), "--catalog", str(world.catalog),
            "--database-url", world.dsn, "--spec-repo", str(repo)]


async def _to_propose_step(client, tenant: str) -> str:  # type: ignore[no-untyped-def]
    ok, started = await call(client, "start_run", tenant=tenant, workflow="dunning")
    assert ok, started
    rid = started["run_id"]
    for step in ("load-customer", "mark-overdue", "propose-plan-change"):
        ok, moved = await call(client, "advance_step", run_id=rid, tenant=tenant, step=step)
        assert ok, moved
    return rid


def test_propose_change_creates_a_branch_and_returns_the_plan(serve_world: ServeWorld, spec_repo: Path) -> None:
    head = _git(spec_repo, "rev-parse", "HEAD").strip()

    async def body() -> tuple[list[str], dict[str, object], tuple[bool, dict[str, object]]]:
        async with stdio_client(_args(serve_world, spec_repo), env=GIT_ENV) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            _, early = await call(client, "start_run", tenant="beta-co", workflow="dunning")
            # in list-invoices, proposing is not the step's action: the guard refuses, git is never run
            too_early = await call(client, "propose_change", run_id=early["run_id"], tenant="beta-co", kind="Tenant",
                                   name="beta-co", field="spec.plan", value="growth", message="Upgrade Beta Co")
            assert not too_early[0] and "workflow.step-action" in too_early[1]["violations"], too_early
            rid = await _to_propose_step(client, "epsilon-co")  # on starter: no agent names it (PB0451)
            ok, proposed = await call(client, "propose_change", run_id=rid, tenant="epsilon-co", kind="Tenant",
                                      name="epsilon-co", field="spec.plan", value="growth",
                                      message="Upgrade Epsilon Co")
            assert ok, proposed
            schema = tools["propose_change"].input_schema
            return sorted(tools), proposed, (schema["properties"]["kind"]["enum"] == ["Tenant"],
                                             {"steps": tools["propose_change"].description})

    names, proposed, (kinds_ok, described) = run(body)
    assert "propose_change" in names and kinds_ok and "dunning/propose-plan-change" in described["steps"]
    branch = "paybill/billing-agent/upgrade-epsilon-co"
    assert proposed["branch"] == branch and proposed["reasons"] == [PROPOSE_POLICY]
    assert _branches(spec_repo) == [branch]
    assert _git(spec_repo, "rev-parse", f"{branch}~1").strip() == head
    assert _git(spec_repo, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"  # the checkout is untouched
    assert "+  plan: growth" in _git(spec_repo, "diff", head, branch, "--", "specs/tenants/epsilon-co.yaml")
    assert _git(spec_repo, "log", "-1", "--format=%an", branch).strip() == AGENT
    plan = proposed["plan"]
    assert plan.startswith(f"**Proposed by agent `{AGENT}`**: Upgrade Epsilon Co") and "<!-- paybill-plan -->" in plan
    assert "| `spec.plan` | `starter` | `growth` |" in plan


def test_denied_proposals_create_no_branch(serve_world: ServeWorld, spec_repo: Path) -> None:
    async def body() -> list[tuple[bool, dict[str, object]]]:
        async with stdio_client(_args(serve_world, spec_repo), env=GIT_ENV) as client:
            rid = await _to_propose_step(client, "delta-co")
            return [
                # a field the agent's proposals do not name: Cedar denies before any subprocess
                await call(client, "propose_change", run_id=rid, tenant="delta-co", kind="Tenant", name="delta-co",
                           field="spec.displayName", value="Delta", message="Rename"),
                # another tenant's change from this tenant's run (it used to create a branch for beta-co)
                await call(client, "propose_change", run_id=rid, tenant="delta-co", kind="Tenant", name="beta-co",
                           field="spec.plan", value="growth", message="Upgrade Beta Co from Delta's run"),
                # allowed by the bundle, refused by change control (paybill propose exits 1)
                await call(client, "propose_change", run_id=rid, tenant="delta-co", kind="Tenant", name="delta-co",
                           field="spec.plan", value="enterprise", message="Enterprise for Delta"),
            ]

    (ok1, field), (ok3, other), (ok2, ceiling) = run(body)
    assert not ok1 and field["error"] == "denied" and "acl.column-not-granted" in field["violations"], field
    assert "output" not in field  # the guard decided: paybill propose never ran
    assert not ok3 and other["error"] == "denied" and other["violations"] == ["tenant.cross-tenant"], other
    assert "output" not in other
    assert not ok2 and ceiling["violations"] == ["propose.refused"] and ceiling["reasons"] == [PROPOSE_POLICY]
    assert "billing-agent-plan-tier-ceiling" in ceiling["output"] and "no branch was created" in ceiling["output"]
    assert _branches(spec_repo) == []


def test_the_server_process_never_loads_the_compiler(serve_world: ServeWorld, spec_repo: Path) -> None:
    """A real proposal through the Service, in a fresh interpreter: the compiler runs in the
    `paybill propose` subprocess only, never in the process that serves the agent."""
    code = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from paybill.serve.live import read_catalog
        from paybill.guard import Guard
        from paybill.serve.service import ServeConfig, Service
        guard = Guard.load({str(serve_world.bundle.parent / AGENT)!r})
        service = Service(guard, read_catalog(Path({str(serve_world.catalog)!r})).plan, {serve_world.dsn!r},
                          ServeConfig(spec_repo=Path({str(spec_repo)!r}), pool_min=1, pool_max=1))
        service.open()
        rid = service.call("start_run", {{"tenant": "epsilon-co", "workflow": "dunning"}}).data["run_id"]
        for step in ("load-customer", "mark-overdue", "propose-plan-change"):
            assert service.call("advance_step", {{"run_id": rid, "tenant": "epsilon-co", "step": step}}).ok
        done = service.call("propose_change", {{"run_id": rid, "tenant": "epsilon-co", "kind": "Tenant",
                            "name": "epsilon-co", "field": "spec.plan", "value": "growth", "message": "Grow"}})
        service.close()
        assert done.ok and done.data["branch"], done.data
        compiler = ("load", "validate", "resolve", "graph", "emit", "compile", "write", "plan", "propose",
                    "audit", "models", "clouds", "gitio")
        print(",".join(sorted(m for m in sys.modules
                              if m.startswith("paybill.") and m.split(".")[1] in compiler)) or "none")
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300,
                          env={**os.environ, **GIT_ENV}, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "none"
    assert _branches(spec_repo) == ["paybill/billing-agent/grow"]


def test_one_proposal_at_a_time_and_the_agents_other_calls_are_not_held_up(serve_world: ServeWorld,
                                                                            tmp_path: Path) -> None:
    """`paybill propose` takes seconds on a call thread; proposals queued behind each other used to
    hold every thread (as many as pooled connections) while the agent's reads waited. A second
    proposal while one runs is refused at once (``busy``, charging its run nothing), and other calls
    are answered meanwhile."""
    import threading
    import time

    import psycopg

    from paybill.guard import Guard
    from paybill.serve.live import read_catalog
    from paybill.serve.service import ServeConfig, Service, new_clock

    slow = (sys.executable, "-c", "import time; time.sleep(3); print('plan')")  # `paybill propose` standing in
    guard = Guard.load(serve_world.bundle.parent / AGENT, clock=new_clock())
    service = Service(guard, read_catalog(serve_world.catalog).plan, serve_world.dsn,
                      ServeConfig(spec_repo=tmp_path, paybill_command=slow, pool_min=2, pool_max=2))
    service.open()
    try:
        runs = []
        for _ in range(2):
            rid = service.call("start_run", {"tenant": "epsilon-co", "workflow": "dunning"}).data["run_id"]
            for step in ("load-customer", "mark-overdue", "propose-plan-change"):
                assert service.call("advance_step", {"run_id": rid, "tenant": "epsilon-co", "step": step}).ok
            runs.append(rid)

        def propose(rid: str) -> dict[str, object]:
            return service.call("propose_change", {"run_id": rid, "tenant": "epsilon-co", "kind": "Tenant",
                                                   "name": "epsilon-co", "field": "spec.plan", "value": "growth",
                                                   "message": "Grow"}).data

        first: list[dict[str, object]] = []
        thread = threading.Thread(target=lambda: first.append(propose(runs[0])))
        thread.start()
        time.sleep(1)  # the first proposal's subprocess is running
        started = time.monotonic()
        second = propose(runs[1])
        other = service.call("start_run", {"tenant": "epsilon-co", "workflow": "dunning"})
        answered = time.monotonic() - started
        thread.join(30)
    finally:
        service.close()
    assert second["error"] == "unavailable" and second["reason"] == "busy", second
    assert "retry" in str(second["message"])
    assert other.ok and answered < 1.5, answered
    assert first and first[0].get("plan") == "plan\n", first
    with psycopg.connect(serve_world.dsn) as conn:
        state = conn.execute("SELECT state FROM paybill.runs WHERE id = %s", (runs[1],)).fetchone()[0]
    assert len(state["calls"]) == 3 and state["budgetSpent"] == 0  # the three advances; the busy call is not one
