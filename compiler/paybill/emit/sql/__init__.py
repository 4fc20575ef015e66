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

from paybill.contract.sql_catalog import DatabasePlan
from paybill.emit.cache import unit_key
from paybill.emit.contract import EmitContext, Emitter, OutputTree
from paybill.emit.files import ChunkedOutput
from paybill.emit.sql.migrations import render_database
from paybill.emit.sql.plan import plan_databases
from paybill.store import UnitStore

OUTPUT_ROOT = "sql"
NAMESPACE = "sql"
"""The unit store namespace of rendered database folders."""


def _rendered(plan: DatabasePlan, store: UnitStore | None) -> dict[str, bytes]:
    """One database's files, read from ``store`` when it holds them for this exact plan.

    A folder is a pure function of its :class:`DatabasePlan` (plain frozen data: tenants, tables,
    agents' grants, source digests), so the plan's ``repr`` is the whole key.
    """
    key = unit_key(NAMESPACE, repr(plan)) if store is not None else None
    if store is None or key is None:
        return render_database(plan)
    found = store.get(NAMESPACE, plan.key, key)
    if isinstance(found, dict) and all(isinstance(k, str) and isinstance(v, bytes) for k, v in found.items()):
        return found
    files = render_database(plan)
    store.put(NAMESPACE, plan.key, key, files)
    return files


def emit_sql(context: EmitContext) -> OutputTree:
    """Render every database's folder. On a PB08xx error nothing is emitted (no half-built SQL).

    Every error is found while planning, before any folder is rendered, so a compile that streams its
    output gets the folders written as they are rendered (:class:`~paybill.emit.files.ChunkedOutput`).
    """
    plans, ok = plan_databases(context.index, context.sink)
    if not ok:
        return {}
    out = ChunkedOutput(context)
    for plan in plans:
        for name, body in _rendered(plan, context.store).items():
            out.add(f"{OUTPUT_ROOT}/{plan.key}/{name}", body)
    context.facts.sql_databases = tuple(plan.key for plan in plans)
    context.facts.list_sources({f"{OUTPUT_ROOT}/{plan.key}/migrations.json": tuple(s.path for s in plan.sources)
                                for plan in plans})
    return dict(sorted(out.finish().items()))


SQL_EMITTER = Emitter(name="sql", emit=emit_sql, independent=True)

__all__ = ["OUTPUT_ROOT", "SQL_EMITTER", "emit_sql"]
