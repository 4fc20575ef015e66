"""PB0505: each step's resource fits its action (a table for data actions, a kind for propose)."""

from paybill.models.registry import KINDS
from paybill.models.workflow import DATA_ACTIONS
from paybill.validate.index import SpecIndex
from paybill.validate.rules.base import Reporter, Rule


def check(index: SpecIndex, report: Reporter) -> None:
    for doc in index.of_kind("Workflow"):
        for i, step in enumerate(doc.model.spec.steps):
            loc = ("spec", "steps", i)
            if step.action in DATA_ACTIONS:
                if step.resource is None or step.resource in KINDS:
                    report(doc, loc, f"step '{step.id}' ({step.action}) needs a table as its resource",
                           "set 'resource:' to a table of a DataModel")
            elif step.action == "propose":
                if step.resource not in KINDS:
                    report(doc, (*loc, "resource"),
                           f"step '{step.id}' (propose) needs a spec kind as its resource",
                           f"one of: {', '.join(KINDS)}")
            elif step.resource is not None:
                report(doc, (*loc, "resource"),
                       f"step '{step.id}' ({step.action}) takes no resource", "remove 'resource:'")


RULE = Rule("PB0505", "workflow step resource does not fit its action", check)
