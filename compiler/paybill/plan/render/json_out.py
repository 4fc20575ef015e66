"""Machine-readable plan: one JSON document, keys in a fixed order, no timestamps."""

from __future__ import annotations

import json
from typing import Any

from paybill.changes.model import PlanReport
from paybill.plan.render.common import resource_totals

FORMAT_VERSION = 1


def report_dict(report: PlanReport) -> dict[str, Any]:
    stacks = None
    if report.stacks is not None:
        stacks = [{
            "address": s.address, "op": s.op, "tenant": s.tenant, "pool": s.pool, "reach": list(s.reach),
            "stateMove": {"from": s.state_move[0], "to": s.state_move[1]} if s.state_move else None,
            "resources": [{"address": r.address, "type": r.type, "action": r.action,
                           "arguments": list(r.arguments), "forcesReplacement": list(r.forces_replacement),
                           "dataStore": r.data_store} for r in s.resources],
        } for s in report.stacks]
    return {
        "formatVersion": FORMAT_VERSION,
        "base": {"label": report.base_label, "commit": report.base_commit},
        "head": {"label": report.head_label, "commit": report.head_commit},
        "ok": not report.has_errors,
        "diagnostics": [d.to_dict() for d in report.diagnostics],
        "changes": [c.to_dict() for c in report.changes],
        "findings": [f.to_dict() for f in report.findings_sorted()],
        "revenue": {
            "totals": [{"currency": t.currency, "before": t.before, "after": t.after, "delta": t.delta}
                       for t in report.revenue.totals],
            "tenants": [{"tenant": t.tenant, "currency": t.currency, "before": t.before, "after": t.after,
                         "reason": t.reason} for t in report.revenue.tenants],
        },
        "databases": None if report.databases is None else [db.to_dict() for db in report.databases],
        "terraform": {"note": report.terraform_note, "base": report.terraform_base, "stacks": stacks,
                      "totals": dict(sorted(resource_totals(report.stacks or []).items()))},
        "impact": {"changed": list(report.impact.changed), "affected": list(report.impact.affected),
                   "edges": [[e.source, e.target] for e in report.impact.edges]},
    }


def render_json(report: PlanReport) -> str:
    return json.dumps(report_dict(report), indent=2, ensure_ascii=False, default=str) + "\n"
