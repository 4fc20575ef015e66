"""The spec index: validated documents by kind and name, plus derived lookups the rules share."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal, overload

from paybill.load.document import SpecDocument
from paybill.models.datamodel import Table

if TYPE_CHECKING:
    from paybill.models.agent import Agent
    from paybill.models.base import Envelope
    from paybill.models.cloud import Cloud
    from paybill.models.plan import Plan
    from paybill.models.pool import Pool
    from paybill.models.tenant import Tenant
    from paybill.models.workflow import Workflow


@dataclass(frozen=True)
class TableRef:
    """A table and where it is declared (data model document and list index)."""

    document: SpecDocument
    index: int
    table: Table

    @cached_property
    def columns(self) -> dict[str, Any]:
        return {c.name: c for c in self.table.columns}


@dataclass
class SpecIndex:
    """Validated documents, first of each (kind, name) wins; duplicates are reported, not indexed."""

    by_kind: dict[str, dict[str, SpecDocument]] = field(default_factory=dict)
    broken: set[tuple[str, str]] = field(default_factory=set)
    """(kind, name) of documents that exist but failed schema validation."""
    agent_scopes: dict[str, dict[str, SpecDocument]] = field(default_factory=dict, repr=False, compare=False)
    """Agent name -> the tenant documents its scope reaches (:func:`paybill.validate.scope.agent_scope`).
    Derived lookups shared by later stages: the index is immutable once validation has run, so
    entries never go stale."""
    agent_live_scopes: dict[str, frozenset[str]] = field(default_factory=dict, repr=False, compare=False)
    """Agent name -> the non-deleted tenants of its scope (:func:`paybill.validate.scope.live_scope`)."""
    _in_order: dict[str, list[SpecDocument]] = field(default_factory=dict, repr=False, compare=False)
    """Kind -> its documents in name order, as :meth:`of_kind` last listed them (reset by :meth:`add`):
    rules, resolve and emitters walk the tenants ~30 times a compile, and sorting 100,000 names each
    time cost ~2 s of CPU."""

    def is_broken(self, kind: str, name: str) -> bool:
        return (kind, name) in self.broken

    def add(self, document: SpecDocument) -> SpecDocument | None:
        """Index ``document``; returns the earlier document when the name is taken."""
        names = self.by_kind.setdefault(document.kind, {})
        existing = names.get(document.name)
        if existing is not None:
            return existing
        names[document.name] = document
        self._in_order.pop(document.kind, None)
        return None

    def get(self, kind: str, name: str) -> SpecDocument | None:
        return self.by_kind.get(kind, {}).get(name)

    def names(self, kind: str) -> list[str]:
        return sorted(self.by_kind.get(kind, {}))

    def of_kind(self, kind: str) -> Iterator[SpecDocument]:
        """Documents of one kind in name order (rules iterate deterministically)."""
        documents = self._in_order.get(kind)
        if documents is None:
            names = self.by_kind.get(kind, {})
            documents = self._in_order[kind] = [names[name] for name in sorted(names)]
        return iter(documents)

    def all_documents(self) -> Iterator[SpecDocument]:
        for kind in sorted(self.by_kind):
            yield from self.of_kind(kind)

    @overload
    def model(self, kind: Literal["Plan"], name: str) -> Plan | None: ...
    @overload
    def model(self, kind: Literal["Cloud"], name: str) -> Cloud | None: ...
    @overload
    def model(self, kind: Literal["Pool"], name: str) -> Pool | None: ...
    @overload
    def model(self, kind: Literal["Tenant"], name: str) -> Tenant | None: ...
    @overload
    def model(self, kind: Literal["Agent"], name: str) -> Agent | None: ...
    @overload
    def model(self, kind: Literal["Workflow"], name: str) -> Workflow | None: ...
    @overload
    def model(self, kind: str, name: str) -> Envelope | None: ...

    def model(self, kind: str, name: str) -> Envelope | None:
        """The validated model of ``kind``/``name``, typed by kind (None when there is no such document)."""
        document = self.get(kind, name)
        model: Envelope | None = document.model if document else None
        return model

    @cached_property
    def tables(self) -> dict[str, TableRef]:
        """Every table by name across data models (first declaration in file order wins, like PB0310)."""
        from paybill.validate.duplicates import declaration_order

        tables: dict[str, TableRef] = {}
        for document in declaration_order(self.of_kind("DataModel")):
            for i, table in enumerate(document.model.spec.tables):
                tables.setdefault(table.name, TableRef(document, i, table))
        return tables

    def __len__(self) -> int:
        return sum(len(v) for v in self.by_kind.values())
