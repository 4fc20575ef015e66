"""PB0310: table names unique across data models, column names unique, primary key columns exist."""

from paybill.validate.duplicates import declaration_order, located
from paybill.validate.index import SpecIndex
from paybill.validate.rules.base import Reporter, Rule


def check(index: SpecIndex, report: Reporter) -> None:
    first: dict[str, str] = {}
    for doc in declaration_order(index.of_kind("DataModel")):
        for i, table in enumerate(doc.model.spec.tables):
            if table.name in first:
                report(doc, ("spec", "tables", i, "name"),
                       f"table '{table.name}' is already declared in {first[table.name]}",
                       "agents name tables without their model, so table names are unique across models; "
                       "rename this table (or the earlier one)")
            else:
                first[table.name] = f"DataModel/{doc.name} at {located(doc, 'spec', 'tables', i, 'name')}"
            seen: dict[str, int] = {}
            for j, column in enumerate(table.columns):
                if column.name in seen:
                    first_at = located(doc, "spec", "tables", i, "columns", seen[column.name], "name")
                    report(doc, ("spec", "tables", i, "columns", j, "name"),
                           f"column '{column.name}' declared twice in table '{table.name}' (first at {first_at})")
                seen.setdefault(column.name, j)
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
