"""Options and helpers shared by commands."""

from __future__ import annotations

import os
from pathlib import Path

import click

from paybill.cli.compile_fast import DEFAULT_SPECS
from paybill.diagnostics.render import FORMATS, render

EXIT_OK, EXIT_DIAGNOSTICS, EXIT_USAGE = 0, 1, 2



class SpecsPath(click.Path):
    """The SPECS argument: a folder or file, never the empty string.

    ``Path("")`` is ``.``, so ``paybill compile "$SPECS"`` with SPECS unset read the whole working
    directory (a spec repository's workflows, schemas, anything YAML) instead of reporting the mistake.
    """

    def convert(self, value: str | os.PathLike[str], param: click.Parameter | None,
                ctx: click.Context | None) -> str | bytes | os.PathLike[str]:
        if value == "":
            self.fail("an empty path names no specs (leave SPECS out for './specs')", param, ctx)
        return super().convert(value, param, ctx)


specs_argument = click.argument(
    "specs", required=False, default=str(DEFAULT_SPECS),
    type=SpecsPath(path_type=Path, file_okay=True, dir_okay=True),
)
format_option = click.option(
    "--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
    help="How to print diagnostics: text for people, json for tools, github for Actions annotations.",
)


def require_specs(specs: Path) -> None:
    """A missing specs folder is a usage error (exit 2), not a diagnostic."""
    if not specs.exists():
        raise click.UsageError(f"specs folder '{specs}' does not exist")


def print_diagnostics(fmt: str, diagnostics: list, files: int, noun: str = "file") -> None:
    text = render(fmt, diagnostics, files, noun)
    click.echo(text, nl=False)
