"""The end-to-end story: a new user's whole flow on a real git repository, with the CLI only.

`paybill init`, a fleet written from the README (five clouds, fifteen tenants, every lifecycle state),
then one commit per change: plan upgrade, pooled -> silo migration in phases, suspension,
offboarding, deletion, an agent's proposal, a widened agent. After each commit: `validate`,
`compile --check`, `plan --base HEAD~1` with the flags that step must raise, the guard's decisions
for the affected tenants from the compiled bundles, the decommission configurations, every emitted
.sql parsed by pglast, and the pooled databases on a real PostgreSQL (agent roles see no rows of
tenants they may not act on).

Terraform and the clouds cannot run here: the story stops at the compiled configurations and the
plan, which is the process boundary CI and the apply workflow consume.

The interfaces of the features it checks:

* lifecycle: workflows and steps declare `lifecycles:` (default [onboarding, active], never deleted);
  `paybill guard check` exits 3 for a deleted tenant, and for a suspended one unless the step lists
  `suspended`, naming the tenant and its state; pooled-database RLS agrees for agent roles.
* decommission: a deleted tenant has no live stack; `generated/terraform/removed/tenant/<name>/
  main.tf.json` has no `prevent_destroy` and no `deletion_protection: true`, the live stack's
  backend, and `manifest.json` lists it under `removed` with `path`; tenants may carry
  `spec.lifecycleSince: YYYY-MM-DD`.
* plan-databases: `plan --format json` has `databases` with grant changes (role, table, column,
  privilege, granted/revoked) and PII flags; markdown shows them; widened grants are widening.
* migration: `spec.isolation: {model: silo, migration: {from: {model: pooled}, phase: provision|copy|
  cutover|decommission}}`, one phase per commit, pooled access kept until decommission, plan refuses
  a skipped phase, the stanza may be dropped afterwards.
* propose: branch `paybill/<agent>/<slug>` with one commit carrying the spec edit and the recompiled
  generated/ (`compile --check` passes on it); the printed PR body is that commit's markdown plan.
* audit-first-commit: `paybill audit` on a first commit that already has suspended, offboarding and
  deleted tenants reports no violation.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest

from db.pg_support import drop_roles, paybill_roles, require_server
from e2e import checks
from e2e.fleet import LIFECYCLE_STATES, write_fleet
from e2e.harness import Repo, Result, protections
from e2e.pg import Pools, visible_rows

pytestmark = [pytest.mark.postgres]

PLATFORM = ("Priya Platform", "priya@fleet.example.com")
SALES = ("Dana Sales", "dana@fleet.example.com")
BILLING = ("Bob Billing", "bob@fleet.example.com")
SECURITY = ("Sam Security", "sam@fleet.example.com")

AZURE_POOL, GCP_POOL, OCI_POOL, IBM_POOL = ("pool-fleet-azure-weu", "pool-fleet-gcp-usc1",
                                            "pool-fleet-oci-fra", "pool-fleet-ibm-dal")
POOL_TENANTS = {  # every tenant whose rows ever live in the pooled database
    AZURE_POOL: ["globex", "dunder-mifflin", "pied-piper"],
    GCP_POOL: ["raviga"],
    OCI_POOL: ["tyrell"],
    IBM_POOL: ["gringotts", "cyberdyne"],
}


@dataclass
class Story:
    repo: Repo
    pools: Pools
    deleted: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Deleted tenants and the backend their live stack had: checked after every later commit."""


@pytest.fixture
def pools() -> Iterator[Pools]:
    require_server()
    before = paybill_roles()
    with ExitStack() as stack:
        yield Pools(stack)
    drop_roles(paybill_roles() - before)


@pytest.mark.slow
def test_the_story(tmp_path: Path, pools: Pools) -> None:
    story = Story(Repo(tmp_path / "fleet"), pools)
    repo = story.repo
    for step in (step_initial_fleet, step_plan_upgrade, step_migration_in_phases, step_suspension,
                 step_offboarding, step_deletion, step_agent_proposal, step_widened_agent):
        step(story)
    assert checks.audit_violations(repo) == []
    step_history_and_fresh_clone(repo, tmp_path / "clone")


# -- per commit --------------------------------------------------------------------------------

def after_commit(repo: Repo, deleted: dict[str, dict[str, Any]]) -> None:
    """What CI runs on every commit, and the decommission configurations of every deleted tenant."""
    checks.validate_compile_check(repo)
    checks.parse_all_sql(repo.root)
    for tenant, backend in deleted.items():
        checks.assert_decommissioned(repo, tenant, backend)


