"""The ledger: schema ``paybill`` in each managed database, recording what was applied and erased.

``paybill.schema_migrations`` has one row per migrate that changed something (database folder,
revision, each file's sha256, when, by whom); the latest row for the folder is the database's
revision. ``paybill.tenant_erasures`` records each erasure (tenant, row counts per table, the export
manifest's sha256). The schema is closed to PUBLIC. Every writer takes the same transaction-scoped
advisory lock first, so two migrates (or a migrate and an erase) never interleave, and creating the
ledger itself cannot race.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

import psycopg

from paybill.contract.sql_names import GUARD_ROLE

LOCK_KEY = (0x70627962, 0x6C6C0001)
"""(classid, objid) of ``pg_advisory_xact_lock``: "pbyb" "ll" 1, unlikely to meet an application's."""

SETUP = """
CREATE SCHEMA IF NOT EXISTS paybill;
REVOKE ALL ON SCHEMA paybill FROM PUBLIC;
CREATE TABLE IF NOT EXISTS paybill.schema_migrations (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    database text NOT NULL,
    revision text NOT NULL,
    files jsonb NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    applied_by text NOT NULL
);
CREATE TABLE IF NOT EXISTS paybill.tenant_erasures (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    database text NOT NULL,
    tenant text NOT NULL,
    row_counts jsonb NOT NULL,
    export_manifest_sha256 text,
    retention_override boolean NOT NULL,
    erased_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    erased_by text NOT NULL
);
REVOKE ALL ON ALL TABLES IN SCHEMA paybill FROM PUBLIC;
"""


@dataclass(frozen=True)
class Applied:
    database: str
    revision: str
    files: dict[str, str]
    applied_at: str
    applied_by: str


def lock(conn: psycopg.Connection[Any], lock_timeout: str, statement_timeout: str) -> None:
    """Timeouts (local to the transaction, see ``connect.set_timeouts``) then the lock, in one round trip:
    the select list is evaluated left to right, so the lock waits at most ``lock_timeout``."""
    conn.execute(
        "SELECT pg_catalog.set_config('lock_timeout', %s, true), pg_catalog.set_config('statement_timeout', %s, true),"
        " pg_catalog.set_config('client_connection_check_interval', '1s', true),"
        " pg_catalog.pg_advisory_xact_lock(%s, %s)", (lock_timeout, statement_timeout, *LOCK_KEY))


def ensure(conn: psycopg.Connection[Any]) -> None:
    """Create the ledger if missing (call under :func:`lock`, so two sessions cannot race)."""
    if not exists(conn):
        conn.execute(SETUP.encode())


def exists(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute("SELECT pg_catalog.to_regclass('paybill.schema_migrations') IS NOT NULL").fetchone()
    return bool(row and row[0])


def history(conn: psycopg.Connection[Any]) -> list[Applied]:
    """Every recorded migrate, oldest first."""
    rows = conn.execute(
        "SELECT database, revision, files, pg_catalog.to_char(applied_at AT TIME ZONE 'UTC',"
        " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), applied_by FROM paybill.schema_migrations ORDER BY id").fetchall()
    return [Applied(r[0], r[1], dict(r[2]), r[3], r[4]) for r in rows]


def record(conn: psycopg.Connection[Any], database: str, revision: str, files: dict[str, str], by: str) -> None:
    conn.execute(
        "INSERT INTO paybill.schema_migrations (database, revision, files, applied_by) VALUES (%s, %s, %s, %s)",
        (database, revision, json.dumps(files, sort_keys=True), by))


def erasures(conn: psycopg.Connection[Any], database: str, tenant: str) -> list[tuple[str, dict[str, int]]]:
    if not exists(conn):
        return []
    rows = conn.execute(
        "SELECT pg_catalog.to_char(erased_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), row_counts"
        " FROM paybill.tenant_erasures WHERE database = %s AND tenant = %s ORDER BY id", (database, tenant)).fetchall()
    return [(r[0], dict(r[1])) for r in rows]


def record_erasure(conn: psycopg.Connection[Any], database: str, tenant: str, counts: dict[str, int],
                   manifest_sha256: str | None, override: bool, by: str | None) -> None:
    conn.execute(
        "INSERT INTO paybill.tenant_erasures (database, tenant, row_counts, export_manifest_sha256,"
        " retention_override, erased_by) VALUES (%s, %s, %s, %s, %s,"
        " CASE WHEN %s::text IS NULL THEN session_user::text ELSE %s || ' as ' || session_user END)",
        (database, tenant, json.dumps(counts, sort_keys=True), manifest_sha256, override, by, by))


def actor(conn: psycopg.Connection[Any], given: str | None) -> str:
    """Who did it: ``--by`` (CI passes the commit and workflow run) and the database login."""
    row = conn.execute("SELECT session_user").fetchone()
    login = str(row[0]) if row else "?"
    return f"{given} as {login}" if given else login


REVISION_READS = (
    f'GRANT USAGE ON SCHEMA paybill TO "{GUARD_ROLE}"',
    f'GRANT SELECT (id, database, revision) ON paybill.schema_migrations TO "{GUARD_ROLE}"',
)
"""What ``paybill serve``'s login (a member of ``paybill_guard``) may read of the ledger: which revision
each database folder was migrated to, so it can refuse to serve a catalog of another revision. Not the
file hashes nor who applied them."""


def grant_revision_reads(conn: psycopg.Connection[Any]) -> None:
    """Grant :data:`REVISION_READS` (idempotent; under :func:`lock`, after the folder's files, whose 0001
    creates ``paybill_guard`` on a fresh server). Every migrate does, a no-op one included, so a database
    migrated before the grant existed gets it from the next ``paybill db migrate`` of its folder without
    re-applying anything."""
    row = conn.execute("SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = %s", (GUARD_ROLE,)).fetchone()
    if row is not None:  # every compiled folder creates it; a hand-made one may not
        for statement in REVISION_READS:
            conn.execute(statement.encode())


@dataclass(frozen=True)
class Revisions:
    """What the current login can learn of the ledger: ``absent`` (paybill never migrated this database),
    ``unreadable`` (it exists, the login may not read the revision columns) or ``read``."""

    state: Literal["absent", "unreadable", "read"]
    latest: dict[str, str] = field(default_factory=dict)
    """Database folder -> the revision of its latest recorded migrate."""


def recorded_revisions(conn: psycopg.Connection[Any]) -> Revisions:
    """The latest revision per database folder, looked up without needing the schema's USAGE first
    (the system catalogs say whether the ledger exists and what this login may read of it)."""
    row = conn.execute(
        "SELECT c.oid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'paybill' AND c.relname = 'schema_migrations'").fetchone()
    if row is None:
        return Revisions("absent")
    oid = row[0]
    allowed = conn.execute(
        "SELECT pg_catalog.has_schema_privilege('paybill', 'USAGE')"
        " AND pg_catalog.has_column_privilege(%s::oid, 'id', 'SELECT')"
        " AND pg_catalog.has_column_privilege(%s::oid, 'database', 'SELECT')"
        " AND pg_catalog.has_column_privilege(%s::oid, 'revision', 'SELECT')", (oid, oid, oid)).fetchone()
    if not (allowed and allowed[0]):
        return Revisions("unreadable")
    rows = conn.execute("SELECT DISTINCT ON (database) database, revision FROM paybill.schema_migrations"
                        " ORDER BY database, id DESC").fetchall()
    return Revisions("read", {str(r[0]): str(r[1]) for r in rows})
