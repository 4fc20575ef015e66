"""``paybill init DIR``: scaffold a new spec repository."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from paybill.cli.common import EXIT_USAGE
from paybill.scaffold import ScaffoldError, scaffold
from paybill.scaffold.source import check_requirement
from paybill.scaffold.targets import CLOUDS, DEFAULT_CLOUD


@click.command("init")
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
@click.option("--hooks-repo", metavar="URL",
              help="Use the paybill-validate hook from this git repository (its .pre-commit-hooks.yaml) "
                   "instead of a local hook.")
@click.option("--no-git", is_flag=True, help="Do not run git init.")
@click.option("--in-existing-repo", is_flag=True,
              help="DIRECTORY is inside an existing git repository on purpose: write the files there and do not "
                   "run git init (refused otherwise).")
@click.option("--pip-requirement", metavar="REQUIREMENT",
              help="How CI installs paybill unless the repository variable PAYBILL_PIP_REQUIREMENT is set, e.g. "
                   "'paybill==0.1.0' or 'paybill @ git+https://github.com/OWNER/paybill@v0.1.0' "
                   "[default: the version and source of this paybill].")
@click.option("--cloud", type=click.Choice(list(CLOUDS)), default=DEFAULT_CLOUD, show_default=True,
              help="The provider of the example cloud, pool and tenants: AWS, Azure, Google Cloud, Oracle Cloud "
                   "or IBM Cloud (edit specs/clouds/ for your account ids and state bucket).")
def init_command(directory: Path, hooks_repo: str | None, no_git: bool, in_existing_repo: bool,
                 pip_requirement: str | None, cloud: str) -> None:
    """Scaffold a new spec repository in DIRECTORY (absent or empty): example specs, change-control
    policies, JSON Schemas, the GitHub workflows (pull request, apply, drift), a README saying what to
    set before the first merge, and a pre-commit configuration.

    DIRECTORY must not be inside an existing git repository (exit 2), unless --in-existing-repo.
    """
    if pip_requirement is not None and (problem := check_requirement(pip_requirement)):
        raise click.UsageError(f"--pip-requirement cannot be used: {problem}")
    try:
        done = scaffold(directory, hooks_repo=hooks_repo, git=not no_git, in_existing_repo=in_existing_repo,
                        pip_requirement=pip_requirement, cloud=cloud)
    except ScaffoldError as error:
        click.echo(f"{directory.as_posix()}:1:1: error[{error.code}]: {error.message}", err=True)
        click.echo(f"  hint: {error.hint}", err=True)
        sys.exit(EXIT_USAGE)
    shown = directory.as_posix()
    click.echo(f"created {len(done.files)} files in {shown}/ (cloud: specs/clouds/{CLOUDS[cloud].cloud}.yaml; "
               "its account ids and state bucket are examples: set yours before the first apply)")
    if done.install.requirement:
        click.echo(f"CI installs paybill with: pip install '{done.install.requirement}' ({done.install.origin}; "
                   "override with the repository variable PAYBILL_PIP_REQUIREMENT)")
    else:
        click.echo(f"warning: no install source CI can use for paybill: this paybill was {done.install.origin}; "
                   "set the repository variable PAYBILL_PIP_REQUIREMENT to a pip requirement (or run init with "
                   "--pip-requirement), or the workflows stop at 'Install paybill'", err=True)
    # `compile`, not `validate`: it validates too, and the first commit needs generated/ (the apply
    # workflow reads generated/manifest.json on the first push; CI's compile --check compares it).
    if done.outer_repository is not None:
        click.echo(f"note: {shown}/ is inside the git repository at {done.outer_repository}; git init was not run, "
                   "so commits go to that repository", err=True)
        click.echo(f"note: GitHub only runs workflows from {done.outer_repository}/.github/workflows/: move "
                   f"{shown}/.github/workflows/*.yml there and adjust their paths", err=True)
        click.echo(f"next: cd {shown} && paybill compile && git add . && git commit -m 'paybill specs'")
    elif done.git_initialised:
        click.echo(f"next: cd {shown} && paybill compile && git add -A && git commit -m 'paybill specs'")
    else:
        # main: the workflows run on pushes to main, and a user's init.defaultBranch may be master
        click.echo(f"next: cd {shown} && paybill compile && git init --initial-branch=main && git add -A && "
                   "git commit -m 'paybill specs'")
