"""The agent's MCP tools, generated from its bundle and its database's catalog.

Only tools the agent can ever use are listed: one per (action, table) some step of its workflows
performs and its database grants, plus starting and advancing runs, requesting an approval (when a
step needs one) and proposing a spec change (when a step proposes and a spec repository is
configured). Each input schema is closed (``additionalProperties: false``) and names columns only
from the agent's grants, as enums, with the column's type and nullability, and PII columns marked;
the same names are then resolved again in the catalog by :mod:`paybill.guard.db`, so a schema is a
help for the agent and a first wall, never the only one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from paybill.guard import Guard
from paybill.guard.db import AgentPlan, DatabasePlan, TablePlan

DATA_TOOLS = ("read", "insert", "update", "delete")
MAX_TEXT = 65536
MAX_LIMIT = 100_000
MAX_FILTERS = 64

RUN_ID = {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$",
          "description": "The run id start_run returned."}
NAME = {"type": "string", "pattern": "^[a-z](?:-?[a-z0-9]){0,39}$"}

READ_LIMIT = ("The most rows you expect. A read matching more rows is refused (limit.requested), never cut "
              "short: narrow `where` instead. Without it, the rows the run may still read (maxRowsRead).")
WRITE_LIMIT = {"type": "integer", "minimum": 0,
               "description": "The most rows the call may change. Matching more refuses the call and changes "
                              "nothing (limit.requested). `where: {}` matches every row of the tenant."}

_TYPES: dict[str, dict[str, Any]] = {
    "uuid": {"type": "string", "format": "uuid"},
    "text": {"type": "string", "maxLength": MAX_TEXT},
    "integer": {"type": "integer", "minimum": -(2**31), "maximum": 2**31 - 1},
    "bigint": {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1},
    "boolean": {"type": "boolean"},
    "numeric": {"type": ["number", "string"]},
    "timestamptz": {"type": "string", "format": "date-time"},
    "date": {"type": "string", "format": "date"},
    "jsonb": {},
}


@dataclass(frozen=True)
class ToolDef:
    """One tool: its MCP name, description and input schema, and what it does."""

    name: str
    kind: str
    """``start``, ``advance``, ``approval``, ``propose`` or a data action (read, insert, update, delete)."""
    description: str
    input_schema: dict[str, Any]
    table: str = ""
    steps: tuple[str, ...] = field(default=())
    """``<workflow>/<step>`` where the tool is allowed (data and propose tools)."""


def build_tools(guard: Guard, catalog: DatabasePlan, *, propose: bool) -> list[ToolDef]:
    """Every tool the agent of ``guard`` can ever use against the database of ``catalog``."""
    workflows = guard.workflows
    agent = next((a for a in catalog.agents if a.name == guard.agent), None)
    tenants = sorted(set(catalog.tenants) & set(guard.bundle.tenant_lifecycles))
    tools = [_start(workflows, tenants, guard.limits), _advance(workflows)]
    approvals = sorted(f"{w}/{s}" for w, spec in workflows.items() for s, step in spec["steps"].items()
                       if step.get("requiresApproval"))
    if approvals:
        tools.append(_approval(approvals))
    uses: dict[tuple[str, str], list[str]] = {}
    for name, spec in sorted(workflows.items()):
        for step_id, step in spec["steps"].items():
            uses.setdefault((step.get("action") or "", step.get("resource") or ""), []).append(f"{name}/{step_id}")
    tables = {t.name: t for t in catalog.tables}
    for (action, resource), steps in sorted(uses.items()):
        if action not in DATA_TOOLS or resource not in tables or agent is None:
            continue
        tool = _data_tool(action, tables[resource], agent, guard.bundle.pii_columns, tuple(steps))
        if tool is not None:
            tools.append(tool)
    propose_steps = tuple(s for (action, _), steps in sorted(uses.items()) if action == "propose" for s in steps)
    if propose and propose_steps:
        kinds = sorted({r for (a, r) in uses if a == "propose"})
        tools.append(_propose(kinds, propose_steps))
    return tools


def _run_args(extra: dict[str, Any], required: Iterable[str] = ()) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False,
            "properties": {"run_id": RUN_ID, "tenant": {**NAME, "description": "The run's tenant (checked)."},
                           **extra},
            "required": ["run_id", "tenant", *required]}


_LIMIT_WORDS = (("maxSteps", "{} steps entered"), ("maxRowsRead", "{} rows read"),
                ("maxRowsWritten", "{} rows written"), ("maxCallsPerMinute", "{} calls per minute"),
                ("maxWallTimeSeconds", "{} s from its start"), ("budgetUnits", "{} budget units (max(1, rows) per "
                                                                                 "data call)"))


def limits_sentence(limits: dict[str, int]) -> str:
    """The run's limits in words, for the agent: what it may do before calls are refused (``limit.*``)."""
    words = [text.format(limits[name]) for name, text in _LIMIT_WORDS if name in limits]
    return f"Each run may take at most: {', '.join(words)}; past a limit calls are refused (limit.<name>)." \
        if words else ""


