"""The plan report: what changed between two sides, what it does to infrastructure, what is risky.

Everything here is plain data with a deterministic order, so the three renderers (text, markdown,
json) and the audit trail print the same facts the same way on every machine.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from paybill.changes.database_model import DatabaseChange
from paybill.diagnostics import Diagnostic, Position, Severity
from paybill.diagnostics.text import printable

ChangeOp = Literal["added", "removed", "changed", "reordered"]
SpecOp = Literal["added", "removed", "modified", "moved"]
FindingSeverity = Literal["error", "warning", "notice"]
SEVERITY_ORDER = {"error": 0, "warning": 1, "notice": 2}


def format_value(value: Any, limit: int = 120) -> str:
    """A short, readable rendering of a spec value: YAML-like scalars, compact JSON for structures; a string
    holding a character that is not printable (a control character, an escape sequence) is quoted and
    escaped (:func:`paybill.diagnostics.text.printable`), so a terminal, a log or a comment shows it as it is."""
    if value is None:
        text = "null"
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int | float):
        text = str(value)
    elif isinstance(value, str):
        plain = value and value.isprintable() and value.strip() == value and value[0] not in "{[\"'&*!|>%@`#"
        text = value if plain else printable(json.dumps(value, ensure_ascii=False))
    else:
        text = printable(json.dumps(value, ensure_ascii=False, separators=(", ", ": ")))
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One field of one spec that changed, with where it is on the head side (or the base, if removed)."""

    path: str
    """Display path: ``spec.placement.pool``, ``spec.steps[id=close].next``, ``spec.features``."""
    op: ChangeOp
    before: Any = None
    after: Any = None
    file: str = ""
    position: Position = field(default_factory=Position)

    def describe(self) -> str:
        if self.op == "added":
            return f"{self.path}: + {format_value(self.after)}"
        if self.op == "removed":
            return f"{self.path}: - {format_value(self.before)}"
        if self.op == "reordered":
            return f"{self.path}: reordered {format_value(self.before)} -> {format_value(self.after)}"
        return f"{self.path}: {format_value(self.before)} -> {format_value(self.after)}"

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "op": self.op, "before": self.before, "after": self.after,
                "file": self.file, "line": self.position.line, "col": self.position.col}


@dataclass(frozen=True, slots=True)
class SpecChange:
    """One spec (kind and name) that was added, removed, modified or moved to another file."""

    kind: str
    name: str
    op: SpecOp
    file: str
    """Head-side file (base-side for a removal)."""
    position: Position = field(default_factory=Position)
    base_file: str | None = None
    fields: tuple[FieldChange, ...] = ()

    @property
    def ref(self) -> str:
        return f"{self.kind}/{self.name}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "op": self.op, "file": self.file,
                "line": self.position.line, "col": self.position.col, "baseFile": self.base_file,
                "fields": [f.to_dict() for f in self.fields]}


@dataclass(frozen=True, slots=True)
class Finding:
    """A danger flag or a blocked change, with where to look and what to do.

    ``error`` findings block the change (``paybill plan`` exits 1); ``warning`` findings need a
    reviewer's attention (data destroyed, isolation moved, permissions widened); ``notice`` findings
    are facts a reviewer wants to see (revenue moved, how far a pool change reaches).
    """

    code: str
    severity: FindingSeverity
    category: str
    subject: str
    """``Kind/name`` the finding is about (or a stack address)."""
    message: str
    file: str = ""
    position: Position = field(default_factory=Position)
    hint: str | None = None
    details: tuple[str, ...] = ()
    """Extra lines: the steps of a runbook, the new tenants in an agent's scope..."""

    @property
    def sort_key(self) -> tuple[int, str, str, str, str]:
        return (SEVERITY_ORDER[self.severity], self.category, self.subject, self.code, self.message)

    def to_diagnostic(self) -> Diagnostic:
        severity = Severity.ERROR if self.severity == "error" else Severity.WARNING
        return Diagnostic(self.code, self.message, self.file, self.position, self.hint, severity)

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "severity": self.severity, "category": self.category,
                "subject": self.subject, "message": self.message, "file": self.file,
                "line": self.position.line, "col": self.position.col, "hint": self.hint,
                "details": list(self.details)}


