"""PB0305: tables named by agent grants and workflow steps must exist in a data model."""

from paybill.models.workflow import DATA_ACTIONS
from paybill.validate.index import SpecIndex
from paybill.validate.rules.base import Reporter, Rule


def check(index: SpecIndex, report: Reporter) -> None:
    tables = index.tables
    for doc in index.of_kind("Agent"):
        for i, grant in enumerate(doc.model.spec.permissions.tables):
            if grant.table not in tables:
                report.unknown(doc, ("spec", "permissions", "tables", i, "table"), "table", grant.table, tables)
    for doc in index.of_kind("Workflow"):
        for i, step in enumerate(doc.model.spec.steps):
            if step.action in DATA_ACTIONS and step.resource is not None and step.resource not in tables:
                report.unknown(doc, ("spec", "steps", i, "resource"), "table", step.resource, tables)


RULE = Rule("PB0305", "reference to an unknown table", check)
