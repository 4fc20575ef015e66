"""The checks run after each commit of the story, one small function per fact a user depends on.

They read only what the command line prints and what `paybill compile` wrote (generated/), and
go through the team's interfaces as written in the issue, so a changed detail is a one-line fix.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pglast

from e2e.harness import Repo, Result, protections, stack_backend, walk

GENERATED = "generated"


# -- every commit ------------------------------------------------------------------------------

def validate_compile_check(repo: Repo) -> None:
    """`validate` is clean and `compile --check` finds the committed generated/ fresh (CI's gate)."""
    repo.paybill("validate")
    repo.paybill("compile", "--check")


def compile_tree(repo: Repo) -> Result:
    """What a user runs before committing; warnings are fine, errors are not."""
    return repo.paybill("compile")


def plan(repo: Repo, *, base: str = "HEAD~1", head: str = "HEAD", expect: int = 0) -> dict[str, Any]:
    result = repo.paybill("plan", "--base", base, "--head", head, "--format", "json", expect=expect)
    report = result.json()
    assert report["ok"] is (expect == 0), result.describe()
    return report


def findings(report: dict[str, Any], code: str | None = None, subject: str | None = None) -> list[dict[str, Any]]:
    return [f for f in report["findings"]
            if (code is None or f["code"] == code) and (subject is None or f["subject"] == subject)]


def errors(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in report["findings"] if f["severity"] == "error"]


def stack(report: dict[str, Any], address: str) -> dict[str, Any]:
    stacks = {s["address"]: s for s in report["terraform"]["stacks"] or []}
    assert address in stacks, f"stack {address} not in the plan: {sorted(stacks)}"
    return stacks[address]


def changed_stacks(report: dict[str, Any]) -> set[str]:
    return {s["address"] for s in report["terraform"]["stacks"] or []}


def resource_changes(report: dict[str, Any]) -> list[str]:
    """`stack: action resource` for every Terraform resource the commit would touch."""
    return [f"{s['address']}: {r['action']} {r['address']}"
            for s in report["terraform"]["stacks"] or [] for r in s["resources"]]


def mrr_delta(report: dict[str, Any], currency: str = "USD") -> int:
    return sum(t["delta"] for t in report["revenue"]["totals"] if t["currency"] == currency)


def spec_change(report: dict[str, Any], ref: str) -> dict[str, Any]:
    changes = {f"{c['kind']}/{c['name']}": c for c in report["changes"]}
    assert ref in changes, f"{ref} not among the plan's changes: {sorted(changes)}"
    return changes[ref]


def only_changes(report: dict[str, Any], *refs: str) -> None:
    """The commit changed exactly these specs: a story step must not leak into other tenants."""
    assert sorted(f"{c['kind']}/{c['name']}" for c in report["changes"]) == sorted(refs), report["changes"]


def no_lifecycle_errors(report: dict[str, Any]) -> None:
    """An allowed transition (offboarding, deletion after offboarding...) is not blocked."""
    assert not [f for f in report["findings"] if f["category"] == "lifecycle" and f["severity"] == "error"], \
        report["findings"]


# -- audit -------------------------------------------------------------------------------------

def audit_violations(repo: Repo) -> list[dict[str, Any]]:
    lines = repo.paybill("audit", "--format", "jsonl").stdout.splitlines()
    records = [json.loads(line) for line in lines if line.strip()]
    assert records, "audit printed no record"
    return [v for r in records for v in r["violations"]]


def tenant_life(repo: Repo, tenant: str) -> list[str]:
    """`paybill audit --tenant`: the tenant's events, oldest first ("onboarded", "plan changed"...)."""
    lines = repo.paybill("audit", "--tenant", tenant, "--format", "jsonl").stdout.splitlines()
    return [e["event"] for line in lines if line.strip() for e in json.loads(line)["events"] if e["tenant"] == tenant]


# -- the guard ---------------------------------------------------------------------------------

def guard(repo: Repo, agent: str, tenant: str, workflow: str, step: str, action: str, resource: str,
          columns: str = "", rows: int = 1) -> Result:
    args = ["guard", "check", "--bundle", f"{GENERATED}/bundles/{agent}", "--tenant", tenant,
            "--workflow", workflow, "--step", step, "--action", action, "--resource", resource,
            "--rows", str(rows)]
    if columns:
        args += ["--columns", columns]
    result = repo.paybill(*args, expect=None)
    assert result.returncode in (0, 3), result.describe()
    return result


def assert_allowed(result: Result) -> None:
    assert result.returncode == 0, result.describe()


def assert_denied_for_state(result: Result, tenant: str, state: str) -> None:
    """Denied, and the reason names the tenant and its lifecycle state (the operator's first question)."""
    assert result.returncode == 3, result.describe()
    text = result.output
    assert tenant in text and state in text, result.describe()


# -- decommission ------------------------------------------------------------------------------

def removed_config_path(tenant: str) -> str:
    return f"{GENERATED}/terraform/removed/tenant/{tenant}/main.tf.json"


def assert_decommissioned(repo: Repo, tenant: str, live_backend: dict[str, Any]) -> None:
    """No live stack; a decommission configuration free of protections, on the live stack's backend,
    listed in manifest.json under `removed` with its `path`."""
    assert not repo.path(f"{GENERATED}/terraform/tenant/{tenant}").exists(), f"{tenant} still has a live stack"
    rel = removed_config_path(tenant)
    assert repo.path(rel).is_file(), f"{rel} missing"
    config = json.loads(repo.read(rel))
    assert protections(config) == [], f"{rel} still protects: {protections(config)}"
    assert stack_backend(config) == live_backend, (stack_backend(config), live_backend)
    manifest = json.loads(repo.read(f"{GENERATED}/manifest.json"))
    entries = [e for e in manifest["removed"] if e["address"] == f"tenant/{tenant}"]
    assert len(entries) == 1, manifest["removed"]
    path = entries[0]["path"]
    assert path in (rel, rel.removeprefix(f"{GENERATED}/")), path


def live_backend(repo: Repo, tenant: str, rev: str = "HEAD") -> dict[str, Any]:
    text = repo.show(rev, f"{GENERATED}/terraform/tenant/{tenant}/main.tf.json")
    assert text is not None, f"no live stack for {tenant} at {rev}"
    return stack_backend(json.loads(text))


def sibling_backend(repo: Repo, sibling: str, tenant: str) -> dict[str, Any]:
    """The backend a live stack of ``tenant`` would have: a live sibling's on the same cloud, keyed
    by tenant name (for a tenant that is deleted from the first commit and so never had one)."""
    backend = json.loads(json.dumps(live_backend(repo, sibling)).replace(f"/{sibling}/", f"/{tenant}/"))
    assert backend != live_backend(repo, sibling), "the state key does not name the tenant"
    return backend


# -- emitted SQL -------------------------------------------------------------------------------

def parse_all_sql(root: Path) -> int:
    """Every emitted .sql parses with PostgreSQL's own parser (pglast); returns how many files."""
    files = sorted((root / GENERATED / "sql").rglob("*.sql"))
    assert files, "no SQL emitted"
    for file in files:
        try:
            pglast.parse_sql(file.read_text(encoding="utf-8"))
        except pglast.parser.ParseError as exc:  # type: ignore[attr-defined]
            raise AssertionError(f"{file.relative_to(root)}: {exc}") from exc
    return len(files)


def sql_folders(repo: Repo) -> set[str]:
    return {p.name for p in repo.path(f"{GENERATED}/sql").iterdir() if p.is_dir()}


# -- plan: databases (interface: role, table, column, privilege, granted/revoked; PII flags) --------

def database_grants(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Every grant change under `databases`, wherever it nests, with its direction as `change` and
    the enclosing entry's `database` (when there is one)."""
    assert "databases" in report, sorted(report)
    grants: list[dict[str, Any]] = []

    def visit(value: Any, database: str | None) -> None:
        if isinstance(value, dict):
            database = value.get("database", database) if isinstance(value.get("database"), str) else database
            if {"role", "table", "privilege"} <= value.keys():
                change = next((value[k] for k in ("change", "op", "action", "status") if k in value), None)
                if change is None and isinstance(value.get("granted"), bool):
                    change = "granted" if value["granted"] else "revoked"
                grants.append({**value, "change": change, "database": database})
            for item in value.values():
                visit(item, database)
        elif isinstance(value, list):
            for item in value:
                visit(item, database)

    visit(report["databases"], None)
    return grants


def same_table(value: str, table: str) -> bool:
    """`customers` or schema-qualified `crm.customers`."""
    return value == table or value.endswith(f".{table}")


def pii_flagged(report: dict[str, Any], table: str, column: str) -> bool:
    """Some entry of `databases` about ``table.column`` carries a true `pii` flag."""
    for _, value in walk(report["databases"]):
        if isinstance(value, dict) and same_table(str(value.get("table")), table) \
                and value.get("column") == column and value.get("pii") is True:
            return True
    return False
