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
@click.option("--in-existing-repo", is_flag=True,
              help="DIRECTORY is inside an existing git repository on purpose: write the files there and do not "
                   "run git init (refused otherwise).")
def init_command(directory: Path, hooks_repo: str | None, no_git: bool, in_existing_repo: bool) -> None:
    """Scaffold a new spec repository in DIRECTORY (absent or empty): example specs, change-control
    policies, JSON Schemas, both GitHub workflows and a pre-commit configuration.

    DIRECTORY must not be inside an existing git repository (exit 2), unless --in-existing-repo.
    """
    try:
        done = scaffold(directory, hooks_repo=hooks_repo, git=not no_git, in_existing_repo=in_existing_repo)
    except ScaffoldError as error:
        click.echo(f"{directory.as_posix()}:1:1: error[{error.code}]: {error.message}", err=True)
        click.echo(f"  hint: {error.hint}", err=True)
        sys.exit(EXIT_USAGE)
    shown = directory.as_posix()
    click.echo(f"created {len(done.files)} files in {shown}/")
    if done.outer_repository is not None:
        click.echo(f"note: {shown}/ is inside the git repository at {done.outer_repository}; git init was not run, "
                   "so commits go to that repository", err=True)
        click.echo(f"note: GitHub only runs workflows from {done.outer_repository}/.github/workflows/: move "
                   f"{shown}/.github/workflows/*.yml there and adjust their paths", err=True)
        click.echo(f"next: cd {shown} && paybill validate && git add . && git commit -m 'paybill specs'")
    elif done.git_initialised:
        click.echo(f"next: cd {shown} && paybill validate && git add -A && git commit -m 'paybill specs'")
    else:
        click.echo(f"next: cd {shown} && paybill validate && git init && git add -A && git commit -m 'paybill specs'")
