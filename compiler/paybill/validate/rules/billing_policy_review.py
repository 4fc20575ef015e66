"""PB1004: a change class is either auto-merged or reviewed by a person, never both."""

from paybill.validate.index import SpecIndex
from paybill.validate.rules.base import Reporter, Rule


def check(index: SpecIndex, report: Reporter) -> None:
    for doc in index.of_kind("BillingPolicy"):
        review = doc.model.spec.review
        human = set(review.require_human)
        for n, change in enumerate(review.auto_merge):
            if change in human:
                report(doc, ("spec", "review", "autoMerge", n),
                       f"change class '{change}' is listed in both autoMerge and requireHuman",
                       "remove it from one list (a class in neither list needs a human)")


RULE = Rule("PB1004", "BillingPolicy change class both auto-merged and human-reviewed", check)
