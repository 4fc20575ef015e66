"""Markdown for a pull-request comment: summary tables, findings, revenue, a Mermaid graph of what
is affected, and collapsible details per tenant.

GitHub caps a comment at 65,536 characters; the renderer keeps to :data:`BUDGET` by collapsing the
per-tenant details it cannot fit into one line that says how many were left out (``paybill plan``
locally prints everything). The first line is a marker the PR workflow uses to update its comment.
"""

from __future__ import annotations

import html
from collections import defaultdict

from paybill.changes.markdown_text import cell, code, fenced
from paybill.changes.model import FieldChange, Finding, ImpactEdge, PlanReport, SpecChange, StackChange, format_value
from paybill.changes.specdiff import KIND_ORDER
from paybill.plan.render.common import (
    ACTIONS,
    DATABASE_COUNTS,
    changes_by_tenant,
    database_groups,
    database_totals,
    plural,
    resource_totals,
    spec_counts,
)
from paybill.plan.revenue import format_money

MARKER = "<!-- paybill-plan -->"
BUDGET = 60_000
MAX_EDGES = 60
MAX_FINDINGS = 200
MAX_DATABASE_GROUPS = 30
MAX_DATABASE_NAMES = 20
MAX_DATABASE_LINES = 60
DATABASE_BUDGET = 15_000
"""Characters the database groups may take, so the tenants' details still fit in :data:`BUDGET`."""
GROUP_AT = 6
"""A node with more targets of one kind than this is drawn as one grouped node ("120 tenants")."""
_FAMILY = {"Tenant": "tenants", "stack": "stacks", "bundle": "agent bundles", "Pool": "pools"}
_ICON = {"error": "⛔", "warning": "⚠️", "notice": "ℹ️"}
_ACTION_MARK = {"create": "+", "destroy": "-", "update": "~", "replace": "-/+"}


def render_markdown(report: PlanReport) -> str:
    out: list[str] = [MARKER, "### paybill plan", ""]
    status = ("❌ **blocked**" if report.has_errors else "✅ no blocking problems")
    out.append(f"{code(report.base_label)} → {code(report.head_label)} · {status}")
    out.append("")
    _summary(report, out)
    _diagnostics(report, out)
    _findings(report, out)
    _databases(report, out)
    _revenue(report, out)
    _graph(report, out)
    _tenants(report, out)
    _others(report, out)
    return "\n".join(out).rstrip("\n") + "\n"


def _summary(report: PlanReport, out: list[str]) -> None:
    counts = spec_counts(report)
    if not counts:
        out += ["No spec changes.", ""]
    else:
        out += ["| Spec kind | Added | Modified | Removed | Moved |", "| --- | ---: | ---: | ---: | ---: |"]
        for kind in sorted(counts, key=lambda k: (KIND_ORDER.get(k, 99), k)):
            c = counts[kind]
            out.append(f"| {kind} | {c['added']} | {c['modified']} | {c['removed']} | {c['moved']} |")
        out.append("")
    if report.stacks is None:
        out += [f"Terraform not compared: {report.terraform_note}", ""]
        return
    totals = resource_totals(report.stacks)
    out += ["| Terraform | Stacks | Create | Update | Replace | Destroy |",
            "| --- | ---: | ---: | ---: | ---: | ---: |"]
    out.append(f"| resources | {len(report.stacks)} | " + " | ".join(str(totals[a]) for a in ACTIONS) + " |")
    out.append("")
    if report.databases:
        totals = database_totals(report.databases)
        out += ["| Databases | Changed | Tables | Columns | Row policies | Granted | Revoked | PII granted |",
                "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
                f"| sql | {len(report.databases)} | " + " | ".join(str(totals[k]) for k in DATABASE_COUNTS) + " |",
                ""]
    if report.terraform_base:
        out += [f"<sub>Terraform {cell(report.terraform_base)}</sub>", ""]


