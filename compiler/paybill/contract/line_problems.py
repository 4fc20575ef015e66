"""At most :data:`MAX_LINE_PROBLEMS` problems kept per line file, and a count of the rest.

``paybill billing sync`` (Stripe event exports), ``paybill guard verify-log`` (decision logs),
``guard replay`` (traces) and ``guard shadow-report`` (shadow logs) read files of one record per line
and report what is wrong line by line. Given the wrong file (a 1 GB binary, another tool's log) every
line is wrong: one message each flooded the terminal for minutes and kept every message in memory.
A compiler stops listing after a few (clang's ``-ferror-limit`` is 20): the first ones say what is
wrong with the file, the count says how much. Exit codes do not change: one problem fails the command
as a million do.
"""

from __future__ import annotations

from typing import TypeVar

MAX_LINE_PROBLEMS = 20
"""Problems kept (and shown) per file; later ones are only counted."""

T = TypeVar("T")


def keep(problems: list[T], problem: T, limit: int = MAX_LINE_PROBLEMS) -> bool:
    """Append ``problem`` while fewer than ``limit`` are kept; False when it is only to be counted."""
    if len(problems) >= limit:
        return False
    problems.append(problem)
    return True


def more_line(omitted: int, noun: str = "problem") -> str:
    """``... and 12345 more problems not listed``; empty when none were left out.

    :func:`paybill.diagnostics.render.render_text` writes the same line (that package may not import this one).
    """
    if omitted <= 0:
        return ""
    return f"... and {omitted} more {noun}{'s' if omitted != 1 else ''} not listed"
