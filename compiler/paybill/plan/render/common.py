"""Counting helpers shared by the renderers."""

from __future__ import annotations

from collections import Counter

from paybill.changes.database_model import DatabaseChange
from paybill.changes.model import PlanReport, ResourceAction, SpecChange, StackChange

ACTIONS: tuple[ResourceAction, ...] = ("create", "update", "replace", "destroy")


def spec_counts(report: PlanReport) -> dict[str, Counter[str]]:
    """kind -> Counter(op)."""
    counts: dict[str, Counter[str]] = {}
    for change in report.changes:
        counts.setdefault(change.kind, Counter())[change.op] += 1
    return counts


def resource_totals(stacks: list[StackChange]) -> Counter[str]:
    totals: Counter[str] = Counter()
    for stack in stacks:
        for resource in stack.resources:
            totals[resource.action] += 1
    return totals


def changes_by_tenant(report: PlanReport) -> dict[str, tuple[SpecChange | None, StackChange | None]]:
    specs = {c.name: c for c in report.changes if c.kind == "Tenant"}
    stacks = {s.tenant: s for s in report.stacks or [] if s.tenant}
    return {name: (specs.get(name), stacks.get(name)) for name in sorted(specs.keys() | stacks.keys())}


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def summary_counts(report: PlanReport) -> str:
    errors = sum(1 for f in report.findings if f.severity == "error")
    errors += sum(1 for d in report.diagnostics if d.severity == "error")
    warnings = sum(1 for f in report.findings if f.severity == "warning")
    warnings += sum(1 for d in report.diagnostics if d.severity == "warning")
    return f"{plural(errors, 'error')}, {plural(warnings, 'warning')}"


DATABASE_COUNTS = ("tables", "columns", "policies", "granted", "revoked", "pii")
"""Keys of :func:`database_totals`, in the order the renderers print them."""


def database_totals(databases: list[DatabaseChange]) -> Counter[str]:
    """Tables and policies changed, columns added or removed, grants granted and revoked, PII grants."""
    totals: Counter[str] = Counter()
    for db in databases:
        totals["tables"] += len(db.tables)
        totals["columns"] += sum(len(t.columns_added) + len(t.columns_removed) for t in db.tables if t.op == "changed")
        totals["policies"] += len(db.policies)
        totals["granted"] += len(db.granted())
        totals["revoked"] += len(db.revoked())
        totals["pii"] += sum(1 for g in db.granted() if g.pii)
    return totals


def database_summary(databases: list[DatabaseChange]) -> str:
    """``3 tables changed, 1 column, ...``: the one-line count text and markdown print."""
    t = database_totals(databases)
    parts = [plural(t["tables"], "table") + " changed" if t["tables"] else "",
             plural(t["columns"], "column") + " added or removed" if t["columns"] else "",
             f"{t['policies']} row polic{'y' if t['policies'] == 1 else 'ies'} changed" if t["policies"] else "",
             plural(t["granted"], "grant") + " granted" + (f" ({t['pii']} on PII columns)" if t["pii"] else "")
             if t["granted"] else "",
             plural(t["revoked"], "grant") + " revoked" if t["revoked"] else ""]
    return ", ".join(p for p in parts if p) or "SQL only"


def database_groups(databases: list[DatabaseChange]) -> list[tuple[list[DatabaseChange], list[str]]]:
    """Databases with the very same changes, grouped (a widened grant repeats in every tenant database),
    each group with its change lines; in the order of the first database of each group."""
    groups: dict[tuple[str, tuple[str, ...], tuple[str, ...]], list[DatabaseChange]] = {}
    for db in databases:
        groups.setdefault((db.op, db.files, tuple(db.lines())), []).append(db)
    return [(members, list(key[2])) for key, members in groups.items()]
