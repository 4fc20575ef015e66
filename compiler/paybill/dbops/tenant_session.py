"""A transaction that sees exactly one tenant's rows, because row-level security says so.

``SET LOCAL ROLE`` to the database's application role (``NOLOGIN NOBYPASSRLS``, DML on tenant
tables, bound by ``FORCE ROW LEVEL SECURITY``) and ``paybill.tenant_id`` set locally: the compiled
``paybill_tenant_isolation`` policy does the filtering, never a WHERE clause typed here. The login
running the command must be able to become that role (a superuser, or a member of it).
"""

from __future__ import annotations

from typing import Any

import psycopg

from paybill.dbops.folder import Catalog


def enter(conn: psycopg.Connection[Any], catalog: Catalog, tenant: str) -> None:
    conn.execute("SELECT pg_catalog.set_config('role', %s, true), pg_catalog.set_config(%s, %s, true)",
                 (catalog.app, catalog.tenant_setting, tenant))


def leave(conn: psycopg.Connection[Any], catalog: Catalog) -> None:
    """Back to the login's own role for the rest of the transaction (the ledger is not the app's)."""
    conn.execute("SELECT pg_catalog.set_config('role', 'none', true), pg_catalog.set_config(%s, '', true)",
                 (catalog.tenant_setting,))


def isolation_problems(conn: psycopg.Connection[Any], catalog: Catalog) -> list[str]:
    """Why row-level security would *not* confine the session to one tenant here (drift), or nothing.

    Without this, a table whose RLS was disabled by hand would export, or erase, every tenant's rows.
    """
    tables = [f"{t.schema}.{t.name}" for t in catalog.tables if t.tenant_scoped]
    problems = []
    role = conn.execute("SELECT rolsuper OR rolbypassrls FROM pg_catalog.pg_roles WHERE rolname = %s",
                        (catalog.app,)).fetchone()
    if role is None or role[0]:
        problems.append(f"role {catalog.app} is missing or bypasses row-level security")
    rows = conn.execute(
        "SELECT n.nspname || '.' || c.relname, c.relrowsecurity AND c.relforcerowsecurity,"
        " EXISTS (SELECT FROM pg_catalog.pg_policy p"
        "         WHERE p.polrelid = c.oid AND p.polname = 'paybill_tenant_isolation')"
        " FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname || '.' || c.relname = ANY(%s)", (tables,)).fetchall()
    found = {r[0]: (r[1], r[2]) for r in rows}
    for table in tables:
        rls, policy = found.get(table, (False, False))
        if not rls:
            problems.append(f"{table} is missing or its row-level security is not enabled and forced")
        elif not policy:
            problems.append(f"{table} has no paybill_tenant_isolation policy")
    return problems
