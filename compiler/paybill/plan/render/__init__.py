"""Renderers of a :class:`~paybill.changes.model.PlanReport`: text for terminals, markdown for pull
requests, json for tools. All three print the same facts in the same deterministic order."""

from __future__ import annotations

from paybill.changes.model import PlanReport
from paybill.plan.render.json_out import render_json
from paybill.plan.render.markdown import render_markdown
from paybill.plan.render.text import render_text

FORMATS = ("text", "markdown", "json")


def render(report: PlanReport, fmt: str, *, color: bool = False) -> str:
    if fmt == "markdown":
        return render_markdown(report)
    if fmt == "json":
        return render_json(report)
    return render_text(report, color=color)


__all__ = ["FORMATS", "render", "render_json", "render_markdown", "render_text"]
