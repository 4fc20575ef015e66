"""The diagnostic record and the sink that collects them."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Severity(enum.StrEnum):
    """How bad a diagnostic is; only errors make a command fail."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True, order=True)
class Position:
    """A 1-based line and column in a spec file (what editors and GitHub annotations expect)."""

    line: int = 1
    col: int = 1


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem at one place. ``path`` is relative to the specs root's parent, with ``/`` separators."""

    code: str
    message: str
    path: str
    position: Position = field(default_factory=Position)
    hint: str | None = None
    severity: Severity = Severity.ERROR

    @property
    def sort_key(self) -> tuple[str, int, int, str, str]:
        """Diagnostics sort by file and position, then code and message, for stable output."""
        return (self.path, self.position.line, self.position.col, self.code, self.message)

    def to_dict(self) -> dict[str, object]:
        """The JSON shape of a diagnostic (``--format json``)."""
        return {
            "path": self.path,
            "line": self.position.line,
            "col": self.position.col,
            "severity": self.severity.value,
            "code": self.code,
            "message": self.message,
            "hint": self.hint,
        }


class DiagnosticSink:
    """Collects diagnostics from every stage; de-duplicates identical reports."""

    def __init__(self) -> None:
        self._items: list[Diagnostic] = []
        self._seen: set[tuple[object, ...]] = set()

    def add(self, diagnostic: Diagnostic) -> None:
        key = (*diagnostic.sort_key, diagnostic.hint)
        if key not in self._seen:
            self._seen.add(key)
            self._items.append(diagnostic)

    def error(
        self, code: str, message: str, path: str, position: Position | None = None, hint: str | None = None
    ) -> None:
        self.add(Diagnostic(code, message, path, position or Position(), hint))

    def warning(
        self, code: str, message: str, path: str, position: Position | None = None, hint: str | None = None
    ) -> None:
        self.add(Diagnostic(code, message, path, position or Position(), hint, Severity.WARNING))

    def extend(self, diagnostics: list[Diagnostic]) -> None:
        for diagnostic in diagnostics:
            self.add(diagnostic)

    @property
    def has_errors(self) -> bool:
        return any(d.severity is Severity.ERROR for d in self._items)

    def sorted(self) -> list[Diagnostic]:
        return sorted(self._items, key=lambda d: d.sort_key)

    def __len__(self) -> int:
        return len(self._items)
