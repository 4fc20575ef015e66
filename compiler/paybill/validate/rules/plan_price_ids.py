"""PB1001: a billing price id means exactly one plan, so a subscription maps to one plan."""

from paybill.validate.duplicates import declaration_order, located
from paybill.validate.index import SpecIndex
from paybill.validate.rules.base import Reporter, Rule


def check(index: SpecIndex, report: Reporter) -> None:
    seen: dict[str, str] = {}
    for doc in declaration_order(index.of_kind("Plan")):
        for n, price in enumerate(doc.model.spec.price_ids):
            if price in seen:
                report(doc, ("spec", "priceIds", n), f"price id '{price}' is already declared by {seen[price]}",
                       "a price id maps a subscription to one plan: remove it from one of the plans")
            else:
                seen[price] = f"plan '{doc.name}' at {located(doc, 'spec', 'priceIds', n)}"


RULE = Rule("PB1001", "price id declared by more than one plan", check)
