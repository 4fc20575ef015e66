"""Plain text for terminals. Colour only when asked (the CLI asks on a TTY without ``NO_COLOR``)."""

from __future__ import annotations

from collections.abc import Callable

import click

from paybill.changes.model import PlanReport, StackChange
from paybill.plan.render.common import (
    ACTIONS,
    database_groups,
    database_summary,
    plural,
    resource_totals,
    summary_counts,
)
from paybill.plan.revenue import format_money

_OP_MARK = {"added": "+", "removed": "-", "modified": "~", "moved": ">"}
_OP_COLOR = {"added": "green", "removed": "red", "modified": "yellow", "moved": "cyan",
             "create": "green", "destroy": "red", "update": "yellow", "replace": "magenta",
             "error": "red", "warning": "yellow", "notice": "cyan"}
_ACTION_MARK = {"create": "+", "destroy": "-", "update": "~", "replace": "-/+"}


def render_text(report: PlanReport, *, color: bool = False) -> str:
    def paint(text: str, key: str, bold: bool = False) -> str:
        return click.style(text, fg=_OP_COLOR.get(key), bold=bold) if color else text

    lines: list[str] = [f"paybill plan: {report.base_label} -> {report.head_label}", ""]
    for d in report.diagnostics:
        lines.append(f"{d.path}:{d.position.line}:{d.position.col}: "
                     f"{paint(d.severity.value, d.severity.value)}[{d.code}]: {d.message}")
        if d.hint:
            lines.append(f"  hint: {d.hint}")
    if report.diagnostics:
        lines.append("")

    lines.append(f"Spec changes: {len(report.changes)}" if report.changes else "Spec changes: none")
    for change in report.changes:
        where = f"{change.file}:{change.position.line}:{change.position.col}"
        if change.op == "moved":
            where = f"{change.base_file} -> {change.file}"
        lines.append(f"  {paint(_OP_MARK[change.op], change.op, True)} {change.ref}  {where}")
        for field in change.fields:
            lines.append(f"      {field.describe()}  (line {field.position.line})")
    lines.append("")

    _terraform(report, lines, paint)
    _databases(report, lines, paint)
    _findings(report, lines, paint)
    if report.revenue.changed:
        lines.append("Monthly recurring revenue:")
        for row in report.revenue.totals:
            if row.delta:
                lines.append(f"  {row.currency}: {format_money(row.before, row.currency)} -> "
                             f"{format_money(row.after, row.currency)} "
                             f"({format_money(row.delta, row.currency, signed=True)})")
        lines.append("")
    lines.append(("BLOCKED: " if report.has_errors else "ok: ") + summary_counts(report))
    return "\n".join(lines) + "\n"


def _terraform(report: PlanReport, lines: list[str], paint: Callable[..., str]) -> None:
    if report.stacks is None:
        lines += [f"Terraform: not compared ({report.terraform_note})", ""]
        return
    totals = resource_totals(report.stacks)
    counts = ", ".join(f"{totals[a]} to {a}" for a in ACTIONS)
    source = f" [{report.terraform_base}]" if report.terraform_base else ""
    # "1 stack change (0 to create, 2 to update, ...)" read as two stacks updated out of one: the counts
    # are resources
    changed = len(report.stacks)
    verb = "stack changes" if changed == 1 else "stacks change"
    lines.append(f"Terraform: {changed} {verb} (resources: {counts}){source}")
    for stack in report.stacks:
        lines.append(f"  {paint(_stack_mark(stack), stack.op, True)} {stack.address} ({stack.op})"
                     + (f": reaches {plural(len(stack.reach), 'tenant')}" if stack.reach else ""))
        if stack.state_move:
            lines.append(f"      state moves: {stack.state_move[0]} -> {stack.state_move[1]}")
        for resource in stack.resources:
            extra = ""
            if resource.forces_replacement:
                extra = f"  (forces replacement: {', '.join(resource.forces_replacement)})"
            elif resource.arguments:
                extra = f"  ({', '.join(resource.arguments)})"
            mark = paint(_ACTION_MARK[resource.action], resource.action, True)
            lines.append(f"      {mark} {resource.address}{' [data store]' if resource.data_store else ''}{extra}")
    lines.append("")


_DB_MARK = {"created": "+", "destroyed": "-", "changed": "~"}


def _databases(report: PlanReport, lines: list[str], paint: Callable[..., str]) -> None:
    """Per database (or group of databases with the same changes): tables, row policies, grants."""
    if report.databases is None:
        return
    if not report.databases:
        lines += ["Databases: 0 databases change", ""]
        return
    count = plural(len(report.databases), "database")
    lines.append(f"Databases: {count} change ({database_summary(report.databases)})")
    for members, changes in database_groups(report.databases):
        first = members[0]
        names = ", ".join(db.database for db in members)
        files = f": {', '.join(first.files)}" if first.files else ""
        lines.append(f"  {paint(_DB_MARK[first.op], first.op, True)} {names} ({first.op}){files}")
        for change in changes:
            mark, _, text = change.partition(" ")
            lines.append(f"      {paint(mark, _LINE_COLOR.get(mark, ''), True)} {text}")
    lines.append("")


_LINE_COLOR = {"+": "create", "-": "destroy", "~": "update", "!": "warning"}


def _stack_mark(stack: StackChange) -> str:
    return {"created": "+", "destroyed": "-", "changed": "~"}[stack.op]


def _findings(report: PlanReport, lines: list[str], paint: Callable[..., str]) -> None:
    findings = report.findings_sorted()
    if not findings:
        return
    lines.append("Findings:")
    for f in findings:
        where = f" ({f.file}:{f.position.line}:{f.position.col})" if f.file else ""
        lines.append(f"  {paint(f.severity, f.severity, True)}[{f.code}] {f.subject}: {f.message}{where}")
        if f.hint:
            lines.append(f"    hint: {f.hint}")
        for detail in f.details:
            lines.append(f"    {detail}")
    lines.append("")