def _diagnostics(report: PlanReport, out: list[str]) -> None:
    if not report.diagnostics:
        return
    lines = []
    for d in report.diagnostics[:200]:
        lines.append(f"{d.path}:{d.position.line}:{d.position.col}: {d.severity.value}[{d.code}]: {d.message}")
        if d.hint:
            lines.append(f"  hint: {d.hint}")
    if len(report.diagnostics) > 200:
        lines.append(f"... {len(report.diagnostics) - 200} more (run paybill validate)")
    out += [f"#### Diagnostics ({len(report.diagnostics)})", "", *fenced(lines), ""]


def html_code(text: object) -> str:
    """``<code>`` for HTML contexts (``<summary>``), where markdown backticks are not rendered."""
    return f"<code>{html.escape(str(text))}</code>"


def _where(f: Finding) -> str:
    where = f"<br>{code(f'{f.file}:{f.position.line}')}" if f.file else ""
    hint = f"<br>_{cell(f.hint)}_" if f.hint else ""
    return where + hint


def _findings(report: PlanReport, out: list[str]) -> None:
    findings = report.findings_sorted()
    if not findings:
        return
    out += ["#### Findings", "", "| | Code | Subject | Finding |", "| --- | --- | --- | --- |"]
    for f in findings[:MAX_FINDINGS]:
        out.append(f"| {_ICON[f.severity]} | {f.code} | {code(f.subject)} | {cell(f.message)}{_where(f)} |")
    if len(findings) > MAX_FINDINGS:
        out.append(f"| | | | … {len(findings) - MAX_FINDINGS} more findings (run `paybill plan` for all) |")
    out.append("")
    for f in findings[:MAX_FINDINGS]:
        if not f.details:
            continue
        title = {"isolation": "Runbook", "permissions": "Widened permissions"}.get(f.category, "Details")
        out.append(f"<details><summary>{title}: {html_code(f.subject)}</summary>")
        out.append("")
        for detail in f.details:
            out.append(detail if detail[:1].isdigit() else f"- {detail}")
        out += ["", "</details>", ""]


def _databases(report: PlanReport, out: list[str]) -> None:
    """Each group of databases with the same changes once: a widened grant repeats in every database."""
    if not report.databases:
        return
    groups = database_groups(report.databases)
    out += [f"#### Databases ({len(report.databases)})", ""]
    used = shown = 0
    for members, changes in groups[:MAX_DATABASE_GROUPS]:
        block: list[str] = []
        first = members[0]
        names = ", ".join(html_code(db.database) for db in members[:MAX_DATABASE_NAMES])
        if len(members) > MAX_DATABASE_NAMES:
            names += f" and {len(members) - MAX_DATABASE_NAMES} more"
        granted = sum(1 for line in changes if line.startswith("+ grant "))
        pii = sum(1 for line in changes if line.startswith("+ grant ") and " [PII: " in line)
        flags = " ⚠️ PII" if pii else ""
        summary = f"{plural(len(changes), 'change')}" + (f", {plural(granted, 'grant')} granted" if granted else "")
        block += [f"<details><summary>{names} ({first.op}): {summary}{flags}</summary>", ""]
        if first.files:
            block += ["Files: " + ", ".join(code(f) for f in first.files), ""]
        for line in changes[:MAX_DATABASE_LINES]:
            mark, _, text = line.partition(" ")
            block.append(f"- `{mark}` {cell(text)}")
        if len(changes) > MAX_DATABASE_LINES:
            block.append(f"- … {len(changes) - MAX_DATABASE_LINES} more (run `paybill plan` for all)")
        block += ["", "</details>", ""]
        size = sum(len(line) + 1 for line in block)
        if shown and used + size > DATABASE_BUDGET:
            break
        out += block
        used += size
        shown += 1
    if len(groups) > shown:
        out += [f"_… {plural(len(groups) - shown, 'more group')} of databases not shown to keep this comment "
                "under GitHub's size limit; run `paybill plan` locally for the full report._", ""]


