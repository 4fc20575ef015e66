"""DataModel: the tables agents may touch, with typed columns."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from paybill.models.base import Envelope, Identifier, SpecModel, Text

ColumnType = Literal[
    "uuid", "text", "integer", "bigint", "boolean", "numeric", "timestamptz", "date", "jsonb"
]
RESERVED_COLUMNS = frozenset({"tenant_id"})


class Column(SpecModel):
    name: Identifier
    type: ColumnType
    nullable: bool = True
    pii: bool = False
    """Personal data: never granted to an agent without it being named explicitly; flagged in bundles."""
    description: Text | None = None


class Table(SpecModel):
    name: Identifier
    """Unique across all data models; agents reference tables by this name."""
    scope: Literal["tenant", "global"] = "tenant"
    """``tenant`` tables get a ``tenant_id`` column and row-level security in pooled databases."""
    primary_key: list[Identifier] = Field(min_length=1)
    columns: list[Column] = Field(min_length=1)
    description: Text | None = None


class DataModelSpec(SpecModel):
    tables: list[Table] = Field(min_length=1)


class DataModel(Envelope):
    kind: Literal["DataModel"]
    spec: DataModelSpec
