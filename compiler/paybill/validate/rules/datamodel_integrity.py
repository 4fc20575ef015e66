"""PB0310: table names unique across data models, column names unique, primary key columns exist."""

from paybill.validate.index import SpecIndex
from paybill.validate.rules.base import Reporter, Rule


def check(index: SpecIndex, report: Reporter) -> None:
    first: dict[str, str] = {}
    for doc in index.of_kind("DataModel"):
        for i, table in enumerate(doc.model.spec.tables):
            if table.name in first:
                report(doc, ("spec", "tables", i, "name"),
                       f"table '{table.name}' is already declared in DataModel/{first[table.name]}",
                       "agents name tables without their model, so table names are unique across models")
            else:
                first[table.name] = doc.name
            seen: set[str] = set()
            for j, column in enumerate(table.columns):
                if column.name in seen:
                    report(doc, ("spec", "tables", i, "columns", j, "name"),
                           f"column '{column.name}' declared twice in table '{table.name}'")
                seen.add(column.name)
            for j, key in enumerate(table.primary_key):
                if key not in seen:
                    report.unknown(doc, ("spec", "tables", i, "primaryKey", j),
                                   "primary key column", key, seen, of=f"in table '{table.name}'")
                else:
                    column = next(c for c in table.columns if c.name == key)
                    if column.nullable:
                        report(doc, ("spec", "tables", i, "primaryKey", j),
                               f"primary key column '{key}' is nullable", "set 'nullable: false' on it")


RULE = Rule("PB0310", "data model tables and columns are inconsistent", check)
