"""What a change does to each database: plain, ordered data the plan renderers print.

One :class:`DatabaseChange` per ``generated/sql/<database>/`` folder that differs between the two
sides: its tables and columns, its row-level security policies and its grants, each compared as
structured facts from the catalog the SQL emitter writes (``migrations.json``), not as SQL text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

DatabaseOp = Literal["created", "changed", "destroyed"]
ItemOp = Literal["added", "removed", "changed"]
GrantOp = Literal["granted", "revoked"]


@dataclass(frozen=True, slots=True)
class TableChange:
    """A table added, removed, or changed (columns, types, nullability, scope) in one database."""

    table: str
    """``schema.table``."""
    op: ItemOp
    columns_added: tuple[str, ...] = ()
    """``name type`` of each column added (every column of an added table)."""
    columns_removed: tuple[str, ...] = ()
    changes: tuple[str, ...] = ()
    """Other differences, one readable line each: ``status: text -> integer``, ``scope: tenant -> global``."""

    def describe(self) -> str:
        parts = []
        if self.columns_added:
            parts.append(("columns " if self.op == "added" else "+ columns ") + ", ".join(self.columns_added))
        if self.columns_removed:
            parts.append("- columns " + ", ".join(self.columns_removed))
        parts.extend(self.changes)
        return f"table {self.table}" + (f": {'; '.join(parts)}" if parts else "")

    def to_dict(self) -> dict[str, Any]:
        return {"table": self.table, "op": self.op, "columnsAdded": list(self.columns_added),
                "columnsRemoved": list(self.columns_removed), "changes": list(self.changes)}


@dataclass(frozen=True, slots=True)
class PolicyChange:
    """A row-level security policy added, removed or changed on one table."""

    table: str
    policy: str
    op: ItemOp
    role: str
    """The role the policy applies to (``PUBLIC`` for every role)."""
    restrictive: bool
    before: str | None = None
    """The policy's condition on the base side (None when added)."""
    after: str | None = None
    tenants_added: tuple[str, ...] = ()
    """For a condition that lists tenants (``... IN ('a', 'b')``): the tenants it admits now and did not
    before (every listed tenant of an added policy; those of a removed one are in ``tenants_removed``)."""
    tenants_removed: tuple[str, ...] = ()
    agent: str | None = None
    """The agent whose role the policy holds to its tenants (restrictive policies)."""

    @property
    def admits_more(self) -> bool:
        """True when a restrictive policy (an agent held to its tenants) now admits more tenants."""
        return self.op == "changed" and self.restrictive and bool(self.tenants_added)

    def describe(self) -> str:
        kind = "restrictive" if self.restrictive else "permissive"
        head = f"policy {self.policy} on {self.table} ({kind}, to {self.role})"
        if self.op == "added" and self.tenants_added:
            return f"{head}: tenants {', '.join(self.tenants_added)}"
        if self.op == "removed" and self.tenants_removed:
            return f"{head}: tenants {', '.join(self.tenants_removed)}"
        if self.op == "changed" and (self.tenants_added or self.tenants_removed):
            parts = []
            if self.tenants_added:
                parts.append("+ " + ", ".join(self.tenants_added))
            if self.tenants_removed:
                parts.append("- " + ", ".join(self.tenants_removed))
            return f"{head}: tenants {'; '.join(parts)}"
        if self.op == "changed":
            return f"{head}: {self.before} -> {self.after}"
        return f"{head}: {self.after if self.op == 'added' else self.before}"

    def to_dict(self) -> dict[str, Any]:
        return {"table": self.table, "policy": self.policy, "op": self.op, "role": self.role, "agent": self.agent,
                "restrictive": self.restrictive, "before": self.before, "after": self.after,
                "tenantsAdded": list(self.tenants_added), "tenantsRemoved": list(self.tenants_removed)}


@dataclass(frozen=True, slots=True, order=True)
class GrantChange:
    """One privilege of one role on one table (and column, for column-level privileges)."""

    role: str
    table: str
    column: str | None
    """None for a table-level privilege (``DELETE``)."""
    privilege: str
    """``SELECT``, ``INSERT``, ``UPDATE`` or ``DELETE``."""
    op: GrantOp
    agent: str | None = None
    """The agent the role belongs to."""
    pii: bool = False
    """The column is marked ``pii: true`` in its DataModel."""

    def describe(self) -> str:
        target = f"{self.privilege} ({self.column})" if self.column else self.privilege
        verb = "grant" if self.op == "granted" else "revoke"
        prep = "to" if self.op == "granted" else "from"
        return f"{verb} {target} on {self.table} {prep} {self.role}" + (" [PII]" if self.pii else "")

    def to_dict(self) -> dict[str, Any]:
        return {"role": self.role, "agent": self.agent, "table": self.table, "column": self.column,
                "privilege": self.privilege, "op": self.op, "pii": self.pii}


@dataclass(frozen=True, slots=True)
class DatabaseChange:
    """One database (``pool-<pool>`` or ``tenant-<tenant>``) whose compiled SQL differs."""

    database: str
    op: DatabaseOp
    files: tuple[str, ...] = ()
    """Migration files whose content differs (or that exist on one side only)."""
    tables: tuple[TableChange, ...] = ()
    policies: tuple[PolicyChange, ...] = ()
    grants: tuple[GrantChange, ...] = ()
    note: str | None = None
    """Why the structured comparison is incomplete (an unreadable catalog), if it is."""

    def granted(self) -> list[GrantChange]:
        return [g for g in self.grants if g.op == "granted"]

    def revoked(self) -> list[GrantChange]:
        return [g for g in self.grants if g.op == "revoked"]

    def lines(self) -> list[str]:
        """Every change, one line each, marked ``+``/``-``/``~`` (what text and markdown print)."""
        mark = {"added": "+", "removed": "-", "changed": "~", "granted": "+", "revoked": "-"}
        out = [f"{mark[t.op]} {t.describe()}" for t in self.tables]
        out += [f"{mark[p.op]} {p.describe()}" for p in self.policies]
        out += [f"{mark[op]} {text}" for op, text in grant_lines(self.grants)]
        if self.note:
            out.append(f"! {self.note}")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"database": self.database, "op": self.op, "files": list(self.files),
                "tables": [t.to_dict() for t in self.tables], "policies": [p.to_dict() for p in self.policies],
                "grants": [g.to_dict() for g in self.grants], "note": self.note}


def grant_lines(grants: tuple[GrantChange, ...] | list[GrantChange]) -> list[tuple[GrantOp, str]]:
    """Grants as people read them: one line per (op, role, table, privilege) with its columns listed,
    PII columns named again at the end (``grant SELECT (email, name) on crm.customers to r [PII: email]``)."""
    grouped: dict[tuple[GrantOp, str, str, str], list[GrantChange]] = {}
    for grant in grants:
        grouped.setdefault((grant.op, grant.role, grant.table, grant.privilege), []).append(grant)
    out: list[tuple[GrantOp, str]] = []
    for (op, role, table, privilege), members in grouped.items():
        columns = [g.column for g in members if g.column]
        target = f"{privilege} ({', '.join(columns)})" if columns else privilege
        pii = [g.column for g in members if g.pii and g.column]
        verb, prep = ("grant", "to") if op == "granted" else ("revoke", "from")
        out.append((op, f"{verb} {target} on {table} {prep} {role}" + (f" [PII: {', '.join(pii)}]" if pii else "")))
    return out
