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
from paybill.compile import check_repository
from paybill.emit.registry import reporting_emitters
from paybill.gcpause import pause_for_this_process
from paybill.propose.references import check_policies_folder
from paybill.store import UNITS_FOLDER, UnitStore, cache_dir


def _store() -> UnitStore | None:
    """The unit store of the cache folder, read only (validate writes nothing), or None when caching is off."""
    folder = cache_dir()
    return UnitStore(folder / UNITS_FOLDER, read_only=True) if folder is not None else None


@click.command("validate")
@specs_argument
@format_option
def validate_command(specs: Path, fmt: str) -> None:
    """Validate the spec repository SPECS (default: ./specs).

    Reports every problem at once as path:line:col: error[CODE]: message. Exit status: 0 clean,
    1 diagnostics, 2 usage error. Specs that validate go on as in paybill compile, in memory and
    writing nothing: resolved (networks allocated, stack layout, cloud names and quota usage
    derived: PB0601-PB0603, PB0681, PB0682), the dependency graph built (cycles), and the emitters
    that can find a problem run (the SQL plan's PB08xx; the agent bundles' PB07xx, Cedar's checks of
    every workflow among them), so validate reports everything compile would. What earlier compiles
    stored in the cache folder (.paybill/cache, or $PAYBILL_CACHE_DIR) is reused, read only: the
    name plans and Cedar's answers for unchanged agents.
    """
    require_specs(specs)
    pause_for_this_process()
    result = check_repository(specs, emitters=reporting_emitters(), store=_store())
    # Change-control rules naming specs that do not exist (PB0982 warnings), seen in the PR check.
    policies = check_policies_folder(specs, result.index)
    diagnostics = sorted([*result.diagnostics, *policies], key=lambda d: d.sort_key) if policies else result.diagnostics
    print_diagnostics(fmt, diagnostics, result.files)
    sys.exit(EXIT_OK if result.ok else EXIT_DIAGNOSTICS)