def _start(workflows: dict[str, Any], tenants: list[str], limits: dict[str, int]) -> ToolDef:
    schema = {"type": "object", "additionalProperties": False,
              "properties": {"tenant": {**NAME, "description": "The tenant the run acts for"
                                        + (f" (this database stores: {', '.join(tenants)})" if tenants else "")},
                             "workflow": {"type": "string", "enum": sorted(workflows)}},
              "required": ["tenant", "workflow"]}
    starts = ", ".join(f"{w} starts at '{spec['start']}'" for w, spec in sorted(workflows.items()))
    bounded = limits_sentence(limits)
    return ToolDef("start_run", "start", "Start a workflow run for a tenant; returns the run id every other tool "
                   f"takes. Runs expire. {starts}." + (f" {bounded}" if bounded else ""), schema)


def _advance(workflows: dict[str, Any]) -> ToolDef:
    steps = sorted({s for spec in workflows.values() for s in spec["steps"]})

    def target(spec: dict[str, Any], name: str) -> str:
        step = spec["steps"].get(name) or {}
        notes = [f"at most {step['maxVisits']} visits"] if step.get("maxVisits") else []
        if step.get("requiresApproval"):
            notes.append("needs a human's approval: request_approval")
        return f"{name} ({'; '.join(notes)})" if notes else name

    def moves(spec: dict[str, Any]) -> str:
        return ", ".join(f"{s} -> {'|'.join(target(spec, n) for n in step.get('next') or []) or 'end'}"
                         for s, step in spec["steps"].items())

    paths = "; ".join(f"{w}: {moves(spec)}" for w, spec in sorted(workflows.items()))
    return ToolDef("advance_step", "advance", f"Move the run to its next step. Allowed transitions: {paths}.",
                   _run_args({"step": {"type": "string", "enum": steps}}, ["step"]))


def _approval(steps: list[str]) -> ToolDef:
    schema = _run_args({"step": {"type": "string", "enum": sorted({s.split("/", 1)[1] for s in steps})},
                        "reason": {"type": "string", "maxLength": 2000}}, ["step"])
    return ToolDef("request_approval", "approval",
                   "Ask a human to approve entering a step that requires approval (" + ", ".join(steps) + "). "
                   "A human approves with `paybill guard approve RUN STEP --by EMAIL`; then advance_step proceeds.",
                   schema)


def _propose(kinds: list[str], steps: tuple[str, ...]) -> ToolDef:
    schema = _run_args({
        "kind": {"type": "string", "enum": kinds},
        "name": NAME,
        "field": {"type": "string", "pattern": "^spec(\\.[a-zA-Z][a-zA-Z0-9]*)+$", "maxLength": 200},
        "value": {"type": ["string", "number", "boolean"]},
        "message": {"type": "string", "minLength": 1, "maxLength": 500},
    }, ["kind", "name", "field", "value", "message"])
    return ToolDef("propose_change", "propose", "Propose a spec change as a pull-request branch (runs `paybill "
                   "propose`); returns the branch and the plan. Allowed in steps: " + ", ".join(steps) + ".",
                   schema, steps=steps)