def compile_and_commit(repo: Repo, message: str, author: tuple[str, str]) -> None:
    """The user's loop: edit, `paybill compile` (which reports all `validate` would), commit both."""
    checks.compile_tree(repo)
    repo.commit(message, author)


def apply_pool(repo: Repo, pools: Pools, folder: str) -> str:
    return pools.apply(repo.path("generated"), folder, POOL_TENANTS[folder])


# -- the story ---------------------------------------------------------------------------------

def step_initial_fleet(story: Story) -> None:
    """`paybill init`, then the fleet; the first commit already has every lifecycle state."""
    repo, pools, deleted = story.repo, story.pools, story.deleted
    out = repo.paybill("init", str(repo.root), cwd=repo.root.parent)
    assert "created" in out.stdout
    write_fleet(repo.root, workflow_lifecycles=True, lifecycle_since=True)
    compile_and_commit(repo, "fleet: five clouds, fifteen tenants", PLATFORM)
    states = {json.loads(p.read_text())["lifecycle"] for p in repo.path("generated/tenants").glob("*.json")}
    removed = {e["address"] for e in json.loads(repo.read("generated/manifest.json"))["removed"]}
    assert states | ({"deleted"} if removed == {"tenant/cyberdyne"} else set()) == set(LIFECYCLE_STATES), \
        (states, removed)
    deleted["cyberdyne"] = checks.sibling_backend(repo, "gringotts", "cyberdyne")
    after_commit(repo, deleted)
    # A fleet that starts with suspended, offboarding and deleted tenants is not a violation.
    violations = checks.audit_violations(repo)
    assert violations == []

    # The guard, from the compiled bundles: live tenants in scope are served...
    checks.assert_allowed(checks.guard(repo, "billing-agent", "hooli", "dunning", "list-invoices", "read",
                                       "invoices", "id,status"))
    checks.assert_allowed(checks.guard(repo, "support-assistant", "globex", "triage-ticket", "fetch-ticket",
                                       "read", "tickets", "id,subject"))
    # ... dunning keeps marking a suspended tenant's invoices (its workflow lists `suspended`) ...
    checks.assert_allowed(checks.guard(repo, "billing-agent", "dunder-mifflin", "dunning", "mark-overdue",
                                       "update", "invoices", "status"))
    # ... but not its proposal step, and never a deleted tenant; triage never a suspended one.
    checks.assert_denied_for_state(checks.guard(
        repo, "billing-agent", "dunder-mifflin", "dunning", "propose-plan-change", "propose", "Tenant",
        "spec.plan"), "dunder-mifflin", "suspended")
    checks.assert_denied_for_state(checks.guard(
        repo, "billing-agent", "cyberdyne", "dunning", "list-invoices", "read", "invoices", "id"),
        "cyberdyne", "deleted")
    checks.assert_denied_for_state(checks.guard(
        repo, "support-assistant", "dunder-mifflin", "triage-ticket", "fetch-ticket", "read", "tickets", "id"),
        "dunder-mifflin", "suspended")

    # The pooled databases agree.
    azure = apply_pool(repo, pools, AZURE_POOL)
    ibm = apply_pool(repo, pools, IBM_POOL)
    oci = apply_pool(repo, pools, OCI_POOL)
    apply_pool(repo, pools, GCP_POOL)
    assert visible_rows(azure, "billing-agent", "globex", "invoices") == 3
    assert visible_rows(azure, "billing-agent", "dunder-mifflin", "invoices") == 3
    assert visible_rows(azure, "support-assistant", "globex", "tickets") == 3
    assert visible_rows(oci, "support-assistant", "tyrell", "tickets") == 3
    assert visible_rows(ibm, "billing-agent", "gringotts", "invoices") == 3
    assert visible_rows(ibm, "billing-agent", "cyberdyne", "invoices") == 0
    assert visible_rows(azure, "support-assistant", "dunder-mifflin", "tickets") == 0


def step_plan_upgrade(story: Story) -> None:
    """initech grows out of growth: enterprise. MRR moves, its dedicated database is resized in place."""
    repo, deleted = story.repo, story.deleted
    repo.edit("specs/tenants/initech.yaml", "plan: growth", "plan: enterprise")
    compile_and_commit(repo, "initech: upgrade to enterprise", SALES)
    after_commit(repo, deleted)
    report = checks.plan(repo)
    checks.only_changes(report, "Tenant/initech")
    assert checks.mrr_delta(report) == 499900 - 49900
    assert checks.findings(report, "PB0950")
    database = [r for r in checks.stack(report, "tenant/initech")["resources"]
                if r["type"] == "azurerm_postgresql_flexible_server"]
    assert len(database) == 1 and database[0]["action"] == "update", database
    assert "sku_name" in database[0]["arguments"], database
    assert checks.changed_stacks(report) == {"tenant/initech"}
    assert checks.errors(report) == []
    checks.assert_allowed(checks.guard(repo, "billing-agent", "initech", "dunning", "list-invoices", "read",
                                       "invoices", "id"))


