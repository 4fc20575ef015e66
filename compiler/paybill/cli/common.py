"""Options and helpers shared by commands."""

from __future__ import annotations

from pathlib import Path

import click

from paybill.cli.compile_fast import DEFAULT_SPECS
from paybill.diagnostics.render import FORMATS, render

EXIT_OK, EXIT_DIAGNOSTICS, EXIT_USAGE = 0, 1, 2

specs_argument = click.argument(
    "specs", required=False, default=str(DEFAULT_SPECS),
    type=click.Path(path_type=Path, file_okay=True, dir_okay=True),
)
format_option = click.option(
    "--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
    help="How to print diagnostics: text for people, json for tools, github for Actions annotations.",
)


def require_specs(specs: Path) -> None:
    """A missing specs folder is a usage error (exit 2), not a diagnostic."""
    if not specs.exists():
        raise click.UsageError(f"specs folder '{specs}' does not exist")


def print_diagnostics(fmt: str, diagnostics: list, files: int) -> None:
    text = render(fmt, diagnostics, files)
    click.echo(text, nl=False)