def _column_schema(table: TablePlan, column: str, pii: frozenset[str]) -> dict[str, Any]:
    plan = next(c for c in table.columns if c.name == column)
    schema = dict(_TYPES.get(plan.sql_type, {}))
    if plan.nullable and "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        schema["type"] = [*types, "null"]
    note = f"{plan.sql_type}{'' if plan.nullable else ', not null'}"
    if f"{table.name}.{column}" in pii:
        note += ", PII (personal data)"
    schema["description"] = note
    return schema


def _columns_object(table: TablePlan, columns: Iterable[str], pii: frozenset[str], what: str,
                    min_properties: int = 0) -> dict[str, Any]:
    names = sorted(columns)
    schema: dict[str, Any] = {"type": "object", "additionalProperties": False, "description": what,
                              "properties": {c: _column_schema(table, c, pii) for c in names},
                              "maxProperties": min(len(names), MAX_FILTERS)}
    if min_properties:
        schema["minProperties"] = min_properties
    return schema


def _data_tool(action: str, table: TablePlan, agent: AgentPlan, pii: frozenset[str],
               steps: tuple[str, ...]) -> ToolDef | None:
    grant = next((g for g in agent.grants if g.table == table.name), None)
    if grant is None:
        return None
    readable = [c for c in grant.read if c in {col.name for col in table.columns}]
    where = _columns_object(table, readable, pii, "Equality filters, AND-ed (null means IS NULL).")
    marked = [c for c in readable if f"{table.name}.{c}" in pii]
    pii_note = f" PII columns: {', '.join(marked)}." if marked else ""
    allowed = f" Allowed in steps: {', '.join(steps)}; every call is checked by the agent's policy bundle."
    if action == "read":
        if not readable:
            return None
        extra = {"columns": {"type": "array", "items": {"type": "string", "enum": sorted(readable)}, "minItems": 1,
                             "uniqueItems": True},
                 "where": where,
                 "order_by": {"type": "array", "items": {"type": "string", "enum": sorted(readable)},
                              "uniqueItems": True},
                 "limit": {"type": "integer", "minimum": 0, "maximum": MAX_LIMIT, "description": READ_LIMIT}}
        return ToolDef(f"read_{table.name}", "read", f"Read rows of {table.name} of the run's tenant "
                       f"(columns: {', '.join(sorted(readable))}).{pii_note}{allowed}",
                       _run_args(extra, ["columns"]), table.name, steps)
    if action == "insert":
        if not grant.insert:
            return None
        values = _columns_object(table, grant.insert, pii, "Column values of the new row (tenant_id is set "
                                 "by the server).", 1)
        return ToolDef(f"insert_{table.name}", "insert", f"Insert one row into {table.name} for the run's tenant."
                       f"{pii_note}{allowed}", _run_args({"values": values}, ["values"]), table.name, steps)
    if action == "update":
        if not grant.update:
            return None
        values = _columns_object(table, grant.update, pii, "Columns to set.", 1)
        return ToolDef(f"update_{table.name}", "update", f"Update rows of {table.name} of the run's tenant that "
                       f"match the filter.{pii_note}{allowed}",
                       _run_args({"set": values, "where": where, "limit": WRITE_LIMIT},
                                 ["set", "where"]), table.name, steps)
    if not grant.delete:
        return None
    return ToolDef(f"delete_{table.name}", "delete", f"Delete rows of {table.name} of the run's tenant that match "
                   f"the filter.{allowed}",
                   _run_args({"where": where, "limit": WRITE_LIMIT}, ["where"]),
                   table.name, steps)
