"""Change control: may this agent propose these changes? One Cedar request per changed field.

Two gates, both must pass:

1. The agent's own spec (``spec.permissions.proposals`` on the *base* side: an agent cannot grant
   itself a right in the proposal that uses it) lists the kind and a field that covers the change.
   This fact reaches Cedar as ``context.grantedBySpec`` so the policies can build on it.
2. The organisation's Cedar policies in ``policies/`` allow the request; any forbid wins, and a
   policy that fails to evaluate denies (fail closed) rather than being skipped.

Before both, a Tenant change must be to a tenant the agent's ``spec.tenantScope`` (base side) reaches,
judged on the tenant as it was (as it would be, for a tenant the change adds): an agent scoped to some
tenants proposes for those only, as its bundle lets it act on those only (PB0979).

Each refusal is a diagnostic naming the rule that denied and where it is written.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from paybill.changes.model import FieldChange, SpecChange
from paybill.changes.policies import ChangeControl
from paybill.diagnostics import Diagnostic, Position
from paybill.load.document import SpecDocument
from paybill.models.agent import Agent
from paybill.models.tenant import BridgeIsolation
from paybill.validate.index import SpecIndex
from paybill.validate.scope import scope_selects

if TYPE_CHECKING:  # loaded by paybill.changes.policies when there is a policy to check (~0.05 s)
    import cedarpy

CODE_UNKNOWN_AGENT = "PB0972"
CODE_NOT_GRANTED = "PB0973"
CODE_DENIED = "PB0974"
CODE_EVAL_ERROR = "PB0977"
CODE_OUT_OF_SCOPE = "PB0979"
NS = "Paybill"
_BRACKETS = re.compile(r"\[[^\]]*\]")


@dataclass(frozen=True, slots=True)
class Decision:
    change: SpecChange
    field: str
    allowed: bool
    diagnostic: Diagnostic | None


def uid(kind: str, name: str) -> dict[str, str]:
    return {"type": f"{NS}::{kind}", "id": name}


def _ref(kind: str, name: str) -> dict[str, Any]:
    return {"__entity": uid(kind, name)}


def as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def field_key(path: str) -> str:
    """``spec.steps[id=x].next`` -> ``spec.steps.next``: the grammar agent grants are written in."""
    return _BRACKETS.sub("", path)


def granted(agent: Agent, kind: str, path: str) -> bool:
    key = field_key(path)
    for grant in agent.spec.permissions.proposals:
        if grant.kind != kind:
            continue
        if any(key == f or key.startswith(f + ".") for f in grant.fields):
            return True
    return False


def _entity(kind: str, doc: SpecDocument, index: SpecIndex) -> dict[str, Any]:
    model = doc.model
    attrs: dict[str, Any] = {}
    if kind == "Tenant":
        spec = model.spec
        isolation = spec.isolation.model if not isinstance(spec.isolation, BridgeIsolation) else "bridge"
        attrs = {"plan": _ref("Plan", spec.plan), "lifecycle": spec.lifecycle, "isolation": isolation,
                 "billingStatus": spec.billing.status, "cloud": spec.placement.cloud,
                 "region": spec.placement.region}
    elif kind == "Plan":
        attrs = {"tier": model.spec.tier, "priceAmount": model.spec.price.amount,
                 "currency": model.spec.price.currency, "interval": model.spec.price.interval}
    elif kind == "Agent":
        attrs = {"team": model.spec.owner.team, "ownerEmail": model.spec.owner.email}
    elif kind == "Pool":
        attrs = {"cloud": model.spec.cloud, "region": model.spec.region}
    elif kind == "Cloud":
        attrs = {"provider": model.spec.provider}
    return {"uid": uid(kind, doc.name), "attrs": attrs, "parents": [], "tags": dict(model.metadata.labels)}


def entities(agent_doc: SpecDocument, change: SpecChange, base: SpecIndex, head: SpecIndex) -> list[dict[str, Any]]:
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for index in (base, head):  # head wins: the resource as it would be
        for plan in index.of_kind("Plan"):
            found[("Plan", plan.name)] = _entity("Plan", plan, index)
    found[("Agent", agent_doc.name)] = _entity("Agent", agent_doc, base)
    resource = head.get(change.kind, change.name) or base.get(change.kind, change.name)
    if resource is not None:
        found[(change.kind, change.name)] = _entity(change.kind, resource, head)
    return [found[key] for key in sorted(found)]


def _context(change: SpecChange, field: FieldChange | None, allowed_by_spec: bool,
             base: SpecIndex, head: SpecIndex, extra: Mapping[str, str]) -> dict[str, Any]:
    if field is None:  # a whole spec added or removed
        context: dict[str, Any] = {"field": "*", "operation": change.op, "before": "", "after": ""}
    else:
        context = {"field": field.path, "operation": field.op, "before": as_text(field.before),
                   "after": as_text(field.after)}
        for side, value in (("before", field.before), ("after", field.after)):
            if isinstance(value, int) and not isinstance(value, bool):
                context[f"{side}Number"] = value
        if change.kind == "Tenant" and field.path == "spec.plan":
            if isinstance(field.before, str) and (base.get("Plan", field.before) or head.get("Plan", field.before)):
                context["fromPlan"] = _ref("Plan", field.before)
            if isinstance(field.after, str) and (head.get("Plan", field.after) or base.get("Plan", field.after)):
                context["toPlan"] = _ref("Plan", field.after)
    context["grantedBySpec"] = allowed_by_spec
    context.update(extra)
    return context


def _describe(change: SpecChange, field: FieldChange | None) -> str:
    if field is None:
        return f"{change.op} {change.ref}"
    return f"{change.ref} {field.describe()}"


def check_changes(agent: str, changes: list[SpecChange], base: SpecIndex, head: SpecIndex,
                  control: ChangeControl, *, where: str = "<proposal>",
                  context: Mapping[str, str] | None = None) -> list[Decision]:
    """A decision for every changed field (and every added or removed spec) of ``changes``.

    ``context`` adds facts about where the proposal comes from (``via: billing`` and ``review`` for
    proposals made from billing-system events), so policies can tell them from an agent's own."""
    agent_doc = base.get("Agent", agent)
    if agent_doc is None:
        known = ", ".join(base.names("Agent")) or "none"
        diagnostic = Diagnostic(CODE_UNKNOWN_AGENT, f"unknown agent '{agent}' on the base side", where, Position(),
                                f"known agents: {known}")
        return [Decision(c, "*", False, diagnostic) for c in changes[:1]] or [
            Decision(SpecChange("Agent", agent, "added", where), "*", False, diagnostic)]
    decisions: list[Decision] = []
    for change in changes:
        if change.op == "moved":
            continue
        outside = _outside_scope(agent, agent_doc, change, base, head)
        if outside is not None:
            decisions.append(outside)
            continue
        fields: list[FieldChange | None] = list(change.fields) if change.op == "modified" else [None]
        for field in fields:
            path = field.path if field is not None else "*"
            by_spec = field is not None and granted(agent_doc.model, change.kind, path)
            request = {
                "principal": f'{NS}::Agent::"{agent}"',
                "action": f'{NS}::Action::"propose"',
                "resource": f'{NS}::{change.kind}::"{change.name}"',
                "context": _context(change, field, by_spec, base, head, context or {}),
            }
            result = control.is_authorized(request, entities(agent_doc, change, base, head))
            decisions.append(_decide(agent, agent_doc, change, field, path, by_spec, result, control))
    return decisions


