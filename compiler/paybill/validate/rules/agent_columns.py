"""PB0306: columns granted to an agent must exist in the table; tenant_id is never grantable."""

from paybill.validate.index import SpecIndex
from paybill.validate.rules.base import Reporter, Rule


def check(index: SpecIndex, report: Reporter) -> None:
    tables = index.tables
    for doc in index.of_kind("Agent"):
        for i, grant in enumerate(doc.model.spec.permissions.tables):
            ref = tables.get(grant.table)
            if ref is None:
                continue
            for action in ("read", "insert", "update"):
                for j, column in enumerate(getattr(grant, action)):
                    if column not in ref.columns:
                        report.unknown(
                            doc, ("spec", "permissions", "tables", i, action, j),
                            "column", column, ref.columns, of=f"in table '{grant.table}'",
                        )
                if len(set(getattr(grant, action))) != len(getattr(grant, action)):
                    report(doc, ("spec", "permissions", "tables", i, action),
                           f"column listed twice in '{action}' of table '{grant.table}'")


RULE = Rule("PB0306", "agent grant names an unknown column", check)
