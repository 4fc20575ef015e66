"""``paybill plan``: preview what a change does, from git objects, without touching the checkout."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from paybill.changes.sides import Sides, resolve_sides
from paybill.cli.common import EXIT_DIAGNOSTICS, EXIT_OK, specs_argument, write_report
from paybill.gcpause import exit_process, pause_for_this_process
from paybill.gitio.repo import Background, GitError
from paybill.gitio.sources import WorkTreeSide
from paybill.plan.render import FORMATS, render
from paybill.plan.run import plan_sides


def use_color(choice: str, stream=None) -> bool:
    """Colour on a TTY only; ``NO_COLOR`` (any non-empty value) and ``TERM=dumb`` turn it off."""
    if choice == "always":
        return True
    if choice == "never" or os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    stream = stream or sys.stdout
    return bool(getattr(stream, "isatty", lambda: False)())


def git_usage_error(error: GitError) -> click.UsageError:
    return click.UsageError(error.message + (f" ({error.hint})" if error.hint else ""))


def _clean_checkout(sides: Sides) -> str | None:
    """The checked-out commit when what the work tree side reads (the specs and policies folders) is
    exactly that commit, as on CI's fresh checkout; else None. A report headed "work tree" did not say
    which commit was planned; it is labelled ``HEAD (<commit>)`` instead, like ``--head HEAD``.
    ``paybill apply`` names its results' commit the same way (:func:`paybill.apply.base.checked_out_commit`,
    reused here). Only the label changes: the side is still read from disk, and anything modified or
    untracked there keeps the label "work tree"."""
    from paybill.apply.base import checked_out_commit

    folders = [sides.repo.root / prefix if prefix else sides.repo.root
               for prefix in dict.fromkeys((sides.where.prefix, sides.policies_prefix))]
    commits = {checked_out_commit(folder) for folder in folders if folder.is_dir()}
    return commits.pop() if len(commits) == 1 else None


@click.command("plan")
@specs_argument
@click.option("--base", "base", metavar="REF", help="Compare against this commit [default: merge base with main].")
@click.option("--head", "head", metavar="REF", help="Plan this commit instead of the work tree.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
              help="text for terminals, markdown for a pull-request comment, json for tools.")
@click.option("--no-terraform", is_flag=True, help="Compare specs only; skip compiling both sides.")
@click.option("--compile-base", is_flag=True,
              help="Compile the base side even when its commit carries a fresh generated/ tree.")
@click.option("--color", type=click.Choice(["auto", "always", "never"]), default="auto", show_default=True,
              help="Colour text output (auto: only on a terminal, and never with NO_COLOR set).")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), help="Write the report to a file.")
@click.option("--head-ref", metavar="BRANCH",
              help="The pull request's branch (CI: github.head_ref). On an agent's branch, paybill/<agent>/<slug>, "
                   "every commit is checked against change control as that agent's, with or without a "
                   "Paybill-Agent trailer.")
def plan_command(specs: Path, base: str | None, head: str | None, fmt: str, no_terraform: bool,
                 compile_base: bool, color: str, out: Path | None, head_ref: str | None) -> None:
    """Show what merging a change would do: spec changes field by field, Terraform resources per
    stack, and danger flags (data destroyed, isolation moved, lifecycle skipped, permissions widened,
    revenue moved).

    SPECS is the specs folder inside the git repository (default: ./specs). Both sides are read from
    git objects; the work tree is read but never written. Exit status:
    0 when there are no errors (changes are not errors), 1 on diagnostics or blocked transitions,
    2 on usage errors.
    """
    from paybill.store import UNITS_FOLDER, UnitStore, cache_dir

    # Stored stacks keep their bytes in the output folder `paybill compile` wrote (read, never written).
    stored_out = Path("generated")

    folder = cache_dir()
    pause_for_this_process()  # a one-shot process: no collection while or after both sides load
    try:
        sides = resolve_sides(specs, base, head)
        # its git commands run while the plan works (gitio.repo.Background): no wall time added
        checkout = Background(lambda: _clean_checkout(sides)) if isinstance(sides.head, WorkTreeSide) else None
        report = plan_sides(sides.base, sides.head, sides.where, terraform=not no_terraform, repo=sides.repo,
                            policies_prefix=sides.policies_prefix, compile_base=compile_base,
                            store=UnitStore(folder / UNITS_FOLDER, read_only=True, content_root=stored_out)
                            if folder is not None else None, cache_folder=folder, head_ref=head_ref)
        commit = checkout.result() if checkout is not None else None
        if commit is not None:
            report.head_label = f"HEAD ({commit[:12]})"
    except GitError as error:
        raise git_usage_error(error) from None
    if not report.compiled:
        click.echo(f"paybill plan: nothing compiled: both commits' generated/ are this compiler's output "
                   f"(compile records in {folder.as_posix() if folder else ''})", err=True)
    colored = fmt == "text" and out is None and use_color(color)
    text = render(report, fmt, color=colored)
    if out is not None:
        write_report(out, text)
    else:
        click.echo(text, nl=False, color=colored)  # click strips escapes off a TTY unless told
    exit_process(EXIT_DIAGNOSTICS if report.has_errors else EXIT_OK)
