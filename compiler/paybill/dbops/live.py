"""Read what the live database has for the objects a compiled catalog manages.

Everything is read from ``pg_catalog`` in a few queries (not one per table or role), so a check
costs the same with 2,000 tenants as with two: policies grow with agents, not tenants, and rows are
never touched. Values come back as plain tuples of names, the shapes :mod:`paybill.dbops.drift`
compares.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg

ROLE_ATTRIBUTES = ("rolsuper", "rolinherit", "rolcreaterole", "rolcreatedb", "rolcanlogin", "rolreplication",
                   "rolbypassrls")
TYPES = {"timestamptz": "timestamp with time zone"}
"""Spec type -> ``format_type`` spelling, where they differ."""
GRANTEE = "CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.pg_get_userbyid(a.grantee)::text END"


@dataclass
class LiveTable:
    owner: str
    rls: bool
    forced: bool
    columns: dict[str, tuple[str, bool]] = field(default_factory=dict)
    """name -> (type as format_type prints it, nullable)."""
    grants: set[tuple[str, str, bool]] = field(default_factory=set)
    """(grantee, privilege, grantable), table level."""
    column_grants: set[tuple[str, str, str, bool]] = field(default_factory=set)
    """(grantee, privilege, column, grantable)."""
    policies: dict[str, tuple[bool, str, tuple[str, ...], str | None, str | None]] = field(default_factory=dict)
    """name -> (permissive, command, roles, USING, WITH CHECK) as PostgreSQL prints them."""
    key: tuple[str, ...] = ()
    """The primary key's columns in order; empty when the table has none."""


@dataclass
class LiveCatalog:
    roles: dict[str, dict[str, bool]]
    memberships: set[tuple[str, str]]
    """(role, member) where either side is a managed role."""
    settings: set[tuple[str, str, str]]
    """(role, scope: 'database' or 'cluster', setting such as statement_timeout=600000)."""
    schemas: dict[str, tuple[str, set[tuple[str, str, bool]]]]
    """schema -> (owner, {(grantee, privilege, grantable)})."""
    tables: dict[tuple[str, str], LiveTable]


