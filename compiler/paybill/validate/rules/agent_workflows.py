"""PB0307: workflows an agent runs must exist, and each workflow belongs to exactly one agent."""

from paybill.validate.duplicates import declaration_order, located
from paybill.validate.index import SpecIndex
from paybill.validate.rules.base import Reporter, Rule


def check(index: SpecIndex, report: Reporter) -> None:
    workflows = index.names("Workflow")
    owner: dict[str, str] = {}
    where: dict[str, str] = {}
    for doc in declaration_order(index.of_kind("Agent")):
        for i, name in enumerate(doc.model.spec.workflows):
            if index.get("Workflow", name) is None:
                report.unknown(doc, ("spec", "workflows", i), "workflow", name, workflows, kind="Workflow")
            elif name in owner and owner[name] != doc.name:
                report(doc, ("spec", "workflows", i),
                       f"workflow '{name}' is already run by agent '{owner[name]}' at {where[name]}",
                       "give each agent its own workflow so its ACL check stays per agent")
            elif name not in owner:
                owner[name] = doc.name
                where[name] = located(doc, "spec", "workflows", i)


RULE = Rule("PB0307", "agent references an unknown workflow", check)
