"""PB0520: no workflow or step may act on ``deleted`` tenants.

A deleted tenant's infrastructure is being destroyed and its data is gone or going; an agent acting
on it could only act on what should no longer exist. The compiled bundle and the database refuse
deleted tenants anyway, so listing the state is a mistake worth stopping at: it says the author
expects something that will never be allowed.
"""

from paybill.validate.index import SpecIndex
from paybill.validate.rules.base import Reporter, Rule

HINT = ("agents never act on deleted tenants; remove 'deleted' (an export before deletion is a step "
        "with 'lifecycles: [offboarding]')")


def check(index: SpecIndex, report: Reporter) -> None:
    for doc in index.of_kind("Workflow"):
        spec = doc.model.spec
        for j, state in enumerate(spec.lifecycles):
            if state == "deleted":
                report(doc, ("spec", "lifecycles", j),
                       f"workflow '{doc.name}' lists lifecycle 'deleted', which no workflow may act in", HINT)
        for i, step in enumerate(spec.steps):
            for j, state in enumerate(step.lifecycles or ()):
                if state == "deleted":
                    report(doc, ("spec", "steps", i, "lifecycles", j),
                           f"step '{step.id}' lists lifecycle 'deleted', which no workflow may act in", HINT)


RULE = Rule("PB0520", "workflow acts on deleted tenants", check)
