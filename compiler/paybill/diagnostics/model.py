"""The diagnostic record and the sink that collects them."""

from __future__ import annotations

import dataclasses
import enum
import re
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


# Characters that must not reach a terminal or a log verbatim from user input: C0/C1 controls (a
# newline would forge a second diagnostic line, ESC would inject terminal escapes), Unicode line
# separators, and bidirectional overrides ("Trojan Source").
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return _ESCAPES.get(char) or (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")


def one_line(text: str) -> str:
    """``text`` with unsafe characters escaped, so every diagnostic stays one line of plain text."""
    return _UNSAFE.sub(_escape, text) if _UNSAFE.search(text) else text


class DiagnosticSink:
    """Collects diagnostics from every stage; de-duplicates identical reports.

    Messages, hints and paths often carry user input (an unknown key, an invalid value, a file name);
    they are made safe here, once for every stage and output format, by :func:`one_line`.
    """

    def __init__(self) -> None:
        self._items: list[Diagnostic] = []
        self._seen: set[tuple[object, ...]] = set()

    def add(self, diagnostic: Diagnostic) -> None:
        path, message = one_line(diagnostic.path), one_line(diagnostic.message)
        hint = one_line(diagnostic.hint) if diagnostic.hint else diagnostic.hint
        if (path, message, hint) != (diagnostic.path, diagnostic.message, diagnostic.hint):
            diagnostic = dataclasses.replace(diagnostic, path=path, message=message, hint=hint)
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

    def items(self) -> list[Diagnostic]:
        """Every diagnostic in the order reported (to hand them to another sink)."""
        return list(self._items)

    def __len__(self) -> int:
        return len(self._items)
