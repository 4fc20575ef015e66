"""The SQL catalog: the database plan as ``migrations.json`` carries it, and how the runtime reads it back.

Both sides import this module: the compiler (:mod:`paybill.emit.sql`) plans each database into these
frozen records and writes them as the ``catalog`` section of ``migrations.json``; the guard's database
layer (:mod:`paybill.guard.db`) rebuilds them with :func:`load_catalog` and builds every statement
from them, never from strings an agent passes in. Loading re-validates every identifier, so a
hand-edited or corrupted ``migrations.json`` cannot smuggle SQL into a statement, and grants are
checked to name tables and columns the catalog declares. Standard library only, so the runtime that
reads a catalog never loads the compiler that wrote it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from paybill.contract import sql_names as names
from paybill.contract.names import NAME_PATTERN

CATALOG_FORMAT = 1
_TENANT = re.compile(NAME_PATTERN)


class CatalogError(ValueError):
    """The catalog is missing, malformed, or names something that is not a safe identifier."""


SQL_TYPES: dict[str, str] = {
    "uuid": "uuid",
    "text": "text",
    "integer": "integer",
    "bigint": "bigint",
    "boolean": "boolean",
    "numeric": "numeric",
    "timestamptz": "timestamptz",
    "date": "date",
    "jsonb": "jsonb",
}
"""Spec column type -> PostgreSQL type. Explicit, so a new spec type is a KeyError here, not a guess."""

TENANT_COLUMN = "tenant_id"


@dataclass(frozen=True)
class ColumnPlan:
    name: str
    sql_type: str
    nullable: bool


@dataclass(frozen=True)
class TablePlan:
    """One table in one database. ``tenant_scoped`` means: has ``tenant_id`` and row-level security,
    which is only the case for tenant tables in a pooled database (a silo database *is* the tenant)."""

    name: str
    schema: str
    scope: Literal["tenant", "global"]
    tenant_scoped: bool
    primary_key: tuple[str, ...]
    columns: tuple[ColumnPlan, ...]

    @property
    def key_columns(self) -> tuple[str, ...]:
        """The primary key as created: ``tenant_id`` leads it in pooled databases, so an id taken by
        another tenant is not a unique-violation oracle across tenants, and the key's index serves
        every tenant-filtered scan."""
        return (TENANT_COLUMN, *self.primary_key) if self.tenant_scoped else self.primary_key


@dataclass(frozen=True)
class GrantPlan:
    table: str
    read: tuple[str, ...]
    insert: tuple[str, ...]
    update: tuple[str, ...]
    delete: bool
    tenants: tuple[str, ...] = ()
    """The tenants of this database the agent may act for on this table: in its scope, and in a
    lifecycle state some step of its workflows that acts on the table acts in. Row-level security
    admits exactly these (none when empty)."""


@dataclass(frozen=True)
class AgentPlan:
    """An agent that may act in this database: its role, the tenants it may act for *here*, grants."""

    name: str
    role: str
    all_tenants: bool
    tenants: tuple[str, ...]
    statement_timeout_ms: int
    grants: tuple[GrantPlan, ...]


@dataclass(frozen=True)
class Source:
    path: str
    sha256: str


DatabaseKind = Literal["pool", "tenant"]
"""A pool's shared database or a silo tenant's own."""


@dataclass(frozen=True)
class DatabasePlan:
    key: str
    kind: DatabaseKind
    name: str
    pooled: bool
    tenants: tuple[str, ...]
    owner_role: str
    app_role: str
    schemas: tuple[str, ...]
    tables: tuple[TablePlan, ...]
    agents: tuple[AgentPlan, ...]
    sources: tuple[Source, ...]

    def table(self, name: str) -> TablePlan:
        return next(t for t in self.tables if t.name == name)


def schema_label(database: str) -> str:
    """The comment on every schema: lets :mod:`paybill.guard.db` refuse a connection string that
    points at another database than its catalog describes (a silo database has no tenant_id to
    fall back on, so connecting to the wrong one must be caught before any statement)."""
    return f"paybill database {database}"


def _ident(value: Any) -> str:
    if not isinstance(value, str):
        raise CatalogError(f"expected an identifier, got {type(value).__name__}")
    try:
        return names.check_identifier(value)
    except names.IdentifierError as exc:
        raise CatalogError(str(exc)) from exc


def _idents(values: Any) -> tuple[str, ...]:
    if not isinstance(values, list):
        raise CatalogError("expected a list of identifiers")
    return tuple(_ident(v) for v in values)


def plan_from_catalog(data: dict[str, Any]) -> DatabasePlan:
    """Rebuild (and re-validate) the plan from a catalog. Raises :class:`CatalogError`."""
    try:
        if data.get("format") != CATALOG_FORMAT:
            raise CatalogError(f"unsupported catalog format {data.get('format')!r}")
        if data.get("roles", {}).get("guard") != names.GUARD_ROLE:
            raise CatalogError("catalog names a different guard role")
        tables = tuple(
            TablePlan(
                name=_ident(name), schema=_ident(t["schema"]), scope=t["scope"], tenant_scoped=bool(t["tenantScoped"]),
                primary_key=_idents(t["primaryKey"]),
                columns=tuple(ColumnPlan(_ident(c), _sql_type(spec["type"]), bool(spec["nullable"]))
                              for c, spec in t["columns"].items()),
            )
            for name, t in data["tables"].items()
        )
        agents = tuple(
            AgentPlan(
                name=name, role=_ident(a["role"]), all_tenants=bool(a["allTenants"]), tenants=tuple(a["tenants"]),
                statement_timeout_ms=int(a["statementTimeoutMs"]),
                grants=tuple(
                    GrantPlan(_ident(table), _idents(g["read"]), _idents(g["insert"]), _idents(g["update"]),
                              bool(g["delete"]), _names(g["tenants"]))
                    for table, g in a["grants"].items()
                ),
            )
            for name, a in data["agents"].items()
        )
        key = str(data["database"])
        plan = DatabasePlan(
            key=key, kind="pool" if key.startswith("pool-") else "tenant", name=key.split("-", 1)[-1],
            pooled=bool(data["pooled"]), tenants=tuple(data["tenants"]),
            owner_role=_ident(data["roles"]["owner"]), app_role=_ident(data["roles"]["app"]),
            schemas=tuple(dict.fromkeys(t.schema for t in tables)), tables=tables, agents=agents,
            sources=(),
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise CatalogError(f"malformed catalog: {type(exc).__name__}: {exc}") from exc
    _check_references(plan)
    return plan


def _names(values: Any) -> tuple[str, ...]:
    """Tenant names (the spec's name grammar), so a corrupted catalog cannot name anything else."""
    if not isinstance(values, list) or not all(isinstance(v, str) and _TENANT.fullmatch(v) for v in values):
        raise CatalogError("expected a list of tenant names")
    return tuple(values)


def _sql_type(value: Any) -> str:
    if value not in SQL_TYPES.values():
        raise CatalogError(f"unknown column type {value!r}")
    return str(value)


def _check_references(plan: DatabasePlan) -> None:
    tables = {t.name: t for t in plan.tables}
    for agent in plan.agents:
        for grant in agent.grants:
            table = tables.get(grant.table)
            if table is None:
                raise CatalogError(f"agent '{agent.name}' is granted unknown table '{grant.table}'")
            known = {c.name for c in table.columns}
            for column in (*grant.read, *grant.insert, *grant.update):
                if column not in known:
                    raise CatalogError(f"agent '{agent.name}' is granted unknown column '{grant.table}.{column}'")


def load_catalog(path: Path) -> DatabasePlan:
    """Read ``sql/<database>/migrations.json`` (or a folder holding it) and return its plan."""
    file = path / "migrations.json" if path.is_dir() else path
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CatalogError(f"cannot read {file}: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("catalog"), dict):
        raise CatalogError(f"{file} has no catalog")
    return plan_from_catalog(data["catalog"])
