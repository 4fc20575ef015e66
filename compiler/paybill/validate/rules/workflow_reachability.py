"""PB0502: every step must be reachable from the start step (dead steps hide untested paths)."""

from paybill.validate.index import SpecIndex
from paybill.validate.rules.base import Reporter, Rule
from paybill.validate.workflow_graph import WorkflowGraph


def check(index: SpecIndex, report: Reporter) -> None:
    for doc in index.of_kind("Workflow"):
        graph = WorkflowGraph(doc.model.spec)
        if doc.model.spec.start not in graph.step_index:
            continue
        for step_id, i in graph.step_index.items():
            if step_id not in graph.reachable:
                report(doc, ("spec", "steps", i, "id"),
                       f"step '{step_id}' is not reachable from start step '{doc.model.spec.start}'",
                       "add it to some step's 'next', or remove it")


RULE = Rule("PB0502", "workflow step unreachable from the start", check)
