"""``paybill db migrate``: apply a verified folder in one transaction, under the ledger's lock.

Order inside the one transaction: timeouts, the advisory lock (a second migrate waits up to
``lock_timeout``, then fails with exit 4; it never applies alongside), the ledger (created if
missing), the ledger checks, every file in order, the ledger row. Any failure rolls all of it back,
including a client killed mid-way (the server notices within a second, see ``connect.set_timeouts``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg

from paybill.contract import run_state
from paybill.contract.sql_names import GUARD_ROLE
from paybill.dbops import ledger
from paybill.dbops.connect import connect, database_error, set_timeouts
from paybill.dbops.errors import DbOpsError, Problem
from paybill.dbops.folder import TENANT_COLUMN, Catalog, Folder
from paybill.dbops.live import TYPES, read_live

APPLICATION = "paybill db migrate"


@dataclass(frozen=True)
class MigrateResult:
    database: str
    revision: str
    status: str
    """``applied``, ``unchanged`` (already at this revision), or with --dry-run ``would-apply`` / ``unchanged``."""
    previous: str | None
    files: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"database": self.database, "revision": self.revision, "status": self.status,
                "previous": self.previous, "files": self.files}

    def text(self) -> str:
        short = self.revision[:12]
        if self.status == "unchanged":
            return f"{self.database}: already at revision {short}; nothing to do"
        # "(no revision recorded)" read as if this migration had not been recorded in the ledger
        was = f" (was {self.previous[:12]})" if self.previous else " (the first revision of this database)"
        verb = "would apply" if self.status == "would-apply" else "applied"
        return f"{self.database}: {verb} revision {short}{was}: {', '.join(self.files)}"


def check_ledger(history: list[ledger.Applied], folder: Folder) -> str | None:
    """The database's current revision per the ledger; PB1106 when the ledger contradicts the folder."""
    problems = []
    others = sorted({a.database for a in history if a.database != folder.database})
    if others:
        problems.append(Problem(
            "PB1106", f"this database's ledger records {', '.join(others)}, not {folder.database}", folder.display,
            "the --database-url points at another paybill database than this folder's: check the URL"))
    for applied in history:
        if applied.database == folder.database and applied.revision == folder.revision \
                and applied.files != folder.hashes():
            changed = sorted(f for f in set(applied.files) | set(folder.hashes())
                             if applied.files.get(f) != folder.hashes().get(f))
            problems.append(Problem(
                "PB1106", f"the ledger recorded revision {folder.revision[:12]} on {applied.applied_at} with other "
                f"files than this folder has ({', '.join(changed)})", folder.display,
                "the ledger or the folder was altered; find out which before applying anything"))
            break
    if problems:
        raise DbOpsError(problems)
    mine = [a for a in history if a.database == folder.database]
    return mine[-1].revision if mine else None


def migrate(url: str, folder: Folder, *, dry_run: bool = False, lock_timeout: str = "10s",
            statement_timeout: str = "10min", by: str | None = None, reapply: bool = False) -> MigrateResult:
    names = [name for name, _, _ in folder.files]
    conn = connect(url, folder.display, APPLICATION)
    doing = f"migrating {folder.database}"
    try:
        with conn.transaction():
            if dry_run:
                set_timeouts(conn, lock_timeout, statement_timeout)
                current = check_ledger(ledger.history(conn) if ledger.exists(conn) else [], folder)
                status = "unchanged" if current == folder.revision and not reapply else "would-apply"
                if status == "would-apply":
                    found = blockers(conn, folder.catalog)
                    if found:
                        raise DbOpsError([Problem(
                            "PB1114", f"{folder.database}: the migration would stop in 0003_tables.sql: {b}",
                            folder.display, BLOCKER_HINT) for b in found])
                return MigrateResult(folder.database, folder.revision, status, current,
                                     [] if status == "unchanged" else names)
            ledger.lock(conn, lock_timeout, statement_timeout)
            ledger.ensure(conn)
            current = check_ledger(ledger.history(conn), folder)
            if current == folder.revision and not reapply:
                ledger.grant_revision_reads(conn)  # a database migrated before the grant existed gets it
                return MigrateResult(folder.database, folder.revision, "unchanged", current)
            for name, _, body in folder.files:
                doing = f"{folder.database}: {name}"
                conn.execute(body)  # bytes: sent as one simple query; files hold many statements and DO blocks
            doing = f"creating {folder.database}'s run state table for paybill serve"
            create_run_state(conn)
            ledger.grant_revision_reads(conn)  # after the files: 0001 creates paybill_guard on a fresh server
            doing = f"recording {folder.database} in the ledger"
            ledger.record(conn, folder.database, folder.revision, folder.hashes(), ledger.actor(conn, by))
        return MigrateResult(folder.database, folder.revision, "applied", current, names)
    except psycopg.Error as exc:
        raise database_error(exc, folder.display, doing) from exc
    finally:
        conn.close()


def create_run_state(conn: psycopg.Connection[Any]) -> None:
    """The table ``paybill serve`` keeps runs in, granted to ``paybill_guard`` (see
    :mod:`paybill.contract.run_state`): created here so the server's login needs no CREATE privilege."""
    for statement in run_state.DDL:
        conn.execute(statement.encode())
    row = conn.execute("SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = %s", (GUARD_ROLE,)).fetchone()
    if row is not None:  # every compiled folder creates it; a hand-made one may not
        for statement in run_state.GRANTS:
            conn.execute(statement.encode())


BLOCKER_HINT = ("paybill never changes a column's type or a primary key, and cannot decide which tenant a row belongs "
                "to: do it by hand after checking the data (or change the DataModel spec back), then migrate")


def blockers(conn: psycopg.Connection[Any], catalog: Catalog) -> list[str]:
    """What 0003 would refuse, read from ``pg_catalog`` without running anything or reading a row: a
    column whose type differs, a primary key that differs, a pooled tenant-scoped table without
    ``tenant_id`` or a pooled global one with it. Why: ``--dry-run`` said "would apply" for a folder
    whose apply was certain to fail.
    (A NULL left in a column being tightened is not looked for: it needs reading rows, which row-level
    security hides from an admin that is not a superuser; the apply finds it and changes nothing.)"""
    live = read_live(conn, [], list(catalog.schemas))
    found: list[str] = []
    for table in catalog.tables:
        have = live.tables.get((table.schema, table.name))
        if have is None:
            continue  # created by the migration
        label = f"{table.schema}.{table.name}"
        if table.tenant_scoped and TENANT_COLUMN not in have.columns:
            found.append(f"{label} is tenant-scoped in the specs but has no {TENANT_COLUMN} column (created while "
                         "global)")
            continue
        if catalog.pooled and not table.tenant_scoped and TENANT_COLUMN in have.columns:
            found.append(f"{label} is global in the specs but still has a {TENANT_COLUMN} column (created while "
                         "tenant-scoped)")
            continue
        if have.key != table.key:
            found.append(f"{label} has primary key ({', '.join(have.key) or 'none'}), the specs say "
                         f"({', '.join(table.key)})")
        for column, type_, _ in table.columns:
            present = have.columns.get(column)
            if present is not None and present[0] != TYPES.get(type_, type_):
                found.append(f"{label}.{column} is {present[0]}, the specs say {type_}")
    return found
