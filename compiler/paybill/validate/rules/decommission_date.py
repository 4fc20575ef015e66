"""PB0431 (warning): a deleted tenant without ``spec.lifecycleSince`` cannot be destroyed.

Its data is retained for the plan's ``backupRetentionDays`` counted from the day it was deleted;
without that day nobody can tell when the retention has passed, so the apply workflow keeps the
stack (listed under ``removed`` in ``manifest.json``, nothing destroyed) until the day is written.
"""

from paybill.validate.index import SpecIndex
from paybill.validate.rules.base import Reporter, Rule


def check(index: SpecIndex, report: Reporter) -> None:
    for doc in index.of_kind("Tenant"):
        spec = doc.model.spec
        if spec.lifecycle == "deleted" and spec.lifecycle_since is None and spec.decommission is None:
            report(doc, ("spec", "lifecycle"),
                   "deleted tenant without spec.lifecycleSince: its stack will not be destroyed",
                   "add spec.lifecycleSince: YYYY-MM-DD (the day it was deleted); the stack is destroyed "
                   "once the plan's backupRetentionDays have passed from that day")


RULE = Rule("PB0431", "deleted tenant without lifecycleSince", check, warning=True)
