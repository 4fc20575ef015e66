"""PB0504: every step on a loop declares maxVisits, so every run is bounded.

Each step without ``maxVisits`` is reported with the loop it is on, in walking order and starting
from that step (``inspect -> escalate -> inspect``), so the message names the edge to break.
"""

from paybill.validate.index import SpecIndex
from paybill.validate.rules.base import Reporter, Rule
from paybill.validate.workflow_graph import WorkflowGraph


def check(index: SpecIndex, report: Reporter) -> None:
    for doc in index.of_kind("Workflow"):
        spec = doc.model.spec
        graph = WorkflowGraph(spec)
        for loop in graph.loops:
            for step_id in loop:
                i = graph.step_index[step_id]
                if spec.steps[i].max_visits is None:
                    report(doc, ("spec", "steps", i, "id"),
                           f"step '{step_id}' is on a loop ({' -> '.join(graph.cycle_through(step_id))}) "
                           "without maxVisits",
                           "add 'maxVisits: N' to bound how often the loop may run")


RULE = Rule("PB0504", "unbounded workflow loop", check)
