"""Compare the compiled databases of two sides: tables and columns, row-level security, grants.

Every ``sql/<database>/migrations.json`` carries the catalog the SQL emitter rendered its migrations
from (:mod:`paybill.emit.sql.catalog`). Both sides' catalogs are rebuilt into
:class:`~paybill.emit.sql.plan.DatabasePlan` objects and compared as facts:

* tables and columns added, removed or changed (type, nullability, scope, tenant isolation);
* row-level security policies, from :func:`paybill.emit.sql.security.table_policies` (the function
  that renders them), added, removed or changed; a condition listing tenants shows which tenants it
  admits now and no longer;
* grants, one per role, table, column and privilege, granted or revoked, with PII columns (``pii:
  true`` in the DataModel) flagged.

Identical ``migrations.json`` bytes are skipped without parsing, and a database whose migration
files are unchanged (only the spec hashes it lists moved) is not a change. When a catalog cannot be
read, the database is still listed with its changed files and a note, never silently dropped.

Widened grants (and agent policies admitting more tenants) are danger flags in the permissions
section (PB0991), and a table losing its tenant isolation is PB0992.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import orjson

from paybill.changes.database_model import (
    DatabaseChange,
    DatabaseOp,
    GrantChange,
    GrantOp,
    PolicyChange,
    TableChange,
    grant_lines,
)
from paybill.changes.model import Finding
from paybill.contract.sql_catalog import CatalogError, DatabasePlan, TablePlan, plan_from_catalog
from paybill.diagnostics import Position
from paybill.emit.sql.security import table_policies
from paybill.validate.index import SpecIndex

SQL_PREFIX = "sql/"
INDEX_FILE = "/migrations.json"
CODE_GRANTS_WIDENED = "PB0991"
CODE_ISOLATION_DROPPED = "PB0992"
MAX_DETAILS = 40
_IN_LIST = re.compile(r"^(?P<subject>.+) IN \((?P<items>[^()]*)\)$", re.DOTALL)
_LITERAL = re.compile(r"'((?:[^']|'')*)'")

Locator = Callable[[str], tuple[str, Position]]
"""Agent name -> (file, position) of its grants on the head side, for findings."""


@dataclass(frozen=True)
class PiiColumns:
    """(table, column) pairs marked ``pii: true`` on either side."""

    columns: frozenset[tuple[str, str]]

    @classmethod
    def of(cls, *indexes: SpecIndex) -> PiiColumns:
        return cls(frozenset((table, column) for index in indexes for table, ref in index.tables.items()
                             for column, spec in ref.columns.items() if spec.pii))

    def __call__(self, table: str, column: str | None) -> bool:
        return column is not None and (table, column) in self.columns


def database_indexes(tree: Mapping[str, bytes]) -> dict[str, bytes]:
    """Database key -> bytes of its ``migrations.json``."""
    return {path[len(SQL_PREFIX):-len(INDEX_FILE)]: data for path, data in tree.items()
            if path.startswith(SQL_PREFIX) and path.endswith(INDEX_FILE) and path.count("/") == 2}


@dataclass(frozen=True)
class _Side:
    """One side of one database: migration file hashes and the plan rebuilt from its catalog."""

    files: dict[str, str]
    plan: DatabasePlan | None
    problem: str | None = None


def _read(data: bytes | None) -> _Side:
    if data is None:
        return _Side({}, None)
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        return _Side({}, None, f"migrations.json is not JSON ({exc})")
    if not isinstance(document, dict):
        return _Side({}, None, "migrations.json is not an object")
    files = {str(m.get("file")): str(m.get("sha256")) for m in document.get("migrations") or []
             if isinstance(m, dict)}
    catalog = document.get("catalog")
    if not isinstance(catalog, dict):
        return _Side(files, None, "migrations.json has no catalog")
    try:
        return _Side(files, plan_from_catalog(catalog))
    except CatalogError as exc:
        return _Side(files, None, f"its catalog cannot be read ({exc})")


def _label(table: TablePlan) -> str:
    return f"{table.schema}.{table.name}"


def _table_change(old: TablePlan, new: TablePlan) -> TableChange | None:
    before = {c.name: c for c in old.columns}
    after = {c.name: c for c in new.columns}
    added = tuple(f"{c.name} {c.sql_type}" for c in new.columns if c.name not in before)
    removed = tuple(c.name for c in old.columns if c.name not in after)
    changes: list[str] = []
    for column in new.columns:
        previous = before.get(column.name)
        if previous is None:
            continue
        if previous.sql_type != column.sql_type:
            changes.append(f"{column.name}: {previous.sql_type} -> {column.sql_type}")
        if previous.nullable != column.nullable:
            changes.append(f"{column.name}: {'null' if previous.nullable else 'not null'} -> "
                           f"{'null' if column.nullable else 'not null'}")
    if old.primary_key != new.primary_key:
        changes.append(f"primary key: ({', '.join(old.primary_key)}) -> ({', '.join(new.primary_key)})")
    if old.scope != new.scope:
        changes.append(f"scope: {old.scope} -> {new.scope}")
    if old.tenant_scoped != new.tenant_scoped:
        changes.append("tenant isolation: " + ("on -> off" if old.tenant_scoped else "off -> on"))
    if not (added or removed or changes):
        return None
    return TableChange(_label(new), "changed", added, removed, tuple(changes))


def diff_tables(before: DatabasePlan | None, after: DatabasePlan | None) -> list[TableChange]:
    old = {t.name: t for t in before.tables} if before else {}
    new = {t.name: t for t in after.tables} if after else {}
    out: list[TableChange] = []
    for name in sorted(old.keys() | new.keys()):
        o, n = old.get(name), new.get(name)
        if o is None and n is not None:
            out.append(TableChange(_label(n), "added", tuple(f"{c.name} {c.sql_type}" for c in n.columns)))
        elif n is None and o is not None:
            out.append(TableChange(_label(o), "removed", (), tuple(c.name for c in o.columns)))
        elif o is not None and n is not None:
            change = _table_change(o, n)
            if change is not None:
                out.append(change)
    return sorted(out, key=lambda t: t.table)


def _policies(plan: DatabasePlan | None) -> dict[tuple[str, str], tuple[bool, str, str]]:
    """(table, policy) -> (restrictive, role, condition) of every policy the migration creates."""
    if plan is None:
        return {}
    return {(_label(table), name): (restrictive, role or "PUBLIC", condition)
            for table in plan.tables for name, restrictive, role, condition in table_policies(plan, table)}


def _tenants(condition: str) -> tuple[str, tuple[str, ...]] | None:
    """(subject, tenants) of a ``subject IN ('a', 'b')`` condition, else None."""
    match = _IN_LIST.match(condition)
    if match is None:
        return None
    return match["subject"], tuple(v.replace("''", "'") for v in _LITERAL.findall(match["items"]))


def diff_policies(before: DatabasePlan | None, after: DatabasePlan | None) -> list[PolicyChange]:
    old, new = _policies(before), _policies(after)
    agents = {a.role: a.name for plan in (before, after) if plan is not None for a in plan.agents}
    out: list[PolicyChange] = []
    for key in sorted(old.keys() | new.keys()):
        table, name = key
        o, n = old.get(key), new.get(key)
        if o == n:
            continue
        if o is None and n is not None:
            listed = _tenants(n[2])
            out.append(PolicyChange(table, name, "added", n[1], n[0], after=n[2], agent=agents.get(n[1]),
                                    tenants_added=tuple(sorted(listed[1])) if listed else ()))
        elif n is None and o is not None:
            listed = _tenants(o[2])
            out.append(PolicyChange(table, name, "removed", o[1], o[0], before=o[2], agent=agents.get(o[1]),
                                    tenants_removed=tuple(sorted(listed[1])) if listed else ()))
        elif o is not None and n is not None:
            lists = _tenants(o[2]), _tenants(n[2])
            added: tuple[str, ...] = ()
            removed: tuple[str, ...] = ()
            if lists[0] is not None and lists[1] is not None and lists[0][0] == lists[1][0] and o[:2] == n[:2]:
                added = tuple(sorted(set(lists[1][1]) - set(lists[0][1])))
                removed = tuple(sorted(set(lists[0][1]) - set(lists[1][1])))
            out.append(PolicyChange(table, name, "changed", n[1], n[0], o[2], n[2], added, removed,
                                    agents.get(n[1])))
    return out


GrantKey = tuple[str, str, str, str | None, str]
"""(role, agent, table label, column or None, privilege)."""


def _grants(plan: DatabasePlan | None) -> dict[GrantKey, str]:
    """Every agent privilege of one database -> the bare table name (for the PII lookup)."""
    if plan is None:
        return {}
    labels = {t.name: _label(t) for t in plan.tables}
    out: dict[GrantKey, str] = {}
    for agent in plan.agents:
        for grant in agent.grants:
            label = labels.get(grant.table, grant.table)
            for privilege, columns in (("SELECT", grant.read), ("INSERT", grant.insert), ("UPDATE", grant.update)):
                for column in columns:
                    out[(agent.role, agent.name, label, column, privilege)] = grant.table
            if grant.delete:
                out[(agent.role, agent.name, label, None, "DELETE")] = grant.table
    return out


def diff_grants(before: DatabasePlan | None, after: DatabasePlan | None, pii: PiiColumns) -> list[GrantChange]:
    old, new = _grants(before), _grants(after)
    directions: tuple[tuple[GrantOp, dict[GrantKey, str], dict[GrantKey, str]], ...] = (
        ("granted", new, old), ("revoked", old, new))
    out = [GrantChange(role, table, column, privilege, op, agent, pii(bare, column))
           for op, ours, theirs in directions
           for (role, agent, table, column, privilege), bare in ours.items() if (role, agent, table, column,
                                                                                 privilege) not in theirs]
    return sorted(out, key=lambda g: (g.op != "granted", g.role, g.table, g.column or "", g.privilege))


def diff_database(key: str, before: bytes | None, after: bytes | None, pii: PiiColumns) -> DatabaseChange | None:
    """The change of one database, or None when its migrations are the same on both sides."""
    old, new = _read(before), _read(after)
    files = tuple(sorted(f for f in old.files.keys() | new.files.keys() if old.files.get(f) != new.files.get(f)))
    problems = [f"{side}: {p}" for side, p in (("base", old.problem), ("head", new.problem)) if p]
    if problems:
        # One side cannot be read: comparing with "nothing" would report every grant as new (or gone).
        tables: tuple[TableChange, ...] = ()
        policies: tuple[PolicyChange, ...] = ()
        grants: tuple[GrantChange, ...] = ()
    else:
        tables = tuple(diff_tables(old.plan, new.plan))
        policies = tuple(diff_policies(old.plan, new.plan))
        grants = tuple(diff_grants(old.plan, new.plan, pii))
    if not (files or tables or policies or grants or problems):
        return None
    note = "; ".join(problems) or None
    if note is None and not (tables or policies or grants):
        note = ("the SQL changed but its tables, policies and grants did not (the SQL emitter changed, "
                "or settings such as statement timeouts)")
    op: DatabaseOp = "created" if before is None else "destroyed" if after is None else "changed"
    return DatabaseChange(key, op, files, tables, policies, grants, note)


def diff_databases(base: Mapping[str, bytes], head: Mapping[str, bytes], pii: PiiColumns) -> list[DatabaseChange]:
    """Every database whose compiled SQL differs between two output trees, in key order."""
    old, new = database_indexes(base), database_indexes(head)
    out = []
    for key in sorted(old.keys() | new.keys()):
        if old.get(key) == new.get(key):
            continue
        change = diff_database(key, old.get(key), new.get(key), pii)
        if change is not None:
            out.append(change)
    return out


def _listed(lines: list[str]) -> tuple[str, ...]:
    if len(lines) <= MAX_DETAILS:
        return tuple(lines)
    return (*lines[:MAX_DETAILS], f"... {len(lines) - MAX_DETAILS} more (paybill plan --format json lists all)")


def _names(names: list[str], limit: int = 8) -> str:
    text = ", ".join(names[:limit])
    return text + (f" (+{len(names) - limit} more)" if len(names) > limit else "")


def _where(what: dict[str, list[str]]) -> list[str]:
    """``change: in N databases: a, b`` for each change, the same grant in every database once."""
    return [f"{change} in {len(dbs)} database{'s' if len(dbs) != 1 else ''}: {_names(dbs)}"
            for change, dbs in what.items()]


def database_findings(databases: list[DatabaseChange], locate: Locator | None = None) -> list[Finding]:
    """PB0991 per agent whose database privileges widen; PB0992 per table losing tenant isolation."""
    grants: dict[str, dict[str, list[str]]] = {}
    counts: dict[str, int] = {}
    policies: dict[str, dict[str, list[str]]] = {}
    places: dict[str, set[str]] = {}
    pii: dict[str, set[str]] = {}
    for db in databases:
        by_agent: dict[str, list[GrantChange]] = {}
        for grant in db.granted():
            by_agent.setdefault(grant.agent or grant.role, []).append(grant)
        for agent, granted in by_agent.items():
            for _, text in grant_lines(granted):
                grants.setdefault(agent, {}).setdefault(text, []).append(db.database)
            counts[agent] = counts.get(agent, 0) + len(granted)
            places.setdefault(agent, set()).add(db.database)
            pii.setdefault(agent, set()).update(f"{g.table}.{g.column}" for g in granted if g.pii)
        for policy in db.policies:
            if policy.admits_more:
                agent = policy.agent or policy.role
                policies.setdefault(agent, {}).setdefault(policy.describe(), []).append(db.database)
                places.setdefault(agent, set()).add(db.database)
    findings: list[Finding] = []
    for agent in sorted(places):
        lines = _where(grants.get(agent, {})) + _where(policies.get(agent, {}))
        granted = counts.get(agent, 0)
        admitting = sum(len(dbs) for dbs in policies.get(agent, {}).values())
        counted = [f"{granted} grant{'s' if granted != 1 else ''}"] if granted else []
        if admitting:
            counted.append(f"{admitting} row polic{'ies' if admitting != 1 else 'y'} admitting more tenants")
        n = len(places[agent])
        message = (f"database permissions widened for agent '{agent}': {' and '.join(counted)} in {n} "
                   f"database{'s' if n != 1 else ''}")
        if pii.get(agent):
            message += f", including PII column{'s' if len(pii[agent]) != 1 else ''} {', '.join(sorted(pii[agent]))}"
        file, position = locate(agent) if locate is not None else ("", Position())
        findings.append(Finding(
            CODE_GRANTS_WIDENED, "warning", "permissions", f"Agent/{agent}", message, file, position,
            "PostgreSQL enforces these grants even if the application has a bug: a reviewer from the agent's "
            "owning team must approve them" + (", and the data owner must approve access to PII" if pii.get(agent)
                                               else ""),
            _listed(lines)))
    dropped: dict[str, list[str]] = {}
    for db in databases:
        for table in db.tables:
            if "tenant isolation: on -> off" in table.changes:
                dropped.setdefault(table.table, []).append(db.database)
    for table, where in sorted(dropped.items()):
        findings.append(Finding(
            CODE_ISOLATION_DROPPED, "warning", "permissions", f"table:{table}",
            f"table {table} loses its tenant isolation in {len(where)} pooled database"
            f"{'s' if len(where) != 1 else ''}: every tenant's rows become visible to every role there",
            hint="keep the table tenant-scoped unless it really holds reference data shared by all tenants",
            details=(f"in {_names(where, MAX_DETAILS)}",)))
    return findings

