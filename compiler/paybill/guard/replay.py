"""Replay a recorded agent trace against a bundle and report every decision that changed.

A trace is JSON Lines in the decision-log format (a decision log *is* a trace): each line has
``op`` (``start``, ``check``, ``advance``, ``approve``), ``run``, ``input``, optionally ``t`` (the
guard clock when it was recorded, so rate and wall-time limits replay exactly) and, except for
``start``, the recorded ``decision`` (``allowed``, ``violations``, ``reasons``). Extra fields
(``seq``, ``prev``, ``revision``...) are ignored, so production logs replay unchanged.

A decision "differs" when ``allowed`` or the violations differ; ``strict`` also compares reasons
(policy ids), which change when specs move between files. Teams record traces of what their agents
should and should not be allowed to do and replay them in CI against every new bundle.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from paybill.contract.line_problems import keep
from paybill.guard.clock import ManualClock
from paybill.guard.decision import Decision
from paybill.guard.guard import Guard, GuardUsageError
from paybill.guard.log import MAX_LINE_BYTES
from paybill.guard.run import Run


class TraceError(ValueError):
    """A trace line cannot be replayed (not JSON, unknown op, unknown run...). ``line`` is 1-based."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


@dataclass(frozen=True)
class Difference:
    line: int
    op: str
    input: dict[str, Any]
    recorded: dict[str, Any]
    replayed: dict[str, Any]

    def describe(self) -> str:
        def show(d: dict[str, Any]) -> str:
            verdict = "allow" if d.get("allowed") else "deny"
            why = ", ".join(d.get("violations") or [])
            return f"{verdict}{f' ({why})' if why else ''}"

        i = self.input
        if self.op == "check":
            columns = f" [{', '.join(map(str, i.get('columns') or []))}]" if i.get("columns") else ""
            what = f"{i.get('action')} {i.get('resource')}{columns} rows={i.get('rows', 0)} tenant={i.get('tenant')}"
        else:
            what = " ".join(f"{k}={v}" for k, v in sorted(i.items()))
        return f"{self.op} {what}: recorded {show(self.recorded)}, now {show(self.replayed)}"


@dataclass
class ReplayResult:
    decisions: int = 0
    differences: list[Difference] = field(default_factory=list)
    """The first differences (:data:`paybill.contract.line_problems.MAX_LINE_PROBLEMS`); a trace replayed
    against the wrong revision can differ on every line, so the rest are only counted in ``omitted``."""
    omitted: int = 0

    @property
    def ok(self) -> bool:
        return not self.differences


def _differs(recorded: dict[str, Any], replayed: Decision, strict: bool) -> bool:
    if recorded.get("allowed") is not replayed.allowed:
        return True
    if sorted(recorded.get("violations") or []) != sorted(replayed.violations):
        return True
    return strict and sorted(recorded.get("reasons") or []) != sorted(replayed.reasons)


def _event(number: int, raw: bytes | None) -> dict[str, Any] | None:
    if raw is None:
        raise TraceError(number, f"line longer than {MAX_LINE_BYTES} bytes")
    if not raw.strip():
        return None
    try:
        event = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise TraceError(number, f"not JSON ({exc})") from None
    if not isinstance(event, dict) or not isinstance(event.get("input"), dict):
        raise TraceError(number, "a trace line is an object with 'op', 'run' and 'input'")
    return event


def _apply(guard: Guard, runs: dict[str, Run], number: int, event: dict[str, Any]) -> Decision | None:
    op, run_id, data = event.get("op"), event.get("run"), event["input"]
    if op == "start":
        try:
            runs[str(run_id)] = guard.start(tenant=data.get("tenant"), workflow=data.get("workflow"),
                                            run_id=str(run_id))
        except GuardUsageError as exc:
            raise TraceError(number, str(exc)) from None
        return None
    run = runs.get(str(run_id))
    if run is None:
        raise TraceError(number, f"run {run_id!r} was not started earlier in the trace")
    if op == "check":
        return run.check(data.get("action"), data.get("resource"), columns=data.get("columns") or (),
                         rows=data.get("rows", 0), tenant=data.get("tenant"))
    if op == "advance":
        return run.advance(data.get("step"))
    if op == "approve":
        return run.approve(data.get("step"), by=data.get("by"))
    raise TraceError(number, f"unknown op {op!r} (start, check, advance, approve)")


def replay(guard: Guard, lines: Iterable[bytes | None], *, clock: ManualClock, strict: bool = False) -> ReplayResult:
    """Replay ``lines`` through ``guard``, whose clock must be ``clock`` (set from each line's ``t``).

    A None line stands for one too long to read (see :func:`paybill.guard.files.bounded_lines`).
    """
    result = ReplayResult()
    runs: dict[str, Run] = {}
    for number, raw in enumerate(lines, start=1):
        event = _event(number, raw)
        if event is None:
            continue
        agent = event.get("agent")
        if agent is not None and agent != guard.agent:
            # A decision log names its agent on every line: replayed against another agent's bundle it
            # would report every difference between two agents as a regression (or fail on a workflow
            # the other agent does not run), never what the trace was recorded to check.
            raise TraceError(number, f"the trace records agent {agent!r}, the bundle is agent {guard.agent!r}: "
                                     f"replay it against {agent}'s bundle (generated/bundles/{agent})")
        if isinstance(event.get("t"), int | float):
            clock.set(float(event["t"]))
        decision = _apply(guard, runs, number, event)
        if decision is None:
            continue
        result.decisions += 1
        recorded = event.get("decision")
        if not isinstance(recorded, dict) or not isinstance(recorded.get("allowed"), bool):
            raise TraceError(number, "a recorded 'decision' with a boolean 'allowed' is required")
        if not _differs(recorded, decision, strict):
            continue
        difference = Difference(number, str(event.get("op")), event["input"], recorded, decision.to_dict())
        if not keep(result.differences, difference):
            result.omitted += 1
    return result
