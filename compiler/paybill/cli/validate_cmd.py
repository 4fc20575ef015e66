"""``paybill validate``: check specs and report every problem with its position."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from paybill.cli.common import (
    EXIT_DIAGNOSTICS,
    EXIT_OK,
    format_option,
    print_diagnostics,
    require_specs,
    specs_argument,
)
from paybill.gcpause import pause_for_this_process
from paybill.validate import validate_repository


@click.command("validate")
@specs_argument
@format_option
def validate_command(specs: Path, fmt: str) -> None:
    """Validate the spec repository SPECS (default: ./specs).

    Reports every problem at once as path:line:col: error[CODE]: message. Exit status: 0 clean,
    1 diagnostics, 2 usage error.
    """
    require_specs(specs)
    pause_for_this_process()
    result = validate_repository(specs)
    print_diagnostics(fmt, result.diagnostics, result.files)
    sys.exit(EXIT_OK if result.ok else EXIT_DIAGNOSTICS)