def _revenue(report: PlanReport, out: list[str]) -> None:
    if not report.revenue.changed:
        return
    out += ["#### Monthly recurring revenue", "", "| Currency | Before | After | Change |",
            "| --- | ---: | ---: | ---: |"]
    for row in report.revenue.totals:
        if row.delta:
            out.append(f"| {row.currency} | {format_money(row.before, row.currency)} | "
                       f"{format_money(row.after, row.currency)} | "
                       f"**{format_money(row.delta, row.currency, signed=True)}** |")
    out.append("")
    tenants = report.revenue.tenants
    if tenants:
        out += [f"<details><summary>{plural(len(tenants), 'tenant')} moved MRR</summary>", "",
                "| Tenant | Before | After | Why |", "| --- | ---: | ---: | --- |"]
        for t in tenants[:100]:
            out.append(f"| {code(t.tenant)} | {format_money(t.before, t.currency)} | "
                       f"{format_money(t.after, t.currency)} | {cell(t.reason)} |")
        if len(tenants) > 100:
            out.append(f"| … | | | {len(tenants) - 100} more |")
        out += ["", "</details>", ""]


def _node_label(node: str) -> str:
    return node.replace('"', "#quot;")


def _graph(report: PlanReport, out: list[str]) -> None:
    edges = list(report.impact.edges)
    for stack in report.stacks or []:
        source = f"Tenant/{stack.tenant}" if stack.tenant else f"Pool/{stack.pool}" if stack.pool else None
        if source and f"stack:{stack.address}" not in {e.target for e in edges if e.source == source}:
            edges.append(ImpactEdge(source, f"stack:{stack.address}"))
    if not edges:
        return
    # Group fan-out: Plan/growth -> 340 tenants is one node, not 340.
    grouped: dict[tuple[str, str], list[str]] = defaultdict(list)
    for edge in edges:
        grouped[(edge.source, edge.target.split("/", 1)[0].split(":", 1)[0])].append(edge.target)
    changed = set(report.impact.changed)
    lines: list[tuple[str, str]] = []
    collapsed: set[str] = set()
    for (source, family), targets in sorted(grouped.items()):
        if len(targets) > GROUP_AT:
            group = f"{len(targets)} {_FAMILY.get(family, family)}"
            lines.append((source, group))
            collapsed.update(targets)
        else:
            lines.extend((source, t) for t in sorted(targets))
    lines = [(s, t) for s, t in lines if s not in collapsed or s in changed]
    ids: dict[str, str] = {}

    def node(name: str) -> str:
        if name not in ids:
            ids[name] = f"n{len(ids)}"
        return ids[name]

    body = []
    for source, target in sorted(lines)[:MAX_EDGES]:
        body.append(f"  {node(source)}[\"{_node_label(source)}\"] --> {node(target)}[\"{_node_label(target)}\"]")
    if len(lines) > MAX_EDGES:
        body.append(f"  more[\"… {len(lines) - MAX_EDGES} more edges\"]")
    marks = [ids[n] for n in sorted(changed) if n in ids]
    out += ["#### What is affected", "", "```mermaid", "flowchart LR", *body]
    if marks:
        out += ["  classDef changed fill:#fde68a,stroke:#b45309,color:#000", f"  class {','.join(marks)} changed"]
    out += ["```", ""]


def _field_rows(fields: tuple[FieldChange, ...]) -> list[str]:
    rows = ["| Field | Before | After | Line |", "| --- | --- | --- | ---: |"]
    for f in fields:
        before = "" if f.op == "added" else code(format_value(f.before))
        after = "" if f.op == "removed" else code(format_value(f.after))
        rows.append(f"| {code(f.path)} | {before} | {after} | {f.position.line} |")
    return rows