_OPS = {"added": "adding", "removed": "removing", "modified": "changes to"}


def _outside_scope(agent: str, agent_doc: SpecDocument, change: SpecChange, base: SpecIndex,
                   head: SpecIndex) -> Decision | None:
    """A refusal when ``change`` is to a tenant outside the agent's tenant scope, else None."""
    if change.kind != "Tenant":
        return None
    tenant = base.get("Tenant", change.name) or head.get("Tenant", change.name)
    scope = agent_doc.model.spec.tenant_scope
    if tenant is None or scope_selects(scope, tenant.model):
        return None
    return Decision(change, "*", False, Diagnostic(
        CODE_OUT_OF_SCOPE, f"agent '{agent}' may not propose {_OPS.get(change.op, 'changes to')} {change.ref}: "
        f"tenant '{change.name}' is "
        "outside its tenantScope", agent_doc.path, agent_doc.position("spec", "tenantScope"),
        "a person makes this change, or the agent's scope is widened first in its own reviewed pull request"))


def _decide(agent: str, agent_doc: SpecDocument, change: SpecChange, field: FieldChange | None, path: str,
            by_spec: bool, result: cedarpy.AuthzResult, control: ChangeControl) -> Decision:
    what = _describe(change, field)
    file = field.file if field is not None else change.file
    position = field.position if field is not None else change.position
    errors = [str(e) for e in result.diagnostics.errors]
    if errors:
        # Cedar names policies by position (policy7); point at the rule's @id and line, like a denial.
        broken = control.rule_named_in(errors[0])
        where = f"the rule is at {broken.file}:{broken.position.line}; " if broken else ""
        return Decision(change, path, False, Diagnostic(
            CODE_EVAL_ERROR, f"change control could not evaluate {what} for agent '{agent}': "
            f"{control.with_rule_ids(errors[0])}",
            broken.file if broken else file, broken.position if broken else position,
            f"{where}a rule that cannot be evaluated denies (fail closed); fix the policy or the entities"))
    if result.allowed:
        return Decision(change, path, True, None)
    forbids = [control.rule(r) for r in result.diagnostics.reasons]
    forbids = [r for r in forbids if r is not None]
    if forbids:
        rule = forbids[0]
        names = ", ".join(f"'{r.id}'" for r in forbids)
        return Decision(change, path, False, Diagnostic(
            CODE_DENIED, f"change-control rule {names} denies agent '{agent}' proposing {what}",
            rule.file, rule.position, f"the rule is at {rule.file}:{rule.position.line}; a person must make "
            "this change, or the organisation must change the rule"))
    if not by_spec:
        kinds = sorted({f"{g.kind}:{f}" for g in agent_doc.model.spec.permissions.proposals for f in g.fields})
        return Decision(change, path, False, Diagnostic(
            CODE_NOT_GRANTED, f"agent '{agent}' may not propose {what}: its spec does not grant "
            f"{change.kind} field '{field_key(path)}'", agent_doc.path,
            agent_doc.position("spec", "permissions", "proposals"),
            f"it may propose: {', '.join(kinds) or 'nothing'} (spec.permissions.proposals)"))
    return Decision(change, path, False, Diagnostic(
        CODE_DENIED, f"no change-control rule permits agent '{agent}' proposing {what} (denied by default)",
        file, position, "add a permit rule to policies/ if agents should be able to make this change"))
