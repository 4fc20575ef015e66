"""Apply one database's emitted SQL: verify every file against ``migrations.json``, then run all of it
in one transaction.

This is what ``docs/sql.md`` describes for deployment (``psql --single-transaction`` does the same),
and what the tests use, so the tested path is the deployed path. One transaction means a failure in
0005 leaves the database exactly as it was, and nobody ever observes roles without their grants or
tables without their policies.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg


class ApplyError(RuntimeError):
    """The folder does not match its index (edited, missing or extra file), or applying failed."""


@dataclass(frozen=True)
class DatabaseFolder:
    """A verified ``sql/<database>/`` folder: its index and its files in apply order."""

    index: dict[str, Any]
    files: tuple[tuple[str, str], ...]

    @property
    def revision(self) -> str:
        return str(self.index["revision"])


def verify(files: Mapping[str, bytes]) -> DatabaseFolder:
    """Check ``files`` (name -> bytes, as in one output folder) against its ``migrations.json``."""
    raw = files.get("migrations.json")
    if raw is None:
        raise ApplyError("no migrations.json in the folder")
    index = json.loads(raw)
    listed = index.get("migrations", [])
    expected = {entry["file"] for entry in listed} | {"migrations.json"}
    extra = sorted(set(files) - expected)
    if extra:
        raise ApplyError(f"files not listed in migrations.json: {', '.join(extra)}")
    ordered = []
    for entry in sorted(listed, key=lambda e: e["id"]):
        body = files.get(entry["file"])
        if body is None:
            raise ApplyError(f"{entry['file']} is listed in migrations.json but missing")
        if hashlib.sha256(body).hexdigest() != entry["sha256"]:
            raise ApplyError(f"{entry['file']} does not match its sha256 in migrations.json (edited by hand?)")
        ordered.append((entry["file"], body.decode("utf-8")))
    return DatabaseFolder(index, tuple(ordered))


def read_folder(folder: Path) -> DatabaseFolder:
    return verify({p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()})


def apply(conn: psycopg.Connection[Any], folder: DatabaseFolder) -> None:
    """Run every file in order inside one transaction on ``conn`` (connected to the target database).

    Files are sent as simple queries (no parameters), so each may hold many statements and DO blocks.
    """
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        raise ApplyError("the connection is inside a transaction; apply needs a fresh one")
    try:
        with conn.transaction():
            for name, sql in folder.files:
                try:
                    conn.execute(sql.encode("utf-8"))  # bytes: a composed query, never re-parsed for %s
                except psycopg.Error as exc:
                    raise ApplyError(f"{name}: {exc}") from exc
    except psycopg.Error as exc:  # pragma: no cover - commit failure
        raise ApplyError(f"commit failed: {exc}") from exc
