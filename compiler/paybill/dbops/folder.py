"""Read one compiled ``sql/<database>/`` folder and check it is exactly what was compiled.

Every file listed in ``migrations.json`` must exist with its sha256, nothing else may be there, and
the ``revision`` must be the hash of that listing (so an index edited to claim another revision is
caught too). The ``catalog`` section is parsed into plain data with every identifier re-checked, since
statements are composed from it. This mirrors ``paybill.emit.sql`` on purpose without importing it:
runtime code reads compiled output only.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from paybill.contract.files import read_regular
from paybill.dbops.errors import DbOpsError, Problem, fail

IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
TENANT_NAME = re.compile(r"^[a-z](-?[a-z0-9])*$")
TENANT_COLUMN = "tenant_id"
INDEX = "migrations.json"
MAX_FILE_BYTES = 256 * 1024 * 1024
"""A compiled file is read as a regular file up to this size: a FIFO, a device or a link to one in the
folder is refused, never waited on or read without end."""


@dataclass(frozen=True)
class Table:
    name: str
    schema: str
    scope: str
    tenant_scoped: bool
    key: tuple[str, ...]
    """The primary key as created (``tenant_id`` first in pooled tenant tables): the stable order."""
    columns: tuple[tuple[str, str, bool], ...]
    """(name, type, nullable) as the specs declare, ``tenant_id`` included where it exists."""


@dataclass(frozen=True)
class Grant:
    table: str
    read: tuple[str, ...]
    insert: tuple[str, ...]
    update: tuple[str, ...]
    delete: bool


@dataclass(frozen=True)
class Agent:
    name: str
    role: str
    statement_timeout_ms: int
    grants: tuple[Grant, ...]


@dataclass(frozen=True)
class Policy:
    table: str
    name: str
    permissive: bool
    role: str | None
    """None means PUBLIC."""
    condition: str


@dataclass(frozen=True)
class Catalog:
    database: str
    pooled: bool
    tenants: tuple[str, ...]
    tenant_setting: str
    owner: str
    app: str
    guard: str
    tables: tuple[Table, ...]
    agents: tuple[Agent, ...]
    policies: tuple[Policy, ...]

    @property
    def schemas(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t.schema for t in self.tables))


@dataclass(frozen=True)
class Folder:
    path: Path
    database: str
    stack: str
    revision: str
    files: tuple[tuple[str, str, bytes], ...]
    """(file, sha256, body) in apply order."""
    catalog: Catalog

    @property
    def display(self) -> str:
        return (self.path / INDEX).as_posix()

    def hashes(self) -> dict[str, str]:
        return {name: digest for name, digest, _ in self.files}


def ident(value: object, where: str) -> str:
    if not isinstance(value, str) or not IDENTIFIER.match(value) or len(value.encode()) > 63:
        raise ValueError(f"{where}: {value!r} is not a safe SQL identifier")
    return value


def _idents(values: object, where: str) -> tuple[str, ...]:
    if not isinstance(values, list):
        raise ValueError(f"{where}: expected a list")
    return tuple(ident(v, where) for v in values)


def parse_catalog(data: dict[str, Any]) -> Catalog:
    """Plain data from the ``catalog`` section; ValueError/KeyError/TypeError on anything unexpected."""
    tables = []
    for name, t in data["tables"].items():
        scoped = bool(t["tenantScoped"])
        columns = tuple((ident(c, f"table {name}"), ident(spec["type"], f"column {c}"), bool(spec["nullable"]))
                        for c, spec in t["columns"].items())
        key = _idents(t["primaryKey"], f"table {name}")
        if scoped:
            columns = ((TENANT_COLUMN, "text", False), *columns)
            key = (TENANT_COLUMN, *key)
        tables.append(Table(ident(name, "table"), ident(t["schema"], f"table {name}"), str(t["scope"]), scoped,
                            key, columns))
    agents = tuple(
        Agent(str(name), ident(a["role"], f"agent {name}"), int(a["statementTimeoutMs"]), tuple(
            Grant(ident(table, f"agent {name}"), _idents(g["read"], table), _idents(g["insert"], table),
                  _idents(g["update"], table), bool(g["delete"]))
            for table, g in a["grants"].items()))
        for name, a in data["agents"].items()
    )
    policies = tuple(
        Policy(ident(p["table"], "policy"), ident(p["name"], "policy"), bool(p["permissive"]),
               None if p["role"] is None else ident(p["role"], "policy"), str(p["condition"]))
        for p in data.get("policies", [])
    )
    tenants = tuple(str(t) for t in data["tenants"])
    for tenant in tenants:
        if not TENANT_NAME.match(tenant):
            raise ValueError(f"tenant {tenant!r} is not a tenant name")
    roles = data["roles"]
    return Catalog(
        database=str(data["database"]), pooled=bool(data["pooled"]), tenants=tenants,
        tenant_setting=str(data["tenantSetting"]), owner=ident(roles["owner"], "owner"),
        app=ident(roles["app"], "app"), guard=ident(roles["guard"], "guard"),
        tables=tuple(tables), agents=agents, policies=policies,
    )


def revision_of(listing: list[tuple[str, str]]) -> str:
    """The revision ``paybill compile`` writes: a hash over (file, sha256) in apply order."""
    return hashlib.sha256("".join(f"{file}\0{digest}\n" for file, digest in listing).encode()).hexdigest()


def read_folder(path: Path) -> Folder:
    """The verified folder, or :class:`DbOpsError` (PB1101/PB1102) listing every problem found."""
    index_path = (path / INDEX).as_posix()
    if not path.is_dir():
        raise fail("PB1101", f"'{path.as_posix()}' is not a compiled database folder", path.as_posix(),
                   "pass generated/sql/<database> (a folder holding migrations.json)")
    try:
        index = json.loads(read_regular(path / INDEX, MAX_FILE_BYTES))
        listed = sorted(index["migrations"], key=lambda e: str(e["id"]))
        entries = [(str(e["file"]), str(e["sha256"])) for e in listed]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise fail("PB1101", f"cannot read the migrations index: {type(exc).__name__}: {exc}", index_path,
                   "recompile with `paybill compile`; the folder must be compiled output") from exc
    problems: list[Problem] = []
    present = {p.name for p in path.iterdir() if p.is_file()}
    for extra in sorted(present - {f for f, _ in entries} - {INDEX}):
        problems.append(Problem("PB1101", f"'{extra}' is not listed in migrations.json", index_path,
                                "remove it: only compiled, reviewed files are applied"))
    files = []
    for file, digest in entries:
        if "/" in file or file.startswith(".") or not file.endswith(".sql"):
            problems.append(Problem("PB1101", f"migrations.json lists an unusable file name {file!r}", index_path))
            continue
        try:
            body = read_regular(path / file, MAX_FILE_BYTES)
        except FileNotFoundError:
            problems.append(Problem("PB1101", f"'{file}' is listed in migrations.json but missing", index_path,
                                    "restore the folder from git (`git checkout -- generated/`)"))
            continue
        except OSError as exc:  # FileRefused: a FIFO, a device, a folder, too large; or a read error
            problems.append(Problem("PB1101", f"'{file}' cannot be read: {exc.strerror or exc}", index_path,
                                    "restore the folder from git (`git checkout -- generated/`)"))
            continue
        actual = hashlib.sha256(body).hexdigest()
        if actual != digest:
            problems.append(Problem(
                "PB1101", f"'{file}' does not match its sha256 in migrations.json (edited by hand?)", index_path,
                "apply only what review approved: restore the file from git, or change the specs and recompile"))
        files.append((file, actual, body))
    if not problems and revision_of(entries) != index.get("revision"):
        problems.append(Problem("PB1101", "the revision in migrations.json is not the hash of its files",
                                index_path, "recompile with `paybill compile`; the index was edited"))
    try:
        catalog = parse_catalog(index["catalog"])
        if catalog.database != index.get("database") or catalog.database != path.name:
            raise ValueError(f"catalog is for '{catalog.database}', folder is '{path.name}'")
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        problems.append(Problem("PB1102", f"the catalog in migrations.json is unusable: {type(exc).__name__}: {exc}",
                                index_path, "recompile with `paybill compile`"))
    if problems:
        raise DbOpsError(problems)
    return Folder(path, catalog.database, str(index.get("stack", "")), str(index["revision"]), tuple(files), catalog)
