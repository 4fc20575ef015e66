"""Starting a shadow guard for ``--shadow`` (``paybill serve`` and ``paybill authzen``): one way, one wording."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

Problem = tuple[str, str, str, str]
"""(path, code, message, hint) of what keeps the command from starting."""


def start_shadow(command: str, guard: Any, candidate: Path, log: Path, public_key: tuple[Path, ...],
                 alone: str) -> tuple[Any, Problem | None]:
    """The ShadowGuard shadowing ``guard`` with ``candidate``, or the problem that keeps ``command`` from starting.

    Only a log that cannot be opened stops the start (PB1309: a shadow that cannot report is no
    rollout aid). A refused candidate (another agent, a hash, a signature) leaves ``guard`` deciding
    alone and says so on standard error (``alone``: what it does then): its only other trace is the
    log's ``candidate-refused`` line, so a mistyped path would read as "no disagreements".
    """
    from paybill.guard import LogError
    from paybill.guard.shadow import ShadowGuard, ShadowLog

    try:
        shadow_log = ShadowLog(log)
    except LogError as exc:
        return None, (log.as_posix(), "PB1309", str(exc),
                      "pass a --shadow-log path in a writable directory (a regular file; it is appended to)")
    shadow = ShadowGuard.load(guard, candidate, list(public_key) or None, log=shadow_log)
    if shadow.candidate is None:
        click.echo(f"{command}: warning: shadow off: the candidate bundle {candidate.as_posix()} was refused "
                   f"(see {log.as_posix()}); the current bundle {alone}", err=True)
    else:
        click.echo(f"{command}: shadowing revision {guard.revision[:12]} with candidate "
                   f"{shadow.candidate.revision[:12]}; disagreements go to {log.as_posix()}", err=True)
    return shadow, None
