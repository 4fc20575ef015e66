"""Golden decisions (``tests.json``): run them through Cedar and list the ones that do not hold.

The compiler runs them before it writes a bundle and the guard again when it loads one, so a
bundle whose policies, entities or Cedar engine no longer decide as the spec says is refused.
Each test is a complete Cedar request plus the run entity it needs, so any Cedar engine (or a
managed service) can replay the file; requests are validated against the schema (``strict``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from paybill.guard.engine import Engine


@dataclass(frozen=True)
class GoldenFailure:
    name: str
    expected: dict[str, Any]
    actual: dict[str, Any]

    def describe(self) -> str:
        return (f"golden decision '{self.name}': expected {_show(self.expected)}, Cedar decided {_show(self.actual)}")


def _show(outcome: dict[str, Any]) -> str:
    verdict = "allow" if outcome.get("allowed") else "deny"
    reasons = outcome.get("reasons") or []
    return f"{verdict} ({', '.join(reasons)})" if reasons else verdict


def run_goldens(engine: Engine, tests: list[dict[str, Any]]) -> list[GoldenFailure]:
    """Evaluate every test in one batch; a malformed test is itself a failure."""
    if not tests:
        return []
    try:
        runs = [entity for test in tests for entity in test["entities"]]
        entities = engine.with_entities(runs)
        verdicts = engine.authorize([test["request"] for test in tests], entities, strict=True)
    except (KeyError, TypeError, ValueError) as exc:
        return [GoldenFailure("<tests.json>", {"allowed": None}, {"error": str(exc)})]
    failures = []
    for test, verdict in zip(tests, verdicts, strict=True):  # pragma: no mutate (equal lengths)
        expected = test.get("expect")
        actual = {"allowed": verdict.allowed, "reasons": list(verdict.reasons)}
        reasons = expected.get("reasons", []) if isinstance(expected, dict) else None
        if (not isinstance(expected, dict) or not isinstance(reasons, list)
                or not all(isinstance(r, str) for r in reasons)):
            failures.append(GoldenFailure(f"{test.get('name')} (malformed 'expect')", {"allowed": None}, actual))
        elif expected.get("allowed") is not verdict.allowed or sorted(reasons) != actual["reasons"]:
            failures.append(GoldenFailure(str(test.get("name")), expected, actual))
    return failures
