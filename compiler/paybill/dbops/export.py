"""``paybill db export``: one tenant's rows of every tenant-scoped table, for offboarding.

One ``REPEATABLE READ, READ ONLY`` transaction (every table from the same snapshot) inside the
tenant session of :mod:`paybill.dbops.tenant_session`. Each table is streamed with ``COPY (SELECT
...) TO STDOUT`` ordered by its primary key, so the same data exports to the same bytes:

* JSON Lines (default): one ``to_json(row)`` per line. COPY's text format only escapes backslashes
  in JSON text (JSON has no raw control characters), so ``\\\\`` is turned back into ``\\``.
* CSV (``--csv TABLE``): PostgreSQL's own CSV with a header.

The files go to a sibling scratch folder that is renamed into place at the end with
``manifest.json`` (rows and sha256 per file): an interrupted export leaves no half-written folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from paybill.contract.files import read_regular
from paybill.dbops import tenant_session
from paybill.dbops.connect import connect, database_error, set_timeouts
from paybill.dbops.errors import DbOpsError, Problem, fail
from paybill.dbops.folder import MAX_FILE_BYTES, TENANT_NAME, Folder, Table

APPLICATION = "paybill db export"
MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1
ISOLATION_HINT = "row-level security must confine the session to the tenant: run `paybill db drift`, then migrate"


@dataclass(frozen=True)
class ExportResult:
    out: Path
    manifest: dict[str, Any]
    manifest_sha256: str


def check_tenant_database(folder: Folder, tenant: str) -> list[Problem]:
    problems = []
    if not TENANT_NAME.match(tenant) or len(tenant) > 40:
        problems.append(Problem("PB1108", f"'{tenant}' is not a tenant name", folder.display))
    if not folder.catalog.pooled:
        problems.append(Problem(
            "PB1108", f"{folder.database} is a dedicated database, not a pooled one", folder.display,
            "a silo tenant's data is its whole database: it is kept or removed with its stack's decommission"))
    return problems


def _query(table: Table, fmt: str) -> sql.Composed:
    source = sql.Identifier(table.schema, table.name)
    order = sql.SQL(", ").join(sql.Identifier(c) for c in table.key)
    if fmt == "csv":
        return sql.SQL("COPY (SELECT * FROM {} ORDER BY {}) TO STDOUT WITH (FORMAT csv, HEADER true)").format(
            source, order)
    return sql.SQL("COPY (SELECT pg_catalog.to_json(r) FROM {} AS r ORDER BY {}) TO STDOUT").format(source, order)


def _copy(conn: psycopg.Connection[Any], table: Table, fmt: str, target: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    lines = 0
    with target.open("wb") as out, conn.cursor().copy(_query(table, fmt)) as copy:
        for chunk in copy:
            data = bytes(chunk)
            if fmt == "jsonl":
                data = data.replace(b"\\\\", b"\\")
                lines += data.count(b"\n")
            digest.update(data)
            out.write(data)
    if fmt == "csv":
        row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table.schema, table.name)))
        lines = int(row.fetchone()[0])  # type: ignore[index]
    return lines, digest.hexdigest()


def export(url: str, folder: Folder, tenant: str, out: Path, csv_tables: frozenset[str] = frozenset(),
           statement_timeout: str = "1h") -> ExportResult:
    problems = check_tenant_database(folder, tenant)
    tables = [t for t in folder.catalog.tables if t.tenant_scoped]
    for name in sorted(csv_tables - {t.name for t in tables}):
        problems.append(Problem("PB1108", f"--csv {name}: not a tenant-scoped table of {folder.database}",
                                folder.display))
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        problems.append(Problem("PB1108", f"'{out.as_posix()}' already exists and is not empty", folder.display,
                                "export into a new folder: an export is evidence, never overwritten"))
    if problems:
        raise DbOpsError(problems)
    out.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        entries = _export_tables(url, folder, tenant, tables, csv_tables, scratch, statement_timeout)
        manifest = {"format": MANIFEST_FORMAT, "kind": "TenantExport", "database": folder.database,
                    "revision": folder.revision, "tenant": tenant, "tables": entries}
        body = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
        (scratch / MANIFEST).write_bytes(body)
        if out.exists():
            out.rmdir()  # empty (checked above)
        os.replace(scratch, out)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return ExportResult(out, manifest, hashlib.sha256(body).hexdigest())


def _export_tables(url: str, folder: Folder, tenant: str, tables: list[Table], csv_tables: frozenset[str],
                   scratch: Path, statement_timeout: str) -> list[dict[str, Any]]:
    conn = connect(url, folder.display, APPLICATION)
    entries = []
    doing = f"exporting {tenant} from {folder.database}"
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ  # every table from one snapshot
    conn.read_only = True
    try:
        set_timeouts(conn, "10s", statement_timeout)
        unsafe = tenant_session.isolation_problems(conn, folder.catalog)
        if unsafe:
            raise DbOpsError([Problem("PB1113", f"refusing to export: {p}", folder.display, ISOLATION_HINT)
                              for p in unsafe])
        tenant_session.enter(conn, folder.catalog, tenant)
        for table in sorted(tables, key=lambda t: (t.schema, t.name)):
            fmt = "csv" if table.name in csv_tables else "jsonl"
            file = f"{table.schema}.{table.name}.{fmt}"
            doing = f"exporting {table.schema}.{table.name} of {tenant}"
            rows, digest = _copy(conn, table, fmt, scratch / file)
            entries.append({"schema": table.schema, "table": table.name, "file": file, "format": fmt,
                            "rows": rows, "sha256": digest})
        conn.commit()
    except psycopg.Error as exc:
        if isinstance(exc, psycopg.errors.InsufficientPrivilege):
            raise fail("PB1108", f"{doing}: {str(exc).strip()}", folder.display,
                       f"the login must be able to SET ROLE {folder.catalog.app} (grant it to the login)") from exc
        raise database_error(exc, folder.display, doing) from exc
    finally:
        conn.close()
    return entries


def read_manifest(path: Path) -> tuple[dict[str, Any], str, list[Problem]]:
    """(manifest, its sha256, problems): every file present with its sha256 (PB1111 otherwise)."""
    file = path / MANIFEST if path.is_dir() else path
    try:
        body = read_regular(file, MAX_FILE_BYTES)
        manifest = json.loads(body)
        entries = manifest["tables"]
        assert manifest.get("kind") == "TenantExport" and isinstance(entries, list)
    except (OSError, ValueError, KeyError, TypeError, AssertionError) as exc:
        return {}, "", [Problem("PB1111", f"'{file.as_posix()}' is not a readable export manifest ({exc})",
                                file.as_posix(), "pass the manifest.json `paybill db export` wrote")]
    problems = []
    for entry in entries:
        name = str(entry.get("file", ""))
        target = file.parent / name
        if "/" in name or not target.is_file():
            problems.append(Problem("PB1111", f"export file '{name}' is missing", file.as_posix()))
        elif hashlib.sha256(target.read_bytes()).hexdigest() != entry.get("sha256"):
            problems.append(Problem("PB1111", f"export file '{name}' does not match its sha256 in the manifest",
                                    file.as_posix(), "the export was altered: export again before erasing"))
    return manifest, hashlib.sha256(body).hexdigest(), problems