def set_phase(repo: Repo, old: str, new: str) -> None:
    repo.edit("specs/tenants/pied-piper.yaml", f"phase: {old}", f"phase: {new}")


def pool_serves(repo: Repo, pools: Pools, tenant: str) -> bool:
    """Whether the pooled database, freshly re-applied, still lets an agent at ``tenant``'s rows."""
    database = apply_pool(repo, pools, AZURE_POOL)
    return visible_rows(database, "billing-agent", tenant, "invoices") == 3


def step_migration_in_phases(story: Story) -> None:
    """pied-piper moves from the Azure pool to its own stack, one reviewed phase per commit. (Staged
    migrations are executable on AWS and Azure; GCP refuses the stanza with PB0441.)"""
    repo, pools, deleted = story.repo, story.pools, story.deleted
    assert pool_serves(repo, pools, "pied-piper")
    repo.edit("specs/tenants/pied-piper.yaml", "    model: pooled\n",
              "    model: silo\n    migration: {from: {model: pooled}, phase: provision}\n")
    compile_and_commit(repo, "pied-piper: migrate to silo, phase provision", PLATFORM)
    after_commit(repo, deleted)
    report = checks.plan(repo)
    assert checks.findings(report, subject="Tenant/pied-piper"), report["findings"]
    assert checks.stack(report, "tenant/pied-piper")["op"] in ("changed", "created")
    assert repo.path("generated/sql/tenant-pied-piper").is_dir()
    assert pool_serves(repo, pools, "pied-piper"), "the old pooled access must stay until decommission"

    # Skipping a phase is refused (on a branch that is thrown away).
    repo.git("checkout", "--quiet", "-b", "skip-phase")
    set_phase(repo, "provision", "cutover")
    compiled = repo.paybill("compile", expect=None)
    if compiled.returncode == 0:  # plan is the gate: the commit can be made, the plan refuses it
        repo.commit("pied-piper: straight to cutover", PLATFORM)
        skipped = checks.plan(repo, expect=1)
        assert [f for f in checks.errors(skipped) if f["subject"] == "Tenant/pied-piper"], skipped["findings"]
    else:  # or compile already refuses it
        assert compiled.returncode == 1 and "pied-piper" in compiled.output, compiled.describe()
        repo.git("checkout", "--quiet", "--", ".")
    repo.git("checkout", "--quiet", "main")
    repo.git("branch", "--quiet", "-D", "skip-phase")

    for old, new in (("provision", "copy"), ("copy", "cutover"), ("cutover", "decommission")):
        set_phase(repo, old, new)
        compile_and_commit(repo, f"pied-piper: migrate to silo, phase {new}", PLATFORM)
        after_commit(repo, deleted)
        report = checks.plan(repo)
        checks.only_changes(report, "Tenant/pied-piper")
        assert checks.errors(report) == []
        assert pool_serves(repo, pools, "pied-piper") is (new != "decommission"), new

    # Done: the stanza and the pool go, with no infrastructure change.
    repo.edit("specs/tenants/pied-piper.yaml", "    migration: {from: {model: pooled}, phase: decommission}\n", "")
    repo.edit("specs/tenants/pied-piper.yaml", "    pool: fleet-azure-weu\n", "")
    compile_and_commit(repo, "pied-piper: migration done", PLATFORM)
    after_commit(repo, deleted)
    done = checks.plan(repo)
    assert checks.errors(done) == [] and checks.resource_changes(done) == [], done["terraform"]
    checks.assert_allowed(checks.guard(repo, "support-assistant", "pied-piper", "triage-ticket", "fetch-ticket",
                                       "read", "tickets", "id"))


