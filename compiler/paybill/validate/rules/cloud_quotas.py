"""PB0680: a Cloud's ``spec.quotas`` may only name quotas paybill counts for its provider.

A misspelt override would silently leave the documented default in force (or, worse, look like a
raised quota that nothing checks), so an unknown name is an error with a did-you-mean.
"""

from paybill.quotas import quota_names
from paybill.validate.index import SpecIndex
from paybill.validate.rules.base import Reporter, Rule


def check(index: SpecIndex, report: Reporter) -> None:
    for doc in index.of_kind("Cloud"):
        spec = doc.model.spec
        known = quota_names(spec.provider)
        for name in sorted(spec.quotas):
            if name not in known:
                report.unknown(doc, ("spec", "quotas", name), "quota", name, known,
                               of=f"for provider '{spec.provider}'")


RULE = Rule("PB0680", "unknown quota name in a Cloud's spec.quotas", check)