def _stack_lines(stack: StackChange) -> list[str]:
    counts = ", ".join(f"{stack.count(a)} {a}" for a in ACTIONS if stack.count(a))
    lines = [f"**Terraform** {code(stack.address)} ({stack.op}{': ' + counts if counts else ''})", ""]
    if stack.state_move:
        lines.append(f"- state moves: {code(stack.state_move[0])} → {code(stack.state_move[1])}")
    for r in stack.resources[:80]:
        why = ""
        if r.forces_replacement:
            why = f" — forces replacement: {', '.join(code(a) for a in r.forces_replacement)}"
        elif r.arguments:
            why = f" — {', '.join(code(a) for a in r.arguments)}"
        lines.append(f"- `{_ACTION_MARK[r.action]}` {code(r.address)}{' 🗄️' if r.data_store else ''}{why}")
    if len(stack.resources) > 80:
        lines.append(f"- … {len(stack.resources) - 80} more")
    return lines


def _spec_summary(change: SpecChange | None) -> str:
    if change is None:
        return "spec unchanged"
    if change.op == "modified":
        return f"{plural(len(change.fields), 'field')} changed"
    return change.op


def _tenants(report: PlanReport, out: list[str]) -> None:
    tenants = changes_by_tenant(report)
    if not tenants:
        return
    out += [f"#### Tenants ({len(tenants)})", ""]
    findings: dict[str, list[Finding]] = defaultdict(list)
    for f in report.findings:
        findings[f.subject].append(f)
    used = sum(len(line) + 1 for line in out)
    left = 0
    for name, (spec, stack) in tenants.items():
        block = _tenant_block(name, spec, stack, findings.get(f"Tenant/{name}", []))
        size = sum(len(line) + 1 for line in block)
        if used + size > BUDGET:
            left += 1
            continue
        used += size
        out += block
    if left:
        out += [f"_… {plural(left, 'more tenant')} not shown to keep this comment under GitHub's size limit; "
                "run `paybill plan` locally for the full report._", ""]


def _tenant_block(name: str, spec: SpecChange | None, stack: StackChange | None, findings: list[Finding]) -> list[str]:
    flags = "".join(_ICON[s] for s in ("error", "warning") if any(f.severity == s for f in findings))
    parts = [_spec_summary(spec)]
    if stack is not None:
        counts = ", ".join(f"{stack.count(a)} to {a}" for a in ACTIONS if stack.count(a))
        parts.append(f"stack {stack.op}" + (f" ({counts})" if counts else ""))
    block = [f"<details><summary>{flags + ' ' if flags else ''}{html_code(name)}: {' · '.join(parts)}</summary>", ""]
    if spec is not None:
        block.append(f"{code(spec.file)}")
        block.append("")
        if spec.fields:
            block += _field_rows(spec.fields)
            block.append("")
    for f in sorted(findings, key=lambda f: f.sort_key):
        block.append(f"- {_ICON[f.severity]} **{f.code}** {cell(f.message)}")
    if findings:
        block.append("")
    if stack is not None:
        block += _stack_lines(stack)
        block.append("")
    block += ["</details>", ""]
    return block


def _others(report: PlanReport, out: list[str]) -> None:
    others = [c for c in report.changes if c.kind != "Tenant"]
    stacks = [s for s in report.stacks or [] if not s.tenant]
    if not others and not stacks:
        return
    out += ["#### Other specs and stacks", ""]
    for change in others:
        out.append(f"<details><summary>{html_code(change.ref)}: {_spec_summary(change)}</summary>")
        out += ["", code(change.file), ""]
        if change.fields:
            out += _field_rows(change.fields)
            out.append("")
        out += ["</details>", ""]
    for stack in stacks:
        reach = f" · reaches {plural(len(stack.reach), 'tenant')}" if stack.reach else ""
        out.append(f"<details><summary>{html_code(stack.address)}: stack {stack.op}{reach}</summary>")
        out.append("")
        out += _stack_lines(stack)
        out += ["", "</details>", ""]
