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

from paybill.emit.contract import EmitContext, Emitter, OutputTree
from paybill.emit.sql.migrations import render_database
from paybill.emit.sql.plan import plan_databases

OUTPUT_ROOT = "sql"


def emit_sql(context: EmitContext) -> OutputTree:
    """Render every database's folder. On a PB08xx error nothing is emitted (no half-built SQL)."""
    plans, ok = plan_databases(context.index, context.sink)
    if not ok:
        return {}
    tree: OutputTree = {}
    for plan in plans:
        for name, body in render_database(plan).items():
            tree[f"{OUTPUT_ROOT}/{plan.key}/{name}"] = body
    context.shared["sql.databases"] = [plan.key for plan in plans]
    return dict(sorted(tree.items()))


SQL_EMITTER = Emitter(name="sql", emit=emit_sql, independent=True)

__all__ = ["OUTPUT_ROOT", "SQL_EMITTER", "emit_sql"]