def step_suspension(story: Story) -> None:
    """tyrell stops paying: suspended. Dunning goes on, triage stops, in the guard and in the database."""
    repo, pools, deleted = story.repo, story.pools, story.deleted
    repo.edit("specs/tenants/tyrell.yaml", "lifecycle: active", "lifecycle: suspended")
    repo.edit("specs/tenants/tyrell.yaml", "status: active", "status: past_due")
    compile_and_commit(repo, "tyrell: suspend for non-payment", BILLING)
    after_commit(repo, deleted)
    report = checks.plan(repo)
    checks.only_changes(report, "Tenant/tyrell")
    checks.no_lifecycle_errors(report)
    assert checks.stack(report, "tenant/tyrell")["op"] == "changed"
    checks.assert_allowed(checks.guard(repo, "billing-agent", "tyrell", "dunning", "mark-overdue", "update",
                                       "invoices", "status"))
    oci = apply_pool(repo, pools, OCI_POOL)
    assert visible_rows(oci, "billing-agent", "tyrell", "invoices") == 3
    checks.assert_denied_for_state(checks.guard(
        repo, "support-assistant", "tyrell", "triage-ticket", "fetch-ticket", "read", "tickets", "id"),
        "tyrell", "suspended")
    assert visible_rows(oci, "support-assistant", "tyrell", "tickets") == 0


def step_offboarding(story: Story) -> None:
    """gringotts cancels: offboarding keeps its data (and its live stack) while agents stop."""
    repo, deleted = story.repo, story.deleted
    repo.edit("specs/tenants/gringotts.yaml", "lifecycle: active", "lifecycle: offboarding")
    repo.edit("specs/tenants/gringotts.yaml", "status: active", "status: cancelled")
    compile_and_commit(repo, "gringotts: offboard", BILLING)
    after_commit(repo, deleted)
    report = checks.plan(repo)
    checks.only_changes(report, "Tenant/gringotts")
    checks.no_lifecycle_errors(report)
    assert checks.stack(report, "tenant/gringotts")["op"] == "changed"
    # Offboarding keeps the data: the live stack and its protections stay until the deletion.
    live = json.loads(repo.read("generated/terraform/tenant/gringotts/main.tf.json"))
    assert protections(live), "an offboarding tenant's stack must keep its protections"
    checks.assert_denied_for_state(checks.guard(
        repo, "billing-agent", "gringotts", "dunning", "list-invoices", "read", "invoices", "id"),
        "gringotts", "offboarding")


def step_deletion(story: Story) -> None:
    """raviga, offboarded, is deleted: its stack is removed, a decommission configuration replaces it.
    Deleting an active tenant in one step is blocked."""
    repo, pools, deleted = story.repo, story.pools, story.deleted
    # A shortcut first, on a branch that is thrown away: active -> deleted is blocked.
    repo.git("checkout", "--quiet", "-b", "shortcut")
    repo.edit("specs/tenants/hooli.yaml", "lifecycle: active", "lifecycle: deleted")
    repo.edit("specs/tenants/hooli.yaml", "status: trialing", "status: cancelled")
    compile_and_commit(repo, "hooli: delete", BILLING)
    blocked = checks.plan(repo, expect=1)
    assert [f for f in checks.errors(blocked) if f["code"] == "PB0910" and f["subject"] == "Tenant/hooli"], \
        blocked["findings"]
    repo.git("checkout", "--quiet", "main")
    repo.git("branch", "--quiet", "-D", "shortcut")
    checks.compile_tree(repo)  # generated/ is committed: the checkout restored it, compile is a no-op
    assert repo.git("status", "--porcelain") == ""

    backend = checks.live_backend(repo, "raviga")
    repo.edit("specs/tenants/raviga.yaml", "lifecycle: offboarding", "lifecycle: deleted")
    repo.edit("specs/tenants/raviga.yaml", "lifecycleSince: 2026-03-01", "lifecycleSince: 2026-04-01")
    compile_and_commit(repo, "raviga: delete", BILLING)
    deleted["raviga"] = backend
    after_commit(repo, deleted)
    report = checks.plan(repo)
    checks.only_changes(report, "Tenant/raviga")
    checks.no_lifecycle_errors(report)
    removed = checks.stack(report, "tenant/raviga")
    assert removed["op"] == "destroyed" and removed["resources"], removed
    assert all(r["action"] == "destroy" for r in removed["resources"])
    assert not repo.path("generated/terraform/tenant/raviga").exists()
    gcp = apply_pool(repo, pools, GCP_POOL)
    for agent in ("billing-agent", "support-assistant"):
        for table in ("invoices", "tickets", "customers"):
            with suppress(psycopg.errors.InsufficientPrivilege):  # not granted at all: sees nothing either
                assert visible_rows(gcp, agent, "raviga", table) == 0, (agent, table)
    checks.assert_denied_for_state(checks.guard(
        repo, "billing-agent", "raviga", "dunning", "list-invoices", "read", "invoices", "id"),
        "raviga", "deleted")


