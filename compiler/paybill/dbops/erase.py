"""``paybill db erase``: delete a deleted tenant's rows from every tenant-scoped table of a pooled
database, once, in one transaction, with the erasure recorded in the ledger. Also the rows a live
tenant left behind when its database layer moved out of the pool (an isolation migration through
decommission): no retention applies to that old copy.

Refusals (all reported in one run, before anything is deleted): the database is not pooled, the
compiled catalog still stores the tenant here, the tenant is neither ``deleted`` at HEAD nor moved
out of this pool, its
``retainUntil`` is absent or in the future (unless ``--ignore-retention``), no export manifest is
given (unless ``--no-export``), or the manifest does not match its files, this tenant, this database
or the rows now in the database (rows written after the export would be lost unexported).

Inside the transaction: the ledger lock (no migrate or other erase interleaves), the database at
the folder's revision (migrated since the deletion was compiled), the tenant session
(row-level security limits every DELETE to the tenant), per-table counts checked against the
manifest, the DELETEs, then the ledger row. A re-run finds no rows and a recorded erasure: a no-op.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from paybill.dbops import ledger, tenant_session
from paybill.dbops.connect import connect, database_error
from paybill.dbops.errors import DbOpsError, Problem
from paybill.dbops.export import ISOLATION_HINT, check_tenant_database, read_manifest
from paybill.dbops.folder import TENANT_COLUMN, TENANT_NAME, Folder
from paybill.dbops.head import tenant_at_head

APPLICATION = "paybill db erase"


class _AlreadyErased(Exception):
    """Nothing left to delete and an erasure recorded: leave the (empty) transaction by rolling back."""


@dataclass(frozen=True)
class EraseResult:
    database: str
    tenant: str
    status: str
    """``erased`` or ``already-erased``."""
    rows: dict[str, int] = field(default_factory=dict)
    manifest_sha256: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"database": self.database, "tenant": self.tenant, "status": self.status, "rows": self.rows,
                "exportManifestSha256": self.manifest_sha256}

    def text(self) -> str:
        if self.status == "already-erased":
            return f"{self.tenant}: already erased from {self.database}; nothing to do"
        total = sum(self.rows.values())
        return (f"{self.tenant}: erased {total} rows from {self.database} "
                f"({', '.join(f'{t} {n}' for t, n in sorted(self.rows.items()))}); recorded in paybill.tenant_erasures")


def preflight(folder: Folder, tenant: str, manifest_path: Path | None, no_export: bool, ignore_retention: bool,
              today: datetime.date) -> tuple[dict[str, Any] | None, str | None]:
    problems = check_tenant_database(folder, tenant)
    where = folder.display
    if tenant in folder.catalog.tenants:
        problems.append(Problem("PB1112", f"the compiled catalog still stores {tenant} in {folder.database}",
                                where, "erase only after the deletion is compiled, merged and migrated"))
    state, found = tenant_at_head(folder.path, tenant) if TENANT_NAME.match(tenant) else (None, [])
    problems += found
    if state is not None:
        pool = folder.database.removeprefix("pool-")
        if state.lifecycle != "deleted" and state.lifecycle is not None and state.moved_out_of(pool):
            # Its database layer moved out of this pool (an isolation migration through decommission):
            # the rows left here are the old copy, which the runbook says to remove and nothing else
            # could (erase refused a live tenant, leaving a DELETE as superuser, unchecked, unrecorded).
            # The retention of a deleted tenant's data does not apply: the tenant's data lives on.
            pass
        elif state.lifecycle != "deleted":
            problems.append(Problem("PB1109", f"{tenant} is '{state.lifecycle}' at HEAD, not 'deleted', and its "
                                    f"database layer has not moved out of {folder.database}", where,
                                    "set lifecycle: deleted in the tenant's spec, merge it, then erase (or, for a "
                                    "tenant moving its database out of the pool, erase after its isolation "
                                    "migration's decommission is merged and migrated)"))
        elif not ignore_retention:
            if state.retain_until is None:
                problems.append(Problem("PB1110", f"{tenant} has no retainUntil at HEAD", where,
                                        "set spec.lifecycleSince (the day it was deleted) so retention can be "
                                        "computed, or pass --ignore-retention if erasure is ordered now"))
            elif today < datetime.date.fromisoformat(state.retain_until):
                problems.append(Problem("PB1110", f"{tenant}'s data must be retained until {state.retain_until} "
                                        f"(today is {today.isoformat()})", where,
                                        "wait until then, or pass --ignore-retention if erasure is ordered now"))
    manifest: dict[str, Any] | None = None
    digest: str | None = None
    if manifest_path is None and not no_export:
        problems.append(Problem("PB1111", "no export manifest given", where,
                                "export first (`paybill db export`) and pass --export-manifest, or --no-export "
                                "to erase without one"))
    elif manifest_path is not None:
        manifest, digest, found = read_manifest(manifest_path)
        problems += found
        if manifest and (manifest.get("tenant"), manifest.get("database")) != (tenant, folder.database):
            problems.append(Problem("PB1111", f"the manifest is an export of {manifest.get('tenant')} from "
                                    f"{manifest.get('database')}, not of {tenant} from {folder.database}", where))
    if problems:
        raise DbOpsError(problems)
    return manifest, digest


def _require_migrated(conn: psycopg.Connection[Any], folder: Folder, tenant: str) -> None:
    """The database must be at the folder's revision (read under the ledger lock, so no migrate moves it).

    The folder no longer storing the tenant is not enough: until the pool's folder is migrated, the
    database still runs the catalog that stored it (agent scope policies naming it), so rows of the
    tenant could be written again right after the erasure that claims they are gone.
    """
    mine = [a for a in ledger.history(conn) if a.database == folder.database]
    current = mine[-1].revision if mine else None
    if current != folder.revision:
        at = f"revision {current[:12]}" if current else "no paybill db migrate recorded"
        raise DbOpsError([Problem(
            "PB1112", f"{folder.database} is not migrated to the folder's revision {folder.revision[:12]} ({at}): "
                      f"the database may still store {tenant}", folder.display,
            "run 'paybill db migrate' on this folder first (erase only after the deletion is compiled, merged and "
            "migrated)")])


def erase(url: str, folder: Folder, tenant: str, *, manifest_path: Path | None = None, no_export: bool = False,
          ignore_retention: bool = False, today: datetime.date | None = None, lock_timeout: str = "10s",
          statement_timeout: str = "1h", by: str | None = None) -> EraseResult:
    today = today or datetime.datetime.now(datetime.UTC).date()
    manifest, digest = preflight(folder, tenant, manifest_path, no_export, ignore_retention, today)
    tables = sorted((t for t in folder.catalog.tables if t.tenant_scoped), key=lambda t: (t.schema, t.name))
    exported: dict[tuple[str, ...], object] = {(e.get("schema"), e.get("table")): e.get("rows")
                                               for e in (manifest or {}).get("tables", [])}
    conn = connect(url, folder.display, APPLICATION)
    doing = f"erasing {tenant} from {folder.database}"
    try:
        with conn.transaction():
            ledger.lock(conn, lock_timeout, statement_timeout)
            ledger.ensure(conn)
            _require_migrated(conn, folder, tenant)
            unsafe = tenant_session.isolation_problems(conn, folder.catalog)
            if unsafe:
                raise DbOpsError([Problem("PB1113", f"refusing to erase: {p}", folder.display, ISOLATION_HINT)
                                  for p in unsafe])
            tenant_session.enter(conn, folder.catalog, tenant)
            # Row-level security confines each DELETE to the tenant; the WHERE says the same again, so
            # even a policy edited by hand since the check above cannot widen an irreversible delete.
            # One statement for all tables (data-modifying CTEs): one round trip, one snapshot.
            parts = [sql.SQL("{} AS (DELETE FROM {} WHERE {} = %(tenant)s RETURNING 1)").format(
                sql.Identifier(f"t{i}"), sql.Identifier(t.schema, t.name), sql.Identifier(TENANT_COLUMN))
                for i, t in enumerate(tables)]
            counts = sql.SQL(", ").join(sql.SQL("(SELECT count(*) FROM {})").format(sql.Identifier(f"t{i}"))
                                        for i in range(len(tables)))
            row = conn.execute(sql.SQL("WITH {} SELECT {}").format(sql.SQL(", ").join(parts), counts),
                               {"tenant": tenant}).fetchone()
            deleted = {f"{t.schema}.{t.name}": int(n) for t, n in zip(tables, row or (), strict=True)}
            tenant_session.leave(conn, folder.catalog)
            # The counts are checked after the DELETEs (one scan per table, not two); a mismatch raises,
            # which rolls the whole transaction back.
            if not any(deleted.values()) and ledger.erasures(conn, folder.database, tenant):
                raise _AlreadyErased
            if manifest is not None:
                mismatched = [f"{name}: {n} rows now, {exported.get(tuple(name.split('.', 1)))} exported"
                              for name, n in sorted(deleted.items()) if exported.get(tuple(name.split(".", 1))) != n]
                if mismatched:
                    raise DbOpsError([Problem("PB1111", "the export does not hold the rows now in the database ("
                                              + "; ".join(mismatched) + ")", folder.display,
                                              "rows changed since the export: export again, then erase")])
            ledger.record_erasure(conn, folder.database, tenant, deleted, digest, ignore_retention, by)
        return EraseResult(folder.database, tenant, "erased", deleted, digest)
    except _AlreadyErased:
        return EraseResult(folder.database, tenant, "already-erased")
    except psycopg.Error as exc:
        raise database_error(exc, folder.display, doing) from exc
    finally:
        conn.close()
