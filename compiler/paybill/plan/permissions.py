"""Permission widening in agent bundles: what an agent may do after the change that it could not before.

Narrowing is safe and not reported. Widening is a warning that a reviewer must accept explicitly:
new actions or tables, new columns, new tenants in scope (through the scope itself or through
tenants newly matching its selector), raised limits, new workflows or proposal rights, an approval
step removed from a workflow it runs, a tenant table turned global (rows lose their tenant filter).
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

from paybill.changes.model import Finding
from paybill.validate.index import SpecIndex
from paybill.validate.scope import live_names, scope_documents

CODE_WIDENING = "PB0930"
MAX_LISTED = 12


def scope_tenants(agent: Any, index: SpecIndex) -> set[str]:
    """The live tenants an agent's scope reaches on one side."""
    return set(live_names(scope_documents(index, agent.spec.tenant_scope)))


def _names(items: set[str] | list[str]) -> str:
    ordered = sorted(items)
    text = ", ".join(ordered[:MAX_LISTED])
    return text + (f" (+{len(ordered) - MAX_LISTED} more)" if len(ordered) > MAX_LISTED else "")


class _TableGrant(TypedDict):
    read: set[str]
    insert: set[str]
    update: set[str]
    delete: bool


_COLUMN_ACTIONS: tuple[Literal["read", "insert", "update"], ...] = ("read", "insert", "update")


def _grants(agent) -> dict[str, _TableGrant]:
    return {g.table: {"read": set(g.read), "insert": set(g.insert), "update": set(g.update), "delete": g.delete}
            for g in agent.spec.permissions.tables}


def _proposal_fields(agent) -> set[str]:
    return {f"{p.kind}:{f}" for p in agent.spec.permissions.proposals for f in p.fields}


def _workflow_widening(name: str, base: SpecIndex, head: SpecIndex) -> list[str]:
    new_doc, old_doc = head.get("Workflow", name), base.get("Workflow", name)
    if new_doc is None or old_doc is None:
        return []
    old_steps = {s.id: s for s in old_doc.model.spec.steps}
    new_steps = {s.id: s for s in new_doc.model.spec.steps}
    out = []
    for step_id, old in sorted(old_steps.items()):
        new = new_steps.get(step_id)
        if old.requires_approval and (new is None or not new.requires_approval):
            what = "removed" if new is None else "no longer requires approval"
            out.append(f"workflow {name}: approval step '{step_id}' {what}")
    for step_id, new in sorted(new_steps.items()):
        old = old_steps.get(step_id)
        if old is None and new.action not in ("none", "approve"):
            target = f" {new.resource}" if new.resource else ""
            out.append(f"workflow {name}: new step '{step_id}' ({new.action}{target})")
        elif old is not None and (old.action, old.resource) != (new.action, new.resource) and new.action != "none":
            out.append(f"workflow {name}: step '{step_id}' now does {new.action}"
                       + (f" on {new.resource}" if new.resource else ""))
        if old is not None and (new.max_visits or 0) > (old.max_visits or 0) and old.max_visits is not None:
            out.append(f"workflow {name}: step '{step_id}' maxVisits raised {old.max_visits} -> {new.max_visits}")
    return out


def _table_scope_widening(tables: set[str], base: SpecIndex, head: SpecIndex) -> list[str]:
    out = []
    for table in sorted(tables):
        old, new = base.tables.get(table), head.tables.get(table)
        if old is not None and new is not None and old.table.scope == "tenant" and new.table.scope == "global":
            out.append(f"table {table} changed from tenant-scoped to global: its rows lose the tenant filter")
    return out


def widening_details(old, new, base: SpecIndex, head: SpecIndex) -> list[str]:
    """Every way ``new`` (an Agent on the head side) can do more than ``old`` (on the base side)."""
    details: list[str] = []
    old_grants, new_grants = _grants(old), _grants(new)
    for table, grant in sorted(new_grants.items()):
        before = old_grants.get(table)
        if before is None:
            cols = "; ".join(f"{a}: {', '.join(sorted(grant[a]))}" for a in _COLUMN_ACTIONS if grant[a])
            details.append(f"new table grant {table}" + (f" ({cols})" if cols else "")
                           + (" with delete" if grant["delete"] else ""))
            continue
        for action in _COLUMN_ACTIONS:
            added = grant[action] - before[action]
            if added:
                verb = "new action" if not before[action] else "new columns"
                pii = sorted(c for c in added if _is_pii(head, table, c))
                note = f" (PII: {', '.join(pii)})" if pii else ""
                details.append(f"{verb} {action} on {table}: {_names(added)}{note}")
        if grant["delete"] and not before["delete"]:
            details.append(f"new action delete on {table}")
    added_fields = _proposal_fields(new) - _proposal_fields(old)
    if added_fields:
        details.append(f"may now propose: {_names(added_fields)}")
    added_workflows = set(new.spec.workflows) - set(old.spec.workflows)
    if added_workflows:
        details.append(f"new workflows: {_names(added_workflows)}")
    for limit, value in new.spec.limits.model_dump().items():
        previous = getattr(old.spec.limits, limit)
        if value > previous:
            details.append(f"limit {_camel(limit)} raised {previous} -> {value}")
    added_tenants = scope_tenants(new, head) - scope_tenants(old, base)
    if added_tenants:
        how = "scope changed" if new.spec.tenant_scope != old.spec.tenant_scope else "newly in scope"
        details.append(f"tenants {how}: {_names(added_tenants)}")
    for workflow in sorted(new.spec.workflows):
        details.extend(_workflow_widening(workflow, base, head))
    details.extend(_table_scope_widening(set(new_grants), base, head))
    return details


def _is_pii(index: SpecIndex, table: str, column: str) -> bool:
    ref = index.tables.get(table)
    return bool(ref is not None and column in ref.columns and ref.columns[column].pii)


def _camel(snake: str) -> str:
    first, *rest = snake.split("_")
    return first + "".join(part.title() for part in rest)


def detect_widening(base: SpecIndex, head: SpecIndex) -> list[Finding]:
    findings: list[Finding] = []
    for doc in head.of_kind("Agent"):
        old_doc = base.get("Agent", doc.name)
        if old_doc is None:
            if base.is_broken("Agent", doc.name):
                continue
            new = doc.model
            tables = ", ".join(g.table for g in new.spec.permissions.tables) or "no tables"
            findings.append(Finding(
                CODE_WIDENING, "warning", "permissions", f"Agent/{doc.name}",
                f"new agent '{doc.name}' gets a bundle: {tables}; {len(scope_tenants(new, head))} tenants in scope",
                doc.path, doc.position("spec", "permissions"),
                "review its grants, scope and limits before merging"))
            continue
        details = widening_details(old_doc.model, doc.model, base, head)
        if details:
            findings.append(Finding(
                CODE_WIDENING, "warning", "permissions", f"Agent/{doc.name}",
                f"permissions widened for agent '{doc.name}': {len(details)} "
                f"change{'s' if len(details) != 1 else ''}",
                doc.path, doc.position("spec"),
                "a reviewer from the agent's owning team must approve widened permissions",
                tuple(details)))
    return findings
