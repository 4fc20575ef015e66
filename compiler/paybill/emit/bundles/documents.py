"""The JSON files of a bundle: ``entities.json``, ``workflow.json`` and ``limits.json``.

``entities.json`` is Cedar's entity format: the agent (with its resolved tenant scope), the tenants
in scope (their lifecycle state, labels as tags; deleted tenants stay, so a refusal can name the
state), the workflows and steps (steps are children of their workflow, and carry the lifecycle
states they may act in), the tables the ACL names with their tenant-scoped flag, their
columns (type and personal-data flag) and the spec kinds the agent may propose changes to.
``workflow.json`` and ``limits.json`` are what the guard's bookkeeping reads: the state machine of
each workflow and the limits with how each counter is measured.
"""

from __future__ import annotations

from typing import Any

from paybill.contract.bundle import (
    AGENT,
    CALL_WINDOW_SECONDS,
    COLUMN,
    SPEC_KIND,
    STEP,
    TABLE,
    TENANT,
    WORKFLOW,
    step_id,
)
from paybill.contract.requests import ref, uid
from paybill.emit.bundles.facts import AgentFacts
from paybill.emit.bundles.policies import LIMIT_FIELDS


def _entity(type_: str, id_: str, attrs: dict[str, Any] | None = None,
            parents: list[dict[str, str]] | None = None, tags: dict[str, str] | None = None) -> dict[str, Any]:
    entity: dict[str, Any] = {"uid": uid(type_, id_), "attrs": attrs or {}, "parents": parents or []}
    if tags is not None:
        entity["tags"] = tags
    return entity


def build_entities(facts: AgentFacts) -> list[dict[str, Any]]:
    entities = [_entity(AGENT, facts.name, {"tenants": [ref(TENANT, t) for t in facts.tenants]})]
    for name, document in facts.tenants.items():
        entities.append(_entity(TENANT, name, {"lifecycle": document.model.spec.lifecycle},
                                tags=dict(sorted(document.model.metadata.labels.items()))))
    for workflow in facts.workflows:
        entities.append(_entity(WORKFLOW, workflow.name))
        for step in workflow.steps:
            entities.append(_entity(STEP, step_id(workflow.name, step.id),
                                    {"lifecycles": list(workflow.graph.spec.step_lifecycles(step))},
                                    [uid(WORKFLOW, workflow.name)]))
    for name, (_, table) in facts.tables.items():
        entities.append(_entity(TABLE, name, {"tenantScoped": table.scope == "tenant"}))
        for column in table.columns:
            entities.append(_entity(COLUMN, f"{name}.{column.name}", {"pii": column.pii, "type": column.type},
                                    [uid(TABLE, name)]))
    for kind in sorted({g.resource for g in facts.grants if g.action == "propose"}):
        entities.append(_entity(SPEC_KIND, kind))
    return sorted(entities, key=lambda e: (e["uid"]["type"], e["uid"]["id"]))


def build_workflows(facts: AgentFacts) -> dict[str, Any]:
    workflows: dict[str, Any] = {}
    for workflow in facts.workflows:
        spec = workflow.graph.spec
        steps = []
        for step in spec.steps:
            steps.append({
                "id": step.id,
                "action": step.action,
                "resource": step.resource,
                "next": list(step.next),
                "maxVisits": step.max_visits,
                "requiresApproval": step.requires_approval,
                "terminal": step.id in spec.terminal,
                "lifecycles": list(spec.step_lifecycles(step)),
            })
        workflows[workflow.name] = {
            "source": workflow.document.path,
            "start": spec.start,
            "terminal": sorted(set(spec.terminal)),
            "approvalSteps": sorted(s.id for s in spec.steps if s.requires_approval),
            "loops": workflow.graph.loops,
            "steps": steps,
        }
    return {"agent": facts.name, "workflows": workflows}


COUNTER_OF_LIMIT = {
    "maxSteps": "steps", "maxRowsRead": "rowsRead", "maxRowsWritten": "rowsWritten",
    "maxWallTimeSeconds": "elapsedMillis", "maxCallsPerMinute": "callsLastMinute", "budgetUnits": "budgetSpent",
}


def build_limits(facts: AgentFacts) -> dict[str, Any]:
    return {
        "agent": facts.name,
        "limits": {key: getattr(facts.limits, attribute) for key, attribute in LIMIT_FIELDS},
        "counters": COUNTER_OF_LIMIT,
        "callWindowSeconds": CALL_WINDOW_SECONDS,
        "budgetCost": "max(1, rows) per checked operation",
        "source": facts.document.path,
    }
