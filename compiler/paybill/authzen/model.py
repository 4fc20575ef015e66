"""AuthZEN request bodies -> typed paybill questions, and paybill decisions -> AuthZEN responses.

The OpenID AuthZEN Authorization API 1.0 speaks of a ``subject``, an ``action``, a ``resource`` and a
``context``. paybill maps them onto one agent bundle (docs/authzen.md has the table):

* ``subject``: ``{"type": "agent", "id": "<agent>"}`` - must be the bundle's agent;
* ``action``: ``{"name": "read" | "insert" | "update" | "delete" | "propose" | "approve" | "advance"}``;
* ``resource``: ``{"type": "table" | "spec_kind" | "workflow" | "step", "id": ..., "properties":
  {"tenant": <whose data>, "columns": [...], "rows": n}}``;
* ``context``: ``{"tenant": ..., "workflow": ..., "step": ..., "run": <id, recorded only>}``: the
  run's position the question is asked at.

Parsing is strict about shapes (a wrong type is a 400 with the JSON path that is wrong) and
lenient about names: an unknown agent, workflow or step is a well-formed question whose answer is
"deny" with a reason, which is what a policy decision point owes a gateway.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from paybill.contract.bundle import ADVANCE, CHECK_ACTIONS

MAX_BODY_BYTES = 256 * 1024
"""Largest request body accepted (413 beyond it)."""
MAX_EVALUATIONS = 256
"""Most evaluations in one batch request (400 beyond it)."""
MAX_COLUMNS = 256
MAX_TEXT = 256
"""Longest string accepted in a name field (a table, a tenant, a step)."""

ACTIONS: tuple[str, ...] = (*CHECK_ACTIONS, ADVANCE)
RESOURCE_TYPES: dict[str, str] = {
    "read": "table", "insert": "table", "update": "table", "delete": "table", "propose": "spec_kind",
    "approve": "workflow", ADVANCE: "step",
}
"""The AuthZEN ``resource.type`` each action takes."""
SEMANTICS: tuple[str, ...] = ("execute_all", "deny_on_first_deny", "permit_on_first_permit")
"""``options.evaluations_semantic`` values supported (all three of AuthZEN 1.0)."""


class BadRequest(ValueError):
    """A request body that is not an AuthZEN request paybill can read: 400 with this message."""


@dataclass(frozen=True, slots=True)
class Question:
    """One evaluation, in paybill's terms."""

    agent: str
    action: str
    resource: str
    resource_tenant: str | None
    columns: tuple[str, ...]
    rows: int
    tenant: str
    workflow: str
    step: str
    run: str


def _object(value: Any, where: str, *, required: bool = True) -> dict[str, Any]:
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise BadRequest(f"{where} must be a JSON object")
    return value


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_TEXT:
        raise BadRequest(f"{where} must be a non-empty string of at most {MAX_TEXT} characters")
    return value


def _optional_text(container: dict[str, Any], key: str, where: str) -> str | None:
    return None if container.get(key) is None else _text(container[key], f"{where}.{key}")


def merge(defaults: dict[str, Any], item: Any, index: int) -> dict[str, Any]:
    """An evaluation of a batch: its own subject/action/resource/context, else the request's."""
    item = _object(item, f"evaluations[{index}]")
    return {key: item.get(key, defaults.get(key)) for key in ("subject", "action", "resource", "context")}


def parse(body: Any, where: str = "") -> Question:
    """The question a single evaluation body asks (``where`` prefixes paths in messages)."""
    body = _object(body, where or "the request body")
    subject = _object(body.get("subject"), f"{where}subject")
    action = _object(body.get("action"), f"{where}action")
    resource = _object(body.get("resource"), f"{where}resource")
    context = _object(body.get("context"), f"{where}context", required=False)
    properties = _object(resource.get("properties"), f"{where}resource.properties", required=False)
    subject_type = _text(subject.get("type"), f"{where}subject.type")
    if subject_type != "agent":
        raise BadRequest(f"{where}subject.type must be \"agent\", not {subject_type!r}")
    name = _text(action.get("name"), f"{where}action.name")
    if name not in ACTIONS:
        raise BadRequest(f"{where}action.name must be one of {', '.join(ACTIONS)}, not {name!r}")
    resource_type = _text(resource.get("type"), f"{where}resource.type")
    if resource_type != RESOURCE_TYPES[name]:
        raise BadRequest(f"{where}resource.type must be \"{RESOURCE_TYPES[name]}\" for action {name!r}, "
                         f"not {resource_type!r}")
    columns = properties.get("columns", [])
    if not isinstance(columns, list) or len(columns) > MAX_COLUMNS:
        raise BadRequest(f"{where}resource.properties.columns must be a list of at most {MAX_COLUMNS} names")
    for i, column in enumerate(columns):
        _text(column, f"{where}resource.properties.columns[{i}]")
    rows = properties.get("rows", 0)
    if type(rows) is not int or not 0 <= rows <= 2**53:
        raise BadRequest(f"{where}resource.properties.rows must be an integer from 0 to {2**53}")
    return Question(
        agent=_text(subject.get("id"), f"{where}subject.id"),
        action=name,
        resource=_text(resource.get("id"), f"{where}resource.id"),
        resource_tenant=_optional_text(properties, "tenant", f"{where}resource.properties"),
        columns=tuple(columns),
        rows=rows,
        tenant=_text(context.get("tenant"), f"{where}context.tenant"),
        workflow=_text(context.get("workflow"), f"{where}context.workflow"),
        step=_text(context.get("step"), f"{where}context.step"),
        run=_optional_text(context, "run", f"{where}context") or "",
    )


def semantic(body: dict[str, Any]) -> str:
    options = _object(body.get("options"), "options", required=False)
    value = options.get("evaluations_semantic", "execute_all")
    if value not in SEMANTICS:
        raise BadRequest(f"options.evaluations_semantic must be one of {', '.join(SEMANTICS)}, not {value!r}")
    return str(value)
