"""Tenant life events, derived from semantic spec changes (what ``audit --tenant`` tells)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from paybill.changes.model import SpecChange
from paybill.load import SpecDocument

_LIFECYCLE_EVENTS = {
    ("onboarding", "active"): "activated",
    ("suspended", "active"): "reactivated",
    ("offboarding", "active"): "won back",
}


@dataclass(frozen=True, slots=True)
class TenantEvent:
    tenant: str
    event: str
    detail: str

    def to_dict(self) -> dict[str, str]:
        return {"tenant": self.tenant, "event": self.event, "detail": self.detail}


def _get(data: dict[str, Any] | None, *path: str) -> Any:
    node: Any = data
    for part in path:
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def _isolation(data: dict[str, Any] | None) -> str:
    isolation = _get(data, "spec", "isolation")
    if not isinstance(isolation, dict):
        return "?"
    model = isolation.get("model", "?")
    if model == "bridge" and isinstance(isolation.get("layers"), dict):
        silo = [k for k, v in isolation["layers"].items() if v == "silo"]
        return f"bridge (silo: {', '.join(silo) or 'none'})"
    return str(model)


def _where(data: dict[str, Any] | None) -> str:
    placement = _get(data, "spec", "placement") or {}
    pool = f", pool {placement['pool']}" if isinstance(placement, dict) and placement.get("pool") else ""
    return f"{_get(data, 'spec', 'placement', 'cloud')}/{_get(data, 'spec', 'placement', 'region')}{pool}"


def tenant_events(change: SpecChange, base: SpecDocument | None, head: SpecDocument | None) -> list[TenantEvent]:
    name = change.name
    old = base.data if base is not None else None
    new = head.data if head is not None else None
    if change.op == "added":
        return [TenantEvent(name, "onboarded",
                            f"plan {_get(new, 'spec', 'plan')}, {_isolation(new)} on {_where(new)}, "
                            f"lifecycle {_get(new, 'spec', 'lifecycle')}, "
                            f"billing {_get(new, 'spec', 'billing', 'status')}")]
    if change.op == "removed":
        return [TenantEvent(name, "removed", f"spec file removed (lifecycle was {_get(old, 'spec', 'lifecycle')})")]
    if change.op == "moved":
        return [TenantEvent(name, "moved", f"spec moved from {change.base_file} to {change.file}")]
    events: list[TenantEvent] = []
    paths = {f.path for f in change.fields}
    rest = set(paths)
    if "spec.plan" in paths:
        events.append(TenantEvent(name, "plan changed",
                                  f"{_get(old, 'spec', 'plan')} -> {_get(new, 'spec', 'plan')}"))
        rest.discard("spec.plan")
    isolation = {p for p in paths if p.startswith("spec.isolation")}
    placement = {p for p in paths if p.startswith("spec.placement")}
    if isolation or placement:
        events.append(TenantEvent(name, "isolation moved",
                                  f"{_isolation(old)} on {_where(old)} -> {_isolation(new)} on {_where(new)}"))
        rest -= isolation | placement
    if "spec.lifecycle" in paths:
        before, after = _get(old, "spec", "lifecycle"), _get(new, "spec", "lifecycle")
        events.append(TenantEvent(name, _LIFECYCLE_EVENTS.get((before, after), str(after)),
                                  f"lifecycle {before} -> {after}"))
        rest.discard("spec.lifecycle")
    if "spec.billing.status" in paths:
        events.append(TenantEvent(name, "billing changed",
                                  f"{_get(old, 'spec', 'billing', 'status')} -> "
                                  f"{_get(new, 'spec', 'billing', 'status')}"))
        rest.discard("spec.billing.status")
    if rest:
        fields = [f for f in change.fields if f.path in rest]
        detail = "; ".join(f.describe() for f in fields[:4])
        if len(fields) > 4:
            detail += f" (+{len(fields) - 4} more)"
        events.append(TenantEvent(name, "updated", detail))
    return events

