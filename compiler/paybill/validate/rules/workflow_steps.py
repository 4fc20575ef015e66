"""PB0501: step ids are unique and every start/next/terminal reference names a step."""

from paybill.validate.duplicates import located
from paybill.validate.index import SpecIndex
from paybill.validate.rules.base import Reporter, Rule
from paybill.validate.workflow_graph import WorkflowGraph


def check(index: SpecIndex, report: Reporter) -> None:
    for doc in index.of_kind("Workflow"):
        spec = doc.model.spec
        steps = WorkflowGraph(spec).step_index
        for i, step in enumerate(spec.steps):
            if steps[step.id] != i:
                first_at = located(doc, "spec", "steps", steps[step.id], "id")
                report(doc, ("spec", "steps", i, "id"), f"step id '{step.id}' is used twice (first at {first_at})",
                       "step ids are unique within a workflow; rename this step")
            for j, target in enumerate(step.next):
                if target not in steps:
                    report.unknown(doc, ("spec", "steps", i, "next", j), "step", target, steps)
        if spec.start not in steps:
            report.unknown(doc, ("spec", "start"), "step", spec.start, steps)
        for j, terminal in enumerate(spec.terminal):
            if terminal not in steps:
                report.unknown(doc, ("spec", "terminal", j), "step", terminal, steps)


RULE = Rule("PB0501", "workflow step reference is unknown or duplicated", check)