def step_agent_proposal(story: Story) -> None:
    """The billing agent proposes vandelay's upgrade: a branch with one commit that CI accepts, and
    the plan as its pull-request body. The merge applies it."""
    repo, deleted = story.repo, story.deleted
    main = repo.git("rev-parse", "HEAD").strip()
    out = repo.paybill("propose", "--as", "billing-agent", "--set", "Tenant/vandelay:spec.plan=starter",
                       "-m", "Upgrade vandelay to starter")
    assert repo.git("rev-parse", "HEAD").strip() == main, "propose must not touch the checkout"
    assert repo.git("status", "--porcelain") == ""
    branches = repo.git("branch", "--list", "paybill/billing-agent/*", "--format=%(refname:short)").split()
    assert len(branches) == 1, branches
    branch = branches[0]
    assert repo.git("rev-list", f"{main}..{branch}").split() == [repo.git("rev-parse", branch).strip()]
    assert "Paybill-Agent: billing-agent" in repo.git("log", "-1", "--format=%B", branch)

    report = checks.plan(repo, base=main, head=branch)
    checks.only_changes(report, "Tenant/vandelay")
    assert checks.mrr_delta(report) == 4900
    touched = repo.git("diff", "--name-only", main, branch).split()
    assert any(p.startswith("generated/") for p in touched), touched  # the proposal carries its compile

    markdown = repo.paybill("plan", "--base", main, "--head", branch, "--format", "markdown").stdout
    assert markdown.strip() and markdown.strip() in out.stdout, out.describe()
    checkout = repo.root.parent / "proposal"
    repo.git("worktree", "add", "--quiet", str(checkout), branch)
    repo.paybill("validate", cwd=checkout)
    repo.paybill("compile", "--check", cwd=checkout)
    repo.git("worktree", "remove", "--force", str(checkout))
    repo.git("merge", "--quiet", "--ff-only", branch)
    after_commit(repo, deleted)


def step_widened_agent(story: Story) -> None:
    """Security lets the support assistant read customer emails (PII): the plan shows the new grant
    and flags it as widening; the database grants exactly that column."""
    repo, pools, deleted = story.repo, story.pools, story.deleted
    def read_email() -> Result:
        return checks.guard(repo, "support-assistant", "globex", "triage-ticket", "lookup-customer", "read",
                            "customers", "id,email")

    assert read_email().returncode == 3
    azure_before = apply_pool(repo, pools, AZURE_POOL)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        visible_rows(azure_before, "support-assistant", "globex", "customers", column="email")
    repo.edit("specs/agents/support-assistant.yaml", "read: [id, name]", "read: [id, name, email]")
    compile_and_commit(repo, "support-assistant: may read customer email", SECURITY)
    after_commit(repo, deleted)
    report = checks.plan(repo)
    checks.only_changes(report, "Agent/support-assistant")
    assert checks.findings(report, "PB0930", "Agent/support-assistant"), report["findings"]
    checks.assert_allowed(read_email())
    azure = apply_pool(repo, pools, AZURE_POOL)
    assert visible_rows(azure, "support-assistant", "globex", "customers", column="email") == 3
    grants = [g for g in checks.database_grants(report)
              if checks.same_table(g["table"], "customers") and g.get("column") == "email"]
    assert grants and all(g["role"] == "paybill_agent_support_assistant" and g["change"] == "granted"
                          and g["privilege"].upper() == "SELECT" for g in grants), grants
    assert AZURE_POOL in {g["database"] for g in grants}, grants
    assert checks.pii_flagged(report, "customers", "email")
    markdown = repo.paybill("plan", "--base", "HEAD~1", "--format", "markdown").stdout
    assert "email" in markdown and "paybill_agent_support_assistant" in markdown


def step_history_and_fresh_clone(repo: Repo, clone: Path) -> None:
    """The git history is the audit trail; a fresh clone elsewhere compiles to the committed bytes
    (no absolute path or machine detail in generated/)."""
    life = {t: checks.tenant_life(repo, t) for t in ("initech", "tyrell", "gringotts", "raviga", "vandelay")}
    assert life["initech"][:2] == ["onboarded", "plan changed"], life
    assert "suspended" in life["tyrell"] and "offboarding" in life["gringotts"], life
    assert life["raviga"][0] == "onboarded" and "deleted" in life["raviga"], life
    assert "plan changed" in life["vandelay"], life
    repo.git("clone", "--quiet", str(repo.root), str(clone))
    repo.paybill("validate", cwd=clone)
    repo.paybill("compile", "--check", cwd=clone)
