"""``paybill init DIR``: scaffold a new spec repository."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from paybill.cli.common import EXIT_USAGE
from paybill.scaffold import ScaffoldError, scaffold


@click.command("init")
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
@click.option("--hooks-repo", metavar="URL",
              help="Use the paybill-validate hook from this git repository (its .pre-commit-hooks.yaml) "
                   "instead of a local hook.")
@click.option("--no-git", is_flag=True, help="Do not run git init.")
def init_command(directory: Path, hooks_repo: str | None, no_git: bool) -> None:
    """Scaffold a new spec repository in DIRECTORY (absent or empty): example specs, change-control
    policies, JSON Schemas, both GitHub workflows and a pre-commit configuration."""
    try:
        written = scaffold(directory, hooks_repo=hooks_repo, git=not no_git)
    except ScaffoldError as error:
        click.echo(f"{directory.as_posix()}:1:1: error[{error.code}]: {error.message}", err=True)
        click.echo(f"  hint: {error.hint}", err=True)
        sys.exit(EXIT_USAGE)
    click.echo(f"created {len(written)} files in {directory.as_posix()}/")
    click.echo(f"next: cd {directory.as_posix()} && paybill validate && git add -A && git commit -m 'paybill specs'")
