"""``repr`` of many database plans at once, for their unit-store keys (:mod:`paybill.emit.sql`).

A database folder is a pure function of its :class:`DatabasePlan`, so ``repr(plan)`` is its whole
key. Dataclass reprs are Python code, and at 100,000 tenants ~8,500 plans spell out the same few
:class:`TablePlan` objects (planned once per repository, shared by every database) and thousands of
:class:`Source` records: :class:`PlanText` writes the same text, each shared table once and each
source without the generated ``__repr__`` (30,000 tenants: 0.47 s of CPU for the keys before).
``tests/sql`` compares it with ``repr`` over whole repositories.
"""

from __future__ import annotations

import dataclasses

from paybill.contract.sql_catalog import DatabasePlan, Source, TablePlan


class PlanText:
    """``text(plan) == repr(plan)``; the reprs of the table objects met are kept (with the objects,
    so an id is never reused while kept) for the plans of one emitter run."""

    __slots__ = ("_fields", "_tables")

    def __init__(self) -> None:
        self._tables: dict[int, tuple[TablePlan, str]] = {}
        self._fields = tuple(field.name for field in dataclasses.fields(DatabasePlan) if field.repr)

    def __call__(self, plan: DatabasePlan) -> str:
        if type(plan) is not DatabasePlan:  # a subclass may have more fields, or spell itself otherwise
            return repr(plan)
        parts = []
        for name in self._fields:
            value = getattr(plan, name)
            if name == "tables" and type(value) is tuple:
                text = _tuple([self._table(table) for table in value])
            elif name == "sources" and type(value) is tuple:
                text = _tuple([_source(source) for source in value])
            else:
                text = repr(value)
            parts.append(f"{name}={text}")
        return f"{type(plan).__qualname__}({', '.join(parts)})"

    def _table(self, table: TablePlan) -> str:
        kept = self._tables.get(id(table))
        if kept is not None and kept[0] is table:
            return kept[1]
        text = repr(table)
        self._tables[id(table)] = (table, text)
        return text


def _source(source: Source) -> str:
    if type(source) is not Source:  # a subclass may spell itself otherwise
        return repr(source)
    return f"Source(path={source.path!r}, sha256={source.sha256!r})"


def _tuple(texts: list[str]) -> str:
    """How ``repr`` writes a tuple of items whose reprs are ``texts``."""
    return f"({texts[0]},)" if len(texts) == 1 else f"({', '.join(texts)})"
