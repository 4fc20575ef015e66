"""Summarise a shadow log: what a candidate bundle would change if it enforced.

``paybill guard shadow-report LOG`` reads the JSON Lines that :class:`~paybill.guard.shadow.ShadowGuard`
writes and counts the disagreements by kind (``would-allow``: the candidate widens access;
``would-deny``: it would break a workflow that works today; candidate errors and refusals), by the
policies that decided in the candidate (or the violation when no policy fired), by tool (the action
and the table, step or spec kind) and keeps the first examples of each kind. The summary depends only
on the log's content, in its order, so the same log always gives the same report.

A line that is not a shadow record is a problem with its line number (the report goes on with the
other lines), so a damaged log is visible instead of silently undercounted.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from paybill.contract.line_problems import keep
from paybill.guard.files import FileRefused, bounded_lines, open_regular_binary
from paybill.guard.log import MAX_LINE_BYTES
from paybill.guard.shadow import KINDS, SHADOW_FORMAT, WOULD_ALLOW, WOULD_DENY

EXAMPLES = 3
"""Examples kept per kind (the first ones in the log)."""


@dataclass
class ShadowReport:
    lines: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    policies: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(kind, candidate policy id or ``(violation)``) -> disagreements."""
    tools: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(kind, ``<action> <resource>``) -> disagreements."""
    revisions: set[tuple[str, str]] = field(default_factory=set)
    """(current, candidate) revision pairs seen."""
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    problems: list[tuple[int, str]] = field(default_factory=list)
    """(line number, message); line 0 is the file itself. The first
    :data:`paybill.contract.line_problems.MAX_LINE_PROBLEMS` only: ``problems_omitted`` counts the rest."""
    problems_omitted: int = 0

    def note(self, line: int, message: str) -> None:
        """One line's problem: kept while under the cap, else counted (another tool's log is all problems)."""
        if not keep(self.problems, (line, message)):
            self.problems_omitted += 1

    @property
    def disagreements(self) -> int:
        return self.kinds[WOULD_ALLOW] + self.kinds[WOULD_DENY]

    def to_dict(self) -> dict[str, Any]:
        return {
            "lines": self.lines,
            "disagreements": self.disagreements,
            "kinds": {kind: self.kinds[kind] for kind in KINDS},
            "byPolicy": [{"kind": k, "policy": p, "count": n} for (k, p), n in _ranked(self.policies)],
            "byTool": [{"kind": k, "tool": t, "count": n} for (k, t), n in _ranked(self.tools)],
            "revisions": [{"current": c, "candidate": d} for c, d in sorted(self.revisions)],
            "examples": {kind: self.examples.get(kind, []) for kind in KINDS},
            "problems": [{"line": line, "message": message} for line, message in self.problems],
            "problemsOmitted": self.problems_omitted,
        }


def _ranked(counter: Counter[tuple[str, str]]) -> list[tuple[tuple[str, str], int]]:
    return sorted(counter.items(), key=lambda item: (-item[1], item[0]))


def _mapping(record: dict[str, Any], key: str) -> dict[str, Any]:
    """``record[key]`` when it is an object, else empty (a log line written by hand may lack it)."""
    value = record.get(key)
    return value if isinstance(value, dict) else {}


def _tool(record: dict[str, Any]) -> str:
    request = _mapping(record, "request")
    if record.get("op") == "advance":
        return f"advance {request.get('step', '?')}"
    if record.get("op") == "approve":
        return f"approve {request.get('step', '?')}"
    return f"{request.get('action', record.get('op', '?'))} {request.get('resource', '?')}"


def _policies(record: dict[str, Any]) -> list[str]:
    candidate = _mapping(record, "candidate")
    reasons = [r for r in candidate.get("reasons") or [] if isinstance(r, str)]
    if reasons:
        return reasons
    violations = [f"({v})" for v in candidate.get("violations") or [] if isinstance(v, str)]
    return violations or ["(no policy)"]


def _example(record: dict[str, Any]) -> dict[str, Any]:
    keep = ("run", "tenant", "workflow", "step", "op", "request", "current", "candidate", "error", "reason")
    return {k: record[k] for k in keep if k in record}


def _add(report: ShadowReport, record: dict[str, Any]) -> None:
    kind = record["kind"]
    report.kinds[kind] += 1
    current = _mapping(record, "current")
    candidate = _mapping(record, "candidate")
    if current.get("revision") or candidate.get("revision"):
        report.revisions.add((str(current.get("revision", "")), str(candidate.get("revision", ""))))
    if kind in (WOULD_ALLOW, WOULD_DENY):
        for policy in _policies(record):
            report.policies[(kind, policy)] += 1
        report.tools[(kind, _tool(record))] += 1
    examples = report.examples.setdefault(kind, [])
    if len(examples) < EXAMPLES:
        examples.append(_example(record))


def summarise(path: str | Path) -> ShadowReport:
    """Read the whole log (a regular file, lines up to 4 MiB) and summarise it."""
    report = ShadowReport()
    try:
        handle = open_regular_binary(path)
    except (FileRefused, OSError) as exc:
        report.problems.append((0, f"cannot read the shadow log: {getattr(exc, 'strerror', None) or exc}"))
        return report
    with handle:
        for number, raw in enumerate(bounded_lines(handle, MAX_LINE_BYTES), start=1):
            if raw is None:
                report.note(number, f"line longer than {MAX_LINE_BYTES} bytes")
                continue
            if not raw.strip():
                continue
            report.lines += 1
            try:
                record = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                report.note(number, f"not JSON ({exc})")
                continue
            if not isinstance(record, dict) or record.get("format") != SHADOW_FORMAT:
                report.note(number, f"not a shadow record (expected \"format\": \"{SHADOW_FORMAT}\")")
                continue
            if record.get("kind") not in KINDS:
                report.note(number, f"unknown kind {record.get('kind')!r} (kinds: {', '.join(KINDS)})")
                continue
            _add(report, record)
    return report


def render_text(report: ShadowReport, path: str) -> str:
    """The report for people: counts first, then where they come from, then examples."""
    out = [f"shadow log {path}: {report.lines} lines, {report.disagreements} disagreements"]
    for current, candidate in sorted(report.revisions):
        out.append(f"  current revision {current[:12] or '?'} vs candidate {candidate[:12] or '(none)'}")
    out.append("by kind:")
    out.extend(f"  {kind:<18} {report.kinds[kind]}" for kind in KINDS)
    if report.policies:
        out.append("by candidate policy:")
        out.extend(f"  {kind:<12} {n:>6}  {policy}" for (kind, policy), n in _ranked(report.policies))
    if report.tools:
        out.append("by tool:")
        out.extend(f"  {kind:<12} {n:>6}  {tool}" for (kind, tool), n in _ranked(report.tools))
    for kind in KINDS:
        for example in report.examples.get(kind, []):
            out.append(f"example {kind}: " + orjson.dumps(example, option=orjson.OPT_SORT_KEYS).decode())
    return "\n".join(out) + "\n"
