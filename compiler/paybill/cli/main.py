"""Entry point: ``paybill``.

Anything a user can write must end in diagnostics and an exit code, never a traceback; an
unexpected exception is an internal error, reported in one line (set PAYBILL_DEBUG=1 for the trace).

This module imports no click: the command group lives in :mod:`paybill.cli.group`, imported once
:func:`paybill.cli.compile_fast.compile_without_click` has declined the command line (it finishes a
``paybill compile`` that needs no stage, ~25 ms of imports sooner). ``cli``, ``COMMANDS`` and
``LazyGroup`` are still importable from here.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from paybill.cli.group import COMMANDS, LazyGroup, cli

EXIT_INTERNAL = 70

__all__ = ["COMMANDS", "EXIT_INTERNAL", "LazyGroup", "cli", "main"]


def __getattr__(name: str) -> object:
    """``cli``, ``COMMANDS`` and ``LazyGroup``, from :mod:`paybill.cli.group` (imported on first use)."""
    if name in ("cli", "COMMANDS", "LazyGroup"):
        from paybill.cli import group

        return getattr(group, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    import paybill.gcpause

    paybill.gcpause.one_shot_process = True
    try:
        from paybill.cli.compile_fast import compile_without_click

        compile_without_click(sys.argv[1:])  # returns unless it did the whole command
        from paybill.cli.group import cli

        cli.main(prog_name="paybill", standalone_mode=True)
    except KeyboardInterrupt:
        _echo_error("interrupted")
        sys.exit(130)
    except Exception as exc:
        if os.environ.get("PAYBILL_DEBUG"):
            raise
        _echo_error(f"paybill: internal error: {type(exc).__name__}: {exc}")
        _echo_error("  please report this with the input that caused it (PAYBILL_DEBUG=1 shows the trace)")
        sys.exit(EXIT_INTERNAL)


def _echo_error(message: str) -> None:
    import click

    click.echo(message, err=True)
