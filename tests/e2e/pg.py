"""The pooled databases of the story on a real PostgreSQL 15: apply each commit's compiled SQL the
way deployment does (every file of `generated/sql/<db>/`, verified against its migrations.json, in
one transaction: docs/sql.md), seed rows for every tenant that ever lived in the pool, and ask what
an agent role sees.

One scratch database per pool for the whole story, re-applied after each commit, as the apply
workflow re-applies migrations after every change. Server access, scratch databases and role
clean-up reuse tests/db/pg_support.py.
"""

from __future__ import annotations

import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from db.pg_support import dsn_for, scratch_database
from paybill.emit.sql.apply import ApplyError, apply, read_folder

SCHEMA = "crm"
ROWS_PER_TENANT = 3


def agent_role(agent: str) -> str:
    """docs/sql.md: `paybill_agent_<agent>` with `-` as `_`."""
    return "paybill_agent_" + agent.replace("-", "_")


@dataclass
class Pools:
    """Scratch databases by pool folder (``pool-<pool>``), created on first use."""

    stack: ExitStack
    databases: dict[str, str] = field(default_factory=dict)
    seeded: dict[str, set[str]] = field(default_factory=dict)

    def apply(self, generated: Path, folder: str, tenants: list[str]) -> str:
        """(Re-)apply ``generated/sql/<folder>`` and make sure each of ``tenants`` has rows."""
        if folder not in self.databases:
            self.databases[folder] = self.stack.enter_context(scratch_database(f"e2e_{folder.replace('-', '_')[:20]}"))
        database = self.databases[folder]
        apply_with_retry(database, generated / "sql" / folder)
        fresh = [t for t in tenants if t not in self.seeded.setdefault(folder, set())]
        if fresh:
            with psycopg.connect(dsn_for(database), autocommit=True) as conn:
                for tenant in fresh:
                    seed_tenant(conn, tenant)
            self.seeded[folder].update(fresh)
        return database


RACES = ("does not exist", "concurrently")


def apply_with_retry(database: str, folder: Path, attempts: int = 3) -> None:
    """Apply in one transaction; retry when another session on this shared test server dropped or
    changed a cluster-wide `paybill_agent_*` role while 0005 walked them (its stale-role loop sees
    every agent role of the cluster). Anything else fails at once."""
    for attempt in range(attempts):
        try:
            with psycopg.connect(dsn_for(database)) as conn:
                apply(conn, read_folder(folder))
            return
        except ApplyError as exc:
            if attempt == attempts - 1 or not any(race in str(exc) for race in RACES):
                raise


def seed_tenant(conn: psycopg.Connection[Any], tenant: str) -> None:
    """Rows in the scaffold's tenant tables, inserted as the superuser (who bypasses RLS), as the
    application would have written them while the tenant was live."""
    for n in range(ROWS_PER_TENANT):
        customer = uuid.uuid4()
        conn.execute(sql.SQL("INSERT INTO {} (tenant_id, id, name, created_at) VALUES (%s, %s, %s, now())").format(
            sql.Identifier(SCHEMA, "customers")), (tenant, customer, f"{tenant} customer {n}"))
        conn.execute(sql.SQL(
            "INSERT INTO {} (tenant_id, id, customer_id, amount_cents, currency, status, due_date, issued_at)"
            " VALUES (%s, %s, %s, 1000, 'USD', 'open', current_date, now())").format(
            sql.Identifier(SCHEMA, "invoices")), (tenant, uuid.uuid4(), customer))
        conn.execute(sql.SQL(
            "INSERT INTO {} (tenant_id, id, customer_id, subject, status, priority, created_at)"
            " VALUES (%s, %s, %s, 'help', 'open', 'p3', now())").format(
            sql.Identifier(SCHEMA, "tickets")), (tenant, uuid.uuid4(), customer))


def visible_rows(database: str, agent: str, tenant: str, table: str, column: str = "id") -> int:
    """Rows of ``table`` the agent's role sees with ``tenant`` set, as `paybill.guard.db` sets them
    (role, tenant and read-only in one transaction, always rolled back)."""
    with psycopg.connect(dsn_for(database)) as conn:
        conn.execute("SELECT pg_catalog.set_config('role', %s, true), "
                     "pg_catalog.set_config('paybill.tenant_id', %s, true), "
                     "pg_catalog.set_config('transaction_read_only', 'on', true)", (agent_role(agent), tenant))
        rows = conn.execute(sql.SQL("SELECT {} FROM {}").format(
            sql.Identifier(column), sql.Identifier(SCHEMA, table))).fetchall()
        conn.rollback()
    return len(rows)

