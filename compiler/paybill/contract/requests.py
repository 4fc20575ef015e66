"""Cedar request shapes, built in one place for the compiler's checks and the runtime guard.

Why a run is the principal: a run's tenant, workflow and current step change rarely (at start and
on ``advance``), while counters and columns change on every call. cedarpy parses every value of a
request context on every call (an entity reference costs about 11 µs, a number 1-3 µs in cedarpy
4.12), so the slow-moving facts live on a ``Paybill::Run`` entity added to the entity store once
per step, and each action's context carries only the strings and numbers its policies read, as
flat attributes. The run entity is a child of its ``Paybill::Agent``, so policies read
``principal in Paybill::Agent::"billing-agent"``.

Shapes (all attributes required by the schema):

* run entity ``Paybill::Run::"<id>"`` in ``[Paybill::Agent::"<agent>"]`` with ``tenant: Tenant``,
  ``tenantId: String``, ``workflow: Workflow``, ``step: Step``. No policy reads the id: the guard
  uses ``<workflow>/<step>@<tenant>`` so runs in the same position share one entity store (run ids
  are in the decision log), golden tests use ``golden-<n>``;
* operation contexts (read, insert, update, delete, propose, approve): ``tenant`` (the tenant whose
  data the resource is), ``columns`` (columns of the table, or spec field paths for ``propose``),
  ``rows`` (rows the operation touches), and the action's counters
  (:data:`paybill.contract.bundle.ACTION_COUNTERS`: rows read or written so far, budget spent, calls in
  the last minute, elapsed milliseconds);
* transition context (advance): ``visits`` (earlier visits of the target step), ``approved``,
  ``steps`` (steps entered so far), calls in the last minute, elapsed milliseconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from paybill.contract.bundle import (
    ACTION,
    ACTION_COUNTERS,
    ADVANCE,
    AGENT,
    COUNTERS,
    RESOURCE_TYPES,
    RUN,
    STEP,
    TENANT,
    WORKFLOW,
    step_id,
)


def uid(type_: str, id_: str) -> dict[str, str]:
    return {"type": type_, "id": id_}


def ref(type_: str, id_: str) -> dict[str, dict[str, str]]:
    """An entity reference inside entity attributes or a context (Cedar JSON ``__entity`` form)."""
    return {"__entity": uid(type_, id_)}


def run_entity(run_id: str, agent: str, tenant: str, workflow: str, step: str) -> dict[str, Any]:
    return {
        "uid": uid(RUN, run_id),
        "attrs": {
            "tenant": ref(TENANT, tenant),
            "tenantId": tenant,
            "workflow": ref(WORKFLOW, workflow),
            "step": ref(STEP, step_id(workflow, step)),
        },
        "parents": [uid(AGENT, agent)],
    }


def counters(values: Mapping[str, int] | None = None) -> dict[str, int]:
    """Every counter (:data:`paybill.contract.bundle.COUNTERS`), zero unless given in ``values``."""
    record = dict.fromkeys(COUNTERS, 0)
    record.update(values or {})
    return record


def operation_context(
    action: str, tenant: str, columns: Iterable[str] = (), rows: int = 0,
    counter_values: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """The context of a check: its inputs plus the counters of ``action`` (missing ones are zero)."""
    values = counters(counter_values)
    return {"tenant": tenant, "columns": sorted(set(columns)), "rows": rows,
            **{name: values[name] for name in ACTION_COUNTERS[action]}}


def transition_context(
    visits: int = 0, approved: bool = False, counter_values: Mapping[str, int] | None = None
) -> dict[str, Any]:
    values = counters(counter_values)
    return {"visits": visits, "approved": approved, **{name: values[name] for name in ACTION_COUNTERS[ADVANCE]}}


def resource_id(action: str, resource: str, workflow: str) -> str:
    """The Cedar id of a resource: step ids are qualified by workflow, approve targets the workflow."""
    if RESOURCE_TYPES.get(action) == STEP:
        return step_id(workflow, resource)
    if RESOURCE_TYPES.get(action) == WORKFLOW:
        return workflow
    return resource


def request(run_id: str, action: str, resource: str, workflow: str, context: Any) -> dict[str, Any]:
    """A Cedar request (dict form of every uid, so no id is ever parsed as Cedar syntax)."""
    return {
        "principal": uid(RUN, run_id),
        "action": uid(ACTION, action),
        "resource": uid(RESOURCE_TYPES[action], resource_id(action, resource, workflow)),
        "context": context,
    }
