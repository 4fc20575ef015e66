"""The one error type of database operations: a PB11xx diagnostic plus the exit status it means.

Exit statuses (docs/errors.md, "PB11xx"): 0 done (or nothing to do), 1 refused, drift, or a migration
that failed and was rolled back, 2 usage, 3 the database cannot be reached (server, credentials,
database name), 4 a lock was not obtained within ``lock_timeout`` (someone else is migrating: retry).
"""

from __future__ import annotations

from dataclasses import dataclass

from paybill.diagnostics import Diagnostic, Position

EXIT_OK, EXIT_REFUSED, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_LOCKED = 0, 1, 2, 3, 4


@dataclass(frozen=True)
class Problem:
    """One reason an operation cannot proceed (several may be reported in one run)."""

    code: str
    message: str
    path: str
    hint: str | None = None

    def diagnostic(self) -> Diagnostic:
        return Diagnostic(self.code, self.message, self.path, Position(), self.hint)


class DbOpsError(Exception):
    """An operation refused or failed; nothing was changed (every write is one transaction)."""

    def __init__(self, problems: list[Problem], exit_code: int = EXIT_REFUSED) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems
        self.exit_code = exit_code


def fail(code: str, message: str, path: str, hint: str | None = None, exit_code: int = EXIT_REFUSED) -> DbOpsError:
    return DbOpsError([Problem(code, message, path, hint)], exit_code)
