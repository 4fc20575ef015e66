"""The SQL emitter: per-database DDL, row-level security and agent roles under ``sql/<database>/``.

One database per pool that offers the database layer (``pool-<pool>``, tenants' rows side by side,
isolated by row-level security) and one per live tenant whose database layer is silo
(``tenant-<tenant>``, isolated by being its own database). Agents get a role per agent with exactly
the columns their ACL grants, so the database enforces the same rules as the Cedar bundle even if
the application layer has a bug. See ``docs/sql.md`` for how the files are applied.

Modules: :mod:`.names` (identifiers), :mod:`.plan` (what each database holds), one renderer per
migration (:mod:`.roles`, :mod:`.tables`, :mod:`.security`, :mod:`.grants`), :mod:`.migrations`
(files and index), :mod:`.catalog` (what :mod:`paybill.guard.db` reads), :mod:`.apply` (applier).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import cast

from paybill.contract.sql_catalog import DatabasePlan
from paybill.emit.cache import unit_key
from paybill.emit.contract import EmitContext, Emitter, OutputTree
from paybill.emit.files import ChunkedOutput
from paybill.emit.sql.migrations import render_database
from paybill.emit.sql.plan import plan_databases
from paybill.emit.sql.plan_text import PlanText
from paybill.store import UnitStore

OUTPUT_ROOT = "sql"
NAMESPACE = "sql"
"""The unit store namespace of rendered database folders."""


def _rendered(plan: DatabasePlan, store: UnitStore | None, text: PlanText) -> dict[str, bytes]:
    """One database's files, read from ``store`` when it holds them for this exact plan.

    A folder is a pure function of its :class:`DatabasePlan` (plain frozen data: tenants, tables,
    agents' grants, source digests), so the plan's ``repr`` (``text``: :class:`PlanText`) is the whole key.
    """
    key = unit_key(NAMESPACE, text(plan)) if store is not None else None
    if store is None or key is None:
        return render_database(plan)
    found = store.get(NAMESPACE, plan.key, key)
    if isinstance(found, dict) and all(isinstance(k, str) and isinstance(v, bytes) for k, v in found.items()):
        return found
    files = render_database(plan)
    store.put(NAMESPACE, plan.key, key, files)
    return files


Stored = tuple[str, dict[str, bytes]]
"""A database folder in the stack-style index: (its plan's key, file name -> SHA-256 of its bytes)."""


def _read_back(root: Path, folder: str, digests: object) -> dict[str, bytes] | None:
    """The files of ``root/folder`` that ``digests`` lists, when every one still hashes to its digest."""
    if not isinstance(digests, dict) or not digests:
        return None
    files: dict[str, bytes] = {}
    for name, digest in digests.items():
        if not isinstance(name, str) or "/" in name or name in ("", ".", ".."):
            return None
        try:
            with open(os.path.join(root, folder, name), "rb") as handle:
                data = handle.read()
        except OSError:
            return None
        if hashlib.sha256(data).digest() != digest:
            return None  # edited, replaced or gone since: rendered again
        files[name] = data
    return files


def _kept(folder: str, digests: object, in_place: Mapping[str, bytes] | None) -> bool:
    """Whether the output folder's journal records every file ``digests`` lists with that digest."""
    if in_place is None or not isinstance(digests, dict) or not digests:
        return False
    return all(isinstance(name, str) and in_place.get(f"{folder}/{name}") == digest
               for name, digest in digests.items())


def _indexed(plan: DatabasePlan, folder: str, store: UnitStore, index: Mapping[str, tuple[str, object]],
             text: PlanText) -> tuple[dict[str, bytes] | None, Stored]:
    """One database's files (None: kept in place) and its index entry, when the compile writes an
    output folder (``store.content_root``): like a stack, the store keeps only each file's digest, in
    one index entry for every database, and the bytes are read back from the output folder, checked
    by digest; or, when that folder's journal records each of them with its digest
    (``store.in_place``), not read at all: kept in place (:attr:`EmitContext.kept`), checked by the
    writer before it relies on them.

    Why: one stored copy per folder (``put``) wrote ~300 MB and 8,500 cache files more on a first
    compile of 100,000 tenants, all of it already in the output folder.
    """
    key = unit_key(NAMESPACE, text(plan)) or ""
    entry = index.get(plan.key)
    root = store.content_root
    if entry is not None and entry[0] == key and root is not None:
        if _kept(folder, entry[1], store.in_place):
            store.hits += 1
            return None, (key, cast("dict[str, bytes]", entry[1]))
        files = _read_back(root, folder, entry[1])
        if files is not None:
            store.hits += 1
            return files, (key, cast("dict[str, bytes]", entry[1]))
    store.misses += 1
    files = render_database(plan)
    return files, (key, {name: hashlib.sha256(body).digest() for name, body in files.items()})


def emit_sql(context: EmitContext) -> OutputTree:
    """Render every database's folder. On a PB08xx error nothing is emitted (no half-built SQL).

    Every error is found while planning, before any folder is rendered, so a compile that streams its
    output gets the folders written as they are rendered (:class:`~paybill.emit.files.ChunkedOutput`).
    """
    plans, ok = plan_databases(context.index, context.sink)
    if not ok:
        return {}
    store = context.store
    out = ChunkedOutput(context)
    text = PlanText()
    if store is None or store.content_root is None:
        for plan in plans:
            for name, body in _rendered(plan, store, text).items():
                out.add(f"{OUTPUT_ROOT}/{plan.key}/{name}", body)
    else:
        index = store.load_index(NAMESPACE)
        now: dict[str, tuple[str, object]] = {}
        for plan in plans:
            folder = f"{OUTPUT_ROOT}/{plan.key}"
            files, stored = _indexed(plan, folder, store, index, text)
            now[plan.key] = stored
            digests = stored[1]
            if files is None:
                for name, digest in digests.items():
                    context.kept[f"{folder}/{name}"] = digest
                    context.digests[f"{folder}/{name}"] = digest
                continue
            for name, body in files.items():
                out.add(f"{folder}/{name}", body, digests[name])
        if now != index:
            store.save_index(NAMESPACE, now)
    context.facts.sql_databases = tuple(plan.key for plan in plans)
    context.facts.list_sources({f"{OUTPUT_ROOT}/{plan.key}/migrations.json": tuple(s.path for s in plan.sources)
                                for plan in plans})
    return dict(sorted(out.finish().items()))


SQL_EMITTER = Emitter(name="sql", emit=emit_sql, independent=True)

__all__ = ["OUTPUT_ROOT", "SQL_EMITTER", "emit_sql"]