@dataclass(frozen=True, slots=True)
class TenantRevenue:
    """One tenant's contribution to monthly recurring revenue, before and after (minor units)."""

    tenant: str
    currency: str
    before: int
    after: int
    reason: str


@dataclass(frozen=True, slots=True)
class CurrencyRevenue:
    currency: str
    before: int
    after: int

    @property
    def delta(self) -> int:
        return self.after - self.before


@dataclass(frozen=True, slots=True)
class Revenue:
    """Monthly recurring revenue from plan prices, per currency, and the tenants whose share moved."""

    totals: tuple[CurrencyRevenue, ...] = ()
    tenants: tuple[TenantRevenue, ...] = ()

    @property
    def changed(self) -> bool:
        return any(t.delta for t in self.totals)


ResourceAction = Literal["create", "update", "destroy", "replace"]


@dataclass(frozen=True, slots=True)
class ResourceChange:
    """One Terraform resource of one stack and what applying the head side does to it."""

    address: str
    type: str
    action: ResourceAction
    arguments: tuple[str, ...] = ()
    """Top-level arguments whose value changed (update and replace)."""
    forces_replacement: tuple[str, ...] = ()
    """The changed arguments that force replacement (from the documented table)."""
    data_store: bool = False
    not_made: tuple[str, ...] = ()
    """One-way changes the cloud refuses or ignores (a shrinking disk it cannot shrink): PB0941."""


@dataclass(frozen=True, slots=True)
class StackChange:
    """One stack (unit of Terraform state) that changes."""

    address: str
    op: Literal["created", "changed", "destroyed"]
    tenant: str | None
    pool: str | None
    resources: tuple[ResourceChange, ...] = ()
    reach: tuple[str, ...] = ()
    """For pool stacks: the live tenants whose stacks read this pool."""
    state_move: tuple[str, str] | None = None
    """(from, to) when the stack's state is stored somewhere else on the head side (another backend,
    bucket or key): it must be migrated before the head side is applied."""

    def count(self, action: ResourceAction) -> int:
        return sum(1 for r in self.resources if r.action == action)


@dataclass(frozen=True, slots=True)
class ImpactEdge:
    source: str
    target: str


@dataclass(frozen=True, slots=True)
class Impact:
    """What the changed specs reach: nodes (``Kind/name`` and ``stack:...``) and "affects" edges."""

    changed: tuple[str, ...] = ()
    affected: tuple[str, ...] = ()
    edges: tuple[ImpactEdge, ...] = ()


@dataclass
class PlanReport:
    """Everything ``paybill plan`` knows about a change."""

    base_label: str
    head_label: str
    base_commit: str | None
    head_commit: str | None
    changes: list[SpecChange] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    revenue: Revenue = field(default_factory=Revenue)
    impact: Impact = field(default_factory=Impact)
    stacks: list[StackChange] | None = None
    """None when Terraform was not compared (``terraform_note`` says why)."""
    terraform_note: str | None = None
    terraform_base: str | None = None
    """Where the base side's Terraform came from (compiled, or the committed generated/ tree)."""
    databases: list[DatabaseChange] | None = None
    """Databases whose compiled SQL changes (``generated/sql/<database>/``); None when not compared
    (it is compared with the Terraform, so ``terraform_note`` says why)."""
    diagnostics: list[Diagnostic] = field(default_factory=list)
    """Diagnostics of the head side (and PB09xx problems of the comparison itself)."""
    compiled: bool = True
    """False when neither side was compiled: both commits' committed ``generated/`` trees were proven
    this compiler's output by compile records in the cache folder (:mod:`paybill.plan.committed`).
    Not rendered (the report is the same either way); the CLI says it on stderr, so a CI log shows
    whether its restored cache did its job."""

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def has_errors(self) -> bool:
        return bool(self.errors) or any(d.severity is Severity.ERROR for d in self.diagnostics)

    def findings_sorted(self) -> list[Finding]:
        return sorted(self.findings, key=lambda f: f.sort_key)

    def tenant_names(self) -> list[str]:
        """Tenants this change touches: changed Tenant specs and tenant stacks (for per-tenant details)."""
        names = {c.name for c in self.changes if c.kind == "Tenant"}
        names.update(s.tenant for s in self.stacks or [] if s.tenant)
        return sorted(names)
