"""PB1002: at most one BillingPolicy, so every subscription event has one set of rules."""

from paybill.validate.duplicates import declaration_order, located
from paybill.validate.index import SpecIndex
from paybill.validate.rules.base import Reporter, Rule


def check(index: SpecIndex, report: Reporter) -> None:
    first = None
    for doc in declaration_order(index.of_kind("BillingPolicy")):
        if first is None:
            first = doc
            continue
        report(doc, ("metadata", "name"), f"a second BillingPolicy '{doc.name}'; the repository already has "
               f"'{first.name}' at {located(first, 'metadata', 'name')}",
               "keep one BillingPolicy: dunning, review and onboarding rules are organisation-wide")


RULE = Rule("PB1002", "more than one BillingPolicy", check)
