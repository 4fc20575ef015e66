"""Counting helpers shared by the renderers."""

from __future__ import annotations

from collections import Counter

from paybill.plan.model import PlanReport, SpecChange, StackChange

ACTIONS = ("create", "update", "replace", "destroy")


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
