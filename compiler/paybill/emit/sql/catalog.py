"""The catalog section of ``migrations.json``: the database plan, as the guard's database layer reads it.

:mod:`paybill.guard.db` builds every statement from this catalog (schema, table, column and role
names), never from strings an agent passes in. Loading re-validates every identifier, so a hand-edited
or corrupted ``migrations.json`` cannot smuggle SQL into a statement, and grants are checked to name
tables and columns the catalog declares.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from paybill.emit.sql import names
from paybill.emit.sql.plan import SQL_TYPES, AgentPlan, ColumnPlan, DatabasePlan, GrantPlan, TablePlan
from paybill.emit.sql.security import table_policies
from paybill.models.base import NAME_PATTERN

CATALOG_FORMAT = 1
_TENANT = re.compile(NAME_PATTERN)


class CatalogError(ValueError):
    """The catalog is missing, malformed, or names something that is not a safe identifier."""


def catalog_json(plan: DatabasePlan) -> dict[str, Any]:
    return {
        "format": CATALOG_FORMAT,
        "database": plan.key,
        "pooled": plan.pooled,
        "tenants": list(plan.tenants),
        "tenantSetting": names.TENANT_SETTING,
        "roles": {"owner": plan.owner_role, "app": plan.app_role, "guard": names.GUARD_ROLE},
        "tables": {
            t.name: {
                "schema": t.schema,
                "scope": t.scope,
                "tenantScoped": t.tenant_scoped,
                "primaryKey": list(t.primary_key),
                "columns": {c.name: {"type": c.sql_type, "nullable": c.nullable} for c in t.columns},
            }
            for t in plan.tables
        },
        "agents": {
            a.name: {
                "role": a.role,
                "allTenants": a.all_tenants,
                "tenants": list(a.tenants),
                "statementTimeoutMs": a.statement_timeout_ms,
                "grants": {
                    g.table: {"read": list(g.read), "insert": list(g.insert), "update": list(g.update),
                              "delete": g.delete, "tenants": list(g.tenants)}
                    for g in a.grants
                },
            }
            for a in plan.agents
        },
        # The row-level security policies 0004 creates, for `paybill db drift` (which lets PostgreSQL
        # normalise each condition the way it stores it, then compares). The guard ignores this key.
        "policies": [
            {"table": t.name, "name": name, "permissive": not restrictive, "role": role, "condition": condition}
            for t in plan.tables
            for name, restrictive, role, condition in table_policies(plan, t)
        ],
    }


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