def read_live(conn: psycopg.Connection[Any], roles: list[str], schemas: list[str]) -> LiveCatalog:
    attrs = ", ".join(ROLE_ATTRIBUTES)
    found = {r[0]: dict(zip(ROLE_ATTRIBUTES, r[1:], strict=True)) for r in conn.execute(
        f"SELECT rolname::text, {attrs} FROM pg_catalog.pg_roles WHERE rolname = ANY(%s)", (roles,))}
    memberships = {(r[0], r[1]) for r in conn.execute(
        "SELECT r.rolname::text, m.rolname::text FROM pg_catalog.pg_auth_members am"
        " JOIN pg_catalog.pg_roles r ON r.oid = am.roleid JOIN pg_catalog.pg_roles m ON m.oid = am.member"
        " WHERE r.rolname = ANY(%s) OR m.rolname = ANY(%s)", (roles, roles))}
    settings = {(r[0], r[1], r[2]) for r in conn.execute(
        "SELECT r.rolname::text, CASE WHEN s.setdatabase = 0 THEN 'cluster' ELSE 'database' END, c"
        " FROM pg_catalog.pg_db_role_setting s JOIN pg_catalog.pg_roles r ON r.oid = s.setrole,"
        " LATERAL unnest(s.setconfig) AS c"
        " WHERE r.rolname = ANY(%s) AND s.setdatabase IN (0, (SELECT oid FROM pg_catalog.pg_database"
        "  WHERE datname = pg_catalog.current_database()))", (roles,))}
    live_schemas: dict[str, tuple[str, set[tuple[str, str, bool]]]] = {}
    for name, owner, grantee, privilege, grantable in conn.execute(
            f"SELECT n.nspname::text, pg_catalog.pg_get_userbyid(n.nspowner)::text, {GRANTEE}, a.privilege_type,"
            " a.is_grantable FROM pg_catalog.pg_namespace n"
            " LEFT JOIN LATERAL pg_catalog.aclexplode(n.nspacl) a ON true WHERE n.nspname = ANY(%s)", (schemas,)):
        entry = live_schemas.setdefault(name, (owner, set()))
        if privilege is not None and grantee != owner:
            entry[1].add((grantee, privilege, grantable))
    tables: dict[tuple[str, str], LiveTable] = {}
    for schema, name, owner, rls, forced in conn.execute(
            "SELECT n.nspname::text, c.relname::text, pg_catalog.pg_get_userbyid(c.relowner)::text,"
            " c.relrowsecurity, c.relforcerowsecurity FROM pg_catalog.pg_class c"
            " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = ANY(%s) AND c.relkind IN ('r', 'p', 'v', 'm', 'f')", (schemas,)):
        tables[(schema, name)] = LiveTable(owner, rls, forced)
    for schema, name, key in conn.execute(
            "SELECT n.nspname::text, c.relname::text, ARRAY(SELECT a.attname::text FROM pg_catalog.unnest(k.conkey)"
            " WITH ORDINALITY AS u(attnum, ord) JOIN pg_catalog.pg_attribute a ON a.attrelid = k.conrelid"
            " AND a.attnum = u.attnum ORDER BY u.ord) FROM pg_catalog.pg_constraint k"
            " JOIN pg_catalog.pg_class c ON c.oid = k.conrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = ANY(%s) AND k.contype = 'p'", (schemas,)):
        if (schema, name) in tables:
            tables[(schema, name)].key = tuple(key)
    for schema, name, grantee, privilege, grantable in conn.execute(
            f"SELECT n.nspname::text, c.relname::text, {GRANTEE}, a.privilege_type, a.is_grantable"
            " FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace,"
            " LATERAL pg_catalog.aclexplode(c.relacl) a"
            " WHERE n.nspname = ANY(%s) AND c.relkind IN ('r', 'p', 'v', 'm', 'f')", (schemas,)):
        table = tables[(schema, name)]
        if grantee != table.owner:
            table.grants.add((grantee, privilege, grantable))
    for schema, name, column, type_, notnull in conn.execute(
            "SELECT n.nspname::text, c.relname::text, a.attname::text,"
            " pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull"
            " FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid"
            " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = ANY(%s) AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND a.attnum > 0"
            " AND NOT a.attisdropped", (schemas,)):
        tables[(schema, name)].columns[column] = (type_, not notnull)
    for schema, name, column, grantee, privilege, grantable in conn.execute(
            f"SELECT n.nspname::text, c.relname::text, at.attname::text, {GRANTEE}, a.privilege_type,"
            " a.is_grantable FROM pg_catalog.pg_attribute at JOIN pg_catalog.pg_class c ON c.oid = at.attrelid"
            " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace, LATERAL pg_catalog.aclexplode(at.attacl) a"
            " WHERE n.nspname = ANY(%s) AND at.attnum > 0 AND NOT at.attisdropped AND at.attacl IS NOT NULL",
            (schemas,)):
        table = tables[(schema, name)]
        if grantee != table.owner:
            table.column_grants.add((grantee, privilege, column, grantable))
    for key, policies in read_policies(conn, "n.nspname = ANY(%s)", (schemas,)).items():
        if key in tables:
            tables[key].policies = policies
    return LiveCatalog(found, memberships, settings, live_schemas, tables)


def read_policies(conn: psycopg.Connection[Any], where: str, params: tuple[Any, ...]
                  ) -> dict[tuple[str, str], dict[str, tuple[bool, str, tuple[str, ...], str | None, str | None]]]:
    """(schema, table) -> policy name -> (permissive, command, roles, USING, WITH CHECK), PostgreSQL's text."""
    result: dict[tuple[str, str], dict[str, tuple[bool, str, tuple[str, ...], str | None, str | None]]] = {}
    rows = conn.execute(
        "SELECT n.nspname::text, c.relname::text, p.polname::text, p.polpermissive, p.polcmd::text,"
        " ARRAY(SELECT CASE WHEN r = 0 THEN 'PUBLIC' ELSE pg_catalog.pg_get_userbyid(r)::text END"
        "       FROM unnest(p.polroles) AS r ORDER BY 1),"
        " pg_catalog.pg_get_expr(p.polqual, p.polrelid), pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid)"
        " FROM pg_catalog.pg_policy p JOIN pg_catalog.pg_class c ON c.oid = p.polrelid"
        f" JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE {where}", params)
    for schema, table, name, permissive, command, roles, using, check in rows:
        result.setdefault((schema, table), {})[name] = (permissive, command, tuple(roles), using, check)
    return result
