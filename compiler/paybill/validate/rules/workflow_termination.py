"""PB0503: from every reachable step some path reaches a terminal step; terminals have no next."""

from paybill.validate.index import SpecIndex
from paybill.validate.rules.base import Reporter, Rule
from paybill.validate.workflow_graph import WorkflowGraph


def check(index: SpecIndex, report: Reporter) -> None:
    for doc in index.of_kind("Workflow"):
        spec = doc.model.spec
        graph = WorkflowGraph(spec)
        terminals = set(spec.terminal)
        for step_id, i in graph.step_index.items():
            step = spec.steps[i]
            if step_id in terminals and step.next:
                report(doc, ("spec", "steps", i, "next"), f"terminal step '{step_id}' has next steps",
                       "a terminal step ends the run; remove its 'next'")
            elif step_id in graph.reachable and step_id not in graph.can_terminate:
                report(doc, ("spec", "steps", i, "id"),
                       f"no path from step '{step_id}' reaches a terminal step",
                       f"terminal steps: {', '.join(spec.terminal)}")


RULE = Rule("PB0503", "workflow path never terminates", check)
