"""Render one list of diagnostics in every output format: text, json, github."""

from __future__ import annotations

import json
from collections.abc import Sequence

from paybill.diagnostics.model import Diagnostic, Severity

FORMATS = ("text", "json", "github")


def more_line(omitted: int) -> str:
    """The line after capped diagnostics (a line file's first ones only, as
    :mod:`paybill.contract.line_problems` keeps them, which this package may not import)."""
    return f"... and {omitted} more error{'s' if omitted != 1 else ''} not listed"


def summary_line(diagnostics: Sequence[Diagnostic], files_checked: int, noun: str = "file", omitted: int = 0) -> str:
    """``ok: N files checked, no problems`` or ``E errors, W warnings in N files checked``; ``noun`` names
    what was checked when it is not spec files (``paybill billing`` checks events). ``omitted`` errors
    were left out of the list (a line file's problems are capped) but are counted."""
    errors = sum(1 for d in diagnostics if d.severity is Severity.ERROR) + omitted
    warnings = len(diagnostics) + omitted - errors
    counted = f"{files_checked} {noun}{'s' if files_checked != 1 else ''}"
    if not diagnostics and not omitted:
        return f"ok: {counted} checked, no problems"
    parts = [f"{errors} error{'s' if errors != 1 else ''}"]
    if warnings:
        parts.append(f"{warnings} warning{'s' if warnings != 1 else ''}")
    return f"{', '.join(parts)} in {counted} checked"


def render_text(diagnostics: Sequence[Diagnostic], files_checked: int, noun: str = "file", omitted: int = 0) -> str:
    lines: list[str] = []
    for d in diagnostics:
        lines.append(
            f"{d.path}:{d.position.line}:{d.position.col}: {d.severity.value}[{d.code}]: {d.message}"
        )
        if d.hint:
            lines.append(f"  hint: {d.hint}")
    if omitted:
        lines.append(more_line(omitted))
    lines.append(summary_line(diagnostics, files_checked, noun, omitted))
    return "\n".join(lines) + "\n"


def render_json(diagnostics: Sequence[Diagnostic], files_checked: int, noun: str = "file", omitted: int = 0) -> str:
    """A list of diagnostic objects: with ``omitted``, only the first ones (the text summary counts all)."""
    return json.dumps([d.to_dict() for d in diagnostics], indent=2, ensure_ascii=False) + "\n"


def _escape_github_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_github_property(text: str) -> str:
    return _escape_github_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(diagnostics: Sequence[Diagnostic], files_checked: int, noun: str = "file", omitted: int = 0) -> str:
    """GitHub Actions workflow commands, so problems show as annotations on the pull request diff."""
    lines = []
    for d in diagnostics:
        message = f"[{d.code}] {d.message}" + (f" (hint: {d.hint})" if d.hint else "")
        props = (
            f"file={_escape_github_property(d.path)},line={d.position.line},col={d.position.col},"
            f"title={_escape_github_property('paybill ' + d.code)}"
        )
        lines.append(f"::{d.severity.value} {props}::{_escape_github_data(message)}")
    if omitted:
        lines.append(more_line(omitted))
    lines.append(summary_line(diagnostics, files_checked, noun, omitted))
    return "\n".join(lines) + "\n"


def render(fmt: str, diagnostics: Sequence[Diagnostic], files_checked: int, noun: str = "file",
           omitted: int = 0) -> str:
    renderers = {"text": render_text, "json": render_json, "github": render_github}
    return renderers[fmt](diagnostics, files_checked, noun, omitted)
