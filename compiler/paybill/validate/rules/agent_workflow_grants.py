"""PB0506: every action a workflow step performs is granted by the ACL of the agent running it."""

from paybill.models.workflow import DATA_ACTIONS
from paybill.validate.index import SpecIndex
from paybill.validate.rules.base import Reporter, Rule


def check(index: SpecIndex, report: Reporter) -> None:
    for agent_doc in index.of_kind("Agent"):
        permissions = agent_doc.model.spec.permissions
        grants = {g.table: g for g in permissions.tables}
        proposable = {p.kind for p in permissions.proposals}
        for name in agent_doc.model.spec.workflows:
            workflow_doc = index.get("Workflow", name)
            if workflow_doc is None:
                continue
            for i, step in enumerate(workflow_doc.model.spec.steps):
                missing = None
                if step.action in DATA_ACTIONS and step.resource in index.tables:
                    grant = grants.get(step.resource)
                    held = grant is not None and (
                        grant.delete if step.action == "delete" else bool(getattr(grant, step.action))
                    )
                    if not held:
                        missing = f"{step.action} on table '{step.resource}'"
                elif step.action == "propose" and step.resource not in proposable:
                    missing = f"propose changes to {step.resource}"
                if missing:
                    report(workflow_doc, ("spec", "steps", i, "action"),
                           f"step '{step.id}' needs {missing}, which agent '{agent_doc.name}' is not granted",
                           f"grant it in Agent/{agent_doc.name} spec.permissions, or change the step")


RULE = Rule("PB0506", "workflow step needs a permission its agent lacks", check)
