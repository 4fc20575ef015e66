"""``paybill apply plan | run | atlantis``: apply generated/ at any scale, in CI or with Atlantis.

Exit status: 0 done, 1 problems (PB12xx diagnostics on standard error, all of them), 2 usage error.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from paybill.apply.errors import BASE, OVERTAKEN, UNKNOWN_SHARD, ApplyError, Problem
from paybill.cli.common import write_report

if TYPE_CHECKING:
    from paybill.apply.base import SpecFiles
    from paybill.apply.schedule import JobPlan
    from paybill.changes.model import Finding

DEFAULT_MANIFEST = Path("generated/manifest.json")


def _fail(problems: list[Problem]) -> None:
    for problem in problems:
        click.echo(problem.render(), err=True)
    sys.exit(1)


def _today() -> datetime.date:
    return datetime.datetime.now(datetime.UTC).date()


def _commit_id(value: str | None) -> str | None:
    """``--applied``: a full commit id, or '' (no commit recorded yet); anything else is a usage error."""
    if value is None:
        return None
    value = value.strip()
    if value and not re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", value):
        raise click.BadParameter(f"{value!r} is not a full commit id (or empty: nothing recorded yet)")
    return value


def overtaken(plan: JobPlan, applied: str | None, plan_file: Path) -> Problem | None:
    """PB1212 when the commit recorded as applied is no longer the one the plan was made against (nor the
    plan's own commit): another run applied since, and this one would put older configuration over it."""
    if applied is None or plan.applied is None or applied in (plan.applied, plan.commit):
        return None
    then = plan.applied or "nothing recorded"
    now = (f"{applied} was applied since: running it would apply {plan.commit}'s configuration over {applied}'s"
           if applied else "nothing is recorded as applied now (was the record removed, or could it not be read?)")
    return Problem(OVERTAKEN, plan_file.as_posix(),
                   f"the job plan is for commit {plan.commit} against what was applied then ({then}), but {now}; "
                   "nothing in this shard was run",
                   "run the apply workflow again (Run workflow): it plans against what is applied now, and "
                   "includes what this run did not finish")


@click.group("apply")
def apply_group() -> None:
    """Plan apply jobs from generated/manifest.json, run one shard of them, check for drift, or write
    atlantis.yaml."""


@apply_group.command("plan")
@click.option("--manifest", type=click.Path(path_type=Path, dir_okay=False), default=DEFAULT_MANIFEST,
              show_default=True)
@click.option("--base", "base", default=None,
              help="The commit whose generated/ is applied (a push's github.event.before). None or all zeros: "
                   "apply every stack.")
@click.option("--previous-manifest", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="The base side's manifest as a file (instead of --base).")
@click.option("--commit", default=None, help="The commit being applied (default: $GITHUB_SHA, else the checked-out "
              "commit when the manifest's folder holds no uncommitted change); recorded in results.")
@click.option("--max-jobs", type=click.IntRange(1), default=256, show_default=True,
              help="Jobs the whole run may use (GitHub allows 256 per matrix).")
@click.option("--max-phases", type=click.IntRange(1), default=8, show_default=True,
              help="Phase jobs the workflow has (waves and destroy steps).")
@click.option("--shards", type=click.IntRange(1), default=None,
              help="At most this many shards per phase (default: share --max-jobs among the phases).")
@click.option("--today", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="The day compared with removed stacks' retainUntil (default: today, UTC).")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Write the job plan JSON here (else to standard output).")
@click.option("--github-output", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Append the phase matrices as name=value lines (GitHub step outputs).")
@click.option("--state-migrated", "state_migrated", multiple=True, metavar="ADDRESS",
              envvar="PAYBILL_STATE_MIGRATED",
              help="A stack whose Terraform backend changed since --base and whose state was migrated by hand "
                   "(repeatable; or $PAYBILL_STATE_MIGRATED, space-separated); any other backend change is "
                   "refused (PB1211).")
@click.option("--applied", "applied", default=None, metavar="COMMIT", callback=lambda _c, _p, v: _commit_id(v),
              help="The commit the last complete apply recorded (the workflow's refs/paybill/applied/<branch>; "
                   "empty: none yet), kept in the plan: `apply run --applied` refuses the plan once another "
                   "run has applied since (PB1212).")
def plan_command(manifest: Path, base: str | None, previous_manifest: Path | None, commit: str | None,
                 max_jobs: int, max_phases: int, shards: int | None, today: datetime.datetime | None,
                 out: Path | None, github_output: Path | None, state_migrated: tuple[str, ...],
                 applied: str | None) -> None:
    """Plan the jobs: waves in order, each packed into shards balanced by resource count, migrations
    with the stacks that create their databases, destroys after the waves that no longer need them."""
    from paybill.apply.base import (
        base_manifest,
        changed_tenant_specs,
        checked_out_commit,
        comment_only_changes,
        resolve_base,
        state_move_problems,
        state_moves,
    )
    from paybill.apply.jobfile import dumps, github_outputs
    from paybill.apply.manifest import read_manifest
    from paybill.apply.schedule import changed_pairs, plan_jobs

    if base is not None and previous_manifest is not None:
        raise click.UsageError("--base and --previous-manifest exclude each other")
    try:
        current = read_manifest(manifest)
        comment_only: set[str] = set()
        base_commit: str | None = None  # the full id --base names (resolve_base)
        if previous_manifest is not None:
            previous = read_manifest(previous_manifest)  # no base commit to compare stack files with
        else:
            repo = manifest.resolve().parent.parent
            base_commit = resolve_base(repo, base)
            previous = base_manifest(repo, base_commit)
            comment_only = comment_only_changes(repo, base_commit, manifest.resolve().parent,
                                                changed_pairs(current, previous))
            moved = state_moves(repo, base_commit, manifest.resolve().parent, changed_pairs(current, previous))
            unknown = sorted(set(state_migrated) - set(moved))
            if unknown:
                raise click.UsageError(f"--state-migrated {', '.join(unknown)}: no such stack changes its backend "
                                       f"since {base}" + (f" (those that do: {', '.join(sorted(moved))})" if moved
                                                          else ""))
            refused = state_move_problems(moved, state_migrated, manifest.as_posix(), base)
            specs = changed_tenant_specs(repo, base_commit, manifest.resolve().parent, changed_pairs(current, previous))
            unsafe = _unsafe_moves(specs, manifest.as_posix(), base)
            if unsafe:
                _refuse_moves(unsafe, refused, base, base_commit)
                return
            if refused:
                raise ApplyError(refused)
        plan = plan_jobs(current, previous, today=today.date() if today else _today(), max_jobs=max_jobs,
                         max_phases=max_phases, shards_per_phase=shards, manifest_path=manifest.as_posix(),
                         base_revision=base_commit, comment_only=comment_only,
                         commit=commit or os.environ.get("GITHUB_SHA") or checked_out_commit(manifest.resolve().parent))
        if applied is not None:
            plan = dataclasses.replace(plan, applied=applied)
    except ApplyError as error:
        _fail(error.problems)
        return
    text = dumps(plan)
    if out is not None:
        write_report(out, text)
    # Without --out standard output carries the JSON plan, so that `paybill apply plan > plan.json` and
    # `| jq` read a plan; the workflow commands then go to standard error (Actions reads both streams).
    aside = out is None
    for notice in plan.held:
        click.echo(f"::notice::{notice}", err=aside)
    for address in sorted(comment_only):
        click.echo(f"::notice::stack {address} is not applied: only its comment (the spec files it is compiled "
                   "from) changed", err=aside)
    for address in plan.vanished:
        click.echo(f"::warning::stack {address} is gone from the manifest without a decommission configuration; "
                   "nothing destroys it", err=aside)
    if github_output is not None:
        write_report(github_output, "".join(f"{k}={v}\n" for k, v in github_outputs(plan).items()), append=True)
    if out is None:
        click.echo(text, nl=False)
    else:
        click.echo(_summary(plan, out), err=True)


def _unsafe_moves(specs: SpecFiles, manifest: str, base: str | None) -> list[Finding | Problem]:
    """``paybill plan``'s PB0948 and PB0949, checked again for the tenants whose stack changed since the
    base commit (a commit can reach main without its plan: a direct push, an admin merge), and PB1202
    for a tenant whose spec is found on one side only (refused rather than applied unchecked)."""
    if not specs.base and not specs.head:
        return []  # no tenant's own file changed: nothing of these checks can fire (nor is the compiler loaded)
    # the command composes the two: apply reads files only, the check is the plan's (paybill.changes)
    from paybill.changes.isolation_moves import unsafe_moves

    findings, unchecked = unsafe_moves(specs.base, specs.head, specs.tenants)
    found: list[Finding | Problem] = list(findings)
    if unchecked:
        found.append(Problem(BASE, manifest, f"tenant{'s' if len(unchecked) > 1 else ''} {', '.join(unchecked)}: "
                             f"found among the spec files its stack lists on one side only ({base} or the "
                             "checkout), so its isolation and placement moves cannot be checked (PB0948, PB0949)",
                             "run from the repository root with generated/ beside the specs folder and the base "
                             "commit fetched, on a checkout that is what generated/ was compiled from "
                             "(`paybill compile --check`)"))
    return found


def _refuse_moves(found: list[Finding | Problem], more: list[Problem], base: str | None,
                  base_commit: str | None) -> None:
    """Print the refused moves (and any other problem found) as compiler diagnostics, then exit 1."""
    for item in found:
        if isinstance(item, Problem):
            click.echo(item.render(), err=True)
            continue
        d = item.to_diagnostic()
        text = f"{d.path}:{d.position.line}:{d.position.col}: error[{d.code}]: {d.message}"
        click.echo(f"{text}\n  hint: {d.hint}" if d.hint else text, err=True)
    for problem in more:
        click.echo(problem.render(), err=True)
    if any(not isinstance(item, Problem) for item in found):
        since = base_commit or base
        click.echo(
            "nothing is applied: this commit makes a tenant move that `paybill plan` refuses in a pull request, "
            "so it reached main without that check. Revert the move on main, then make it as the runbook in the "
            f"hint says, through a pull request. Apply the revert against {since}, the commit applied before this "
            "one, not against this commit (never applied: moving back would look like a move too): the apply "
            "workflow does, since this refused run records nothing as applied (refs/paybill/applied/<branch>); "
            f"by hand: `paybill apply plan --base {since}`.", err=True)
    sys.exit(1)


def _summary(plan: JobPlan, out: Path) -> str:
    """What the plan holds and how to run it: the shard ids ``apply run --shard`` takes (the summary was
    ``1 phases, 1 jobs: wave 2 (1 in 1)``, which named no shard)."""
    def count(n: int, noun: str) -> str:
        return f"{n} {noun}{'' if n == 1 else 's'}"

    if not plan.phases:
        return "nothing to apply now: the held stacks are listed above" if plan.held else \
            "nothing to apply: no stack changed"
    parts = []
    for phase in plan.phases:
        ids = [shard.id for shard in phase.shards]
        where = f"shard {ids[0]}" if len(ids) == 1 else f"shards {ids[0]}-{ids[-1]}"
        parts.append(f"{phase.label}: {count(sum(len(s.units) for s in phase.shards), 'stack')} in {where}")
    return (f"{count(len(plan.phases), 'phase')}, {count(plan.jobs, 'job')}: {'; '.join(parts)}\n"
            f"run each shard, phase by phase: paybill apply run --plan {out.as_posix()} --shard ID")


@apply_group.command("run")
@click.option("--plan", "plan_file", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="The job plan `paybill apply plan --out` wrote.")
@click.option("--shard", required=True, help="The shard to run (its id in the plan, e.g. 2.7).")
@click.option("--generated", type=click.Path(path_type=Path, file_okay=False), default=Path("generated"),
              show_default=True)
@click.option("--terraform", envvar="PAYBILL_TERRAFORM", default="terraform", show_default=True,
              help="Terraform or OpenTofu executable (env PAYBILL_TERRAFORM).")
@click.option("--parallelism", type=click.IntRange(1, 64), default=4, show_default=True,
              help="Stacks of the shard run at once.")
@click.option("--retries", type=click.IntRange(0, 20), default=3, show_default=True,
              help="Retries of a stack after a transient failure (throttling, network, state lock).")
@click.option("--backoff", type=click.FloatRange(0), default=10.0, show_default=True,
              help="Seconds before the first retry (doubled for each next one).")
@click.option("--results", type=click.Path(path_type=Path, file_okay=False), default=Path("apply-results"),
              show_default=True, help="Write shard-<id>.json here (upload it as an artifact).")
@click.option("--resume", type=click.Path(path_type=Path, file_okay=False), multiple=True,
              help="Results of earlier attempts: units finished at this commit are skipped (repeatable).")
@click.option("--commit", default=None, help="The commit being applied (default: the plan's).")
@click.option("--database-url-command", envvar="PAYBILL_DATABASE_URL_COMMAND", default=None,
              help="Shell command printing the admin URL of the database stack $STACK created "
                   "(env PAYBILL_DATABASE_URL_COMMAND, as paybill-apply-shard.yml sets it).")
@click.option("--by", default=None, help="Recorded in each database's migration ledger.")
@click.option("--summary", type=click.Path(path_type=Path, dir_okay=False), envvar="GITHUB_STEP_SUMMARY",
              default=None, help="Append destroy notes (markdown) here (env GITHUB_STEP_SUMMARY).")
@click.option("--applied", "applied", default=None, metavar="COMMIT", callback=lambda _c, _p, v: _commit_id(v),
              help="The commit recorded as applied now (empty: none): refused (PB1212) when it is neither the "
                   "one the plan was made against (`apply plan --applied`) nor the plan's commit.")
def run_command(plan_file: Path, shard: str, generated: Path, terraform: str, parallelism: int, retries: int,
                backoff: float, results: Path, resume: tuple[Path, ...], commit: str | None,
                database_url_command: str | None, by: str | None, summary: Path | None,
                applied: str | None) -> None:
    """Run one shard: terraform init/plan/apply (or the destroy sequence) per stack with bounded
    parallelism and retries, migrations right after their stacks, results recorded as JSON."""
    from paybill.apply.jobfile import read_plan
    from paybill.apply.runner import RunOptions, run_shard

    try:
        plan = read_plan(plan_file)
    except ApplyError as error:
        _fail(error.problems)
        return
    found = plan.shard(shard)
    if found is None:
        known = ", ".join(s.id for p in plan.phases for s in p.shards) or "none"
        _fail([Problem(UNKNOWN_SHARD, plan_file.as_posix(), f"the job plan has no shard {shard!r}",
                       f"shards in this plan: {known}")])
        return
    stale = overtaken(plan, applied, plan_file)
    if stale is not None:
        _fail([stale])
        return
    options = RunOptions(generated=generated.resolve(), results=results, terraform=terraform,
                         parallelism=parallelism, retries=retries, backoff=backoff, resume=resume,
                         commit=commit or plan.commit, database_url_command=database_url_command or None,
                         by=by, summary=summary, today=_today().isoformat())
    outcome = run_shard(found[1], options, echo=lambda line: click.echo(line))
    counts: dict[str, int] = {}
    for record in outcome.records:
        counts[record.status] = counts.get(record.status, 0) + 1
    click.echo(f"shard {shard}: " + ", ".join(f"{n} {status}" for status, n in sorted(counts.items())))
    if not outcome.ok:
        _fail(list(outcome.problems))


@apply_group.command("atlantis")
@click.option("--manifest", type=click.Path(path_type=Path, dir_okay=False), default=DEFAULT_MANIFEST,
              show_default=True)
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Write here (usually atlantis.yaml at the repository root); else standard output.")
def atlantis_command(manifest: Path, out: Path | None) -> None:
    """Write an atlantis.yaml: one project per stack, execution_order_group from the waves,
    when_modified from the spec files each stack is compiled from."""
    from paybill.apply.atlantis import render_atlantis
    from paybill.apply.manifest import read_manifest

    try:
        current = read_manifest(manifest)
    except ApplyError as error:
        _fail(error.problems)
        return
    generated = manifest.parent.as_posix() if manifest.parent.as_posix() not in ("", ".") else "."
    text = render_atlantis(current, generated if not manifest.is_absolute() else "generated")
    if out is None:
        click.echo(text, nl=False)
    else:
        write_report(out, text)


def _register_drift() -> None:
    """``apply drift`` and ``apply drift-report`` live in their own module (read-only checks, not the apply)."""
    from paybill.cli.apply_drift_cmd import drift_command, drift_report_command

    apply_group.add_command(drift_command)
    apply_group.add_command(drift_report_command)


_register_drift()
