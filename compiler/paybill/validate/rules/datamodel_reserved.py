"""PB0411: ``tenant_id`` is added by paybill to tenant-scoped tables; specs must not declare it."""

from paybill.models.datamodel import RESERVED_COLUMNS
from paybill.validate.index import SpecIndex
from paybill.validate.rules.base import Reporter, Rule


def check(index: SpecIndex, report: Reporter) -> None:
    for doc in index.of_kind("DataModel"):
        for i, table in enumerate(doc.model.spec.tables):
            for j, column in enumerate(table.columns):
                if column.name in RESERVED_COLUMNS:
                    report(doc, ("spec", "tables", i, "columns", j, "name"),
                           f"column name '{column.name}' is reserved",
                           "paybill adds tenant_id to tenant-scoped tables itself; remove this column")


RULE = Rule("PB0411", "reserved column name", check)
