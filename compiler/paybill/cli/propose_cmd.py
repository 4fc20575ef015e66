"""``paybill propose``: an agent proposes a spec change as a branch, never by editing main."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from paybill.cli.common import EXIT_DIAGNOSTICS, EXIT_OK, format_option, print_diagnostics, specs_argument
from paybill.cli.plan_cmd import git_usage_error
from paybill.diagnostics import Severity
from paybill.gitio.repo import GitError
from paybill.plan.render.markdown import render_markdown
from paybill.plan.run import plan_sides
from paybill.propose.generated import GeneratedChange
from paybill.propose.proposal import propose, pull_request_body
from paybill.propose.setspec import SetError, parse_set


def _generated_summary(generated: GeneratedChange) -> str:
    changed = len(generated.written) + len(generated.removed)
    return f"{changed} changed file{'s' if changed != 1 else ''} in {generated.prefix}/"


@click.command("propose")
@specs_argument
@click.option("--as", "agent", required=True, metavar="AGENT", help="The agent proposing (an Agent spec name).")
@click.option("--set", "sets", multiple=True, required=True, metavar="KIND/NAME:FIELD.PATH=VALUE",
              help="A field to set, e.g. Tenant/acme:spec.plan=growth (VALUE is YAML). Repeatable.")
@click.option("-m", "--message", required=True, help="Commit message (its first line names the branch).")
@click.option("--base", "base", metavar="REF", help="Propose on top of this commit [default: HEAD].")
@click.option("--policies", type=click.Path(path_type=Path, file_okay=False),
              help="Change-control policies folder [default: policies/ beside SPECS].")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False),
              help="The compiled output folder committed with the proposal, as given to paybill compile "
                   "[default: generated/ beside SPECS].")
@click.option("--dry-run", is_flag=True, help="Check everything but create no branch.")
@click.option("--no-terraform", is_flag=True, help="Leave Terraform out of the pull-request body.")
@format_option
def propose_command(specs: Path, agent: str, sets: tuple[str, ...], message: str, base: str | None,
                    policies: Path | None, out: Path | None, dry_run: bool, no_terraform: bool, fmt: str) -> None:
    """Propose spec changes as agent AGENT: edit the YAML (comments and formatting kept), validate the
    repository, check every changed field against the agent's spec and the Cedar change-control rules,
    compile the proposed specs, then create branch paybill/<agent>/<slug> with one commit (trailer
    Paybill-Agent) holding the spec edit and the recompiled generated/ (beside SPECS), without
    touching the checkout, and print the pull-request body: the markdown plan of that commit. SPECS is
    the specs folder inside the git repository (default: ./specs).

    Exit status: 0 proposed, 1 refused (diagnostics say which rule denied), 2 usage error.

    \b
    Example:
      paybill propose --as billing-agent --set Tenant/hooli:spec.plan=growth \\
        -m "Upgrade hooli to growth"
    """
    try:
        operations = [parse_set(raw) for raw in sets]
    except SetError as error:
        raise click.UsageError(f"--set: {error}") from None
    if not message.strip():
        raise click.UsageError("-m/--message must not be empty")
    try:
        result = propose(specs, agent, operations, message, planner=plan_sides, base_ref=base, policies=policies,
                         terraform=not no_terraform, dry_run=dry_run, out=out)
    except GitError as error:
        raise git_usage_error(error) from None
    if result.refused:
        print_diagnostics(fmt, result.diagnostics, result.files)
        # Warnings are printed, not counted: they did not refuse anything.
        errors = sum(1 for d in result.diagnostics if d.severity is Severity.ERROR)
        click.echo(f"proposal refused: {errors} problem(s); no branch was created", err=True)
        sys.exit(EXIT_DIAGNOSTICS)
    if dry_run:
        click.echo(result.diff, nl=False)
        generated = result.generated
        assert generated is not None
        click.echo(f"dry run: change control allows all {len(result.decisions)} field change(s); "
                   f"{_generated_summary(generated)} would be committed; no branch created", err=True)
        sys.exit(EXIT_OK)
    click.echo(pull_request_body(result, agent, message, render_markdown), nl=False)
    assert result.generated is not None and result.commit is not None and result.base_commit is not None
    click.echo(f"created branch {result.branch} at {result.commit[:12]} on top of {result.base_commit[:12]} "
               f"(with {_generated_summary(result.generated)})", err=True)
    sys.exit(EXIT_OK)
