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
from paybill.diagnostics import DiagnosticSink
from paybill.gcpause import gc_paused, pause_for_this_process
from paybill.propose.references import check_policies_folder
from paybill.resolve import resolve_index
from paybill.validate import validate_repository


@click.command("validate")
@specs_argument
@format_option
def validate_command(specs: Path, fmt: str) -> None:
    """Validate the spec repository SPECS (default: ./specs).

    Reports every problem at once as path:line:col: error[CODE]: message. Exit status: 0 clean,
    1 diagnostics, 2 usage error. Specs that validate are resolved too (networks allocated, stack
    layout, cloud names and quota usage derived), so the resolve rules (PB0601-PB0603, PB0681, PB0682)
    report here as in ``paybill compile``.
    """
    require_specs(specs)
    pause_for_this_process()
    result = validate_repository(specs)
    if result.ok:  # compile resolves only an index without errors; so does validate, for the same output
        sink = DiagnosticSink()
        sink.extend(result.diagnostics)
        with gc_paused():
            resolve_index(result.index, sink)
        result.diagnostics = sink.sorted()
    # Change-control rules naming specs that do not exist (PB0982 warnings), seen in the PR check.
    policies = check_policies_folder(specs, result.index)
    diagnostics = sorted([*result.diagnostics, *policies], key=lambda d: d.sort_key) if policies else result.diagnostics
    print_diagnostics(fmt, diagnostics, result.files)
    sys.exit(EXIT_OK if result.ok else EXIT_DIAGNOSTICS)
