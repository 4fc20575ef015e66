"""``paybill apply drift | drift-report``: the nightly check that every live stack is what git compiled.

``drift --shard K/N`` checks one share of the manifest's stacks (read only: ``plan -detailed-exitcode``)
and writes ``drift-K-of-N.json``; ``drift-report`` joins every shard's results with the manifest.
Exit status of ``drift``: 0 every stack of the shard was checked (drift is the report's to judge),
1 a stack could not be checked (its PB12xx problem), 2 usage error. Of ``drift-report``: 0 every live
stack was checked and is in sync, 1 drift (PB1220), a stack not checkable or not checked (PB1221).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from paybill.apply.errors import ApplyError, Problem
from paybill.cli.common import write_report

DEFAULT_MANIFEST = Path("generated/manifest.json")


def _fail(problems: list[Problem]) -> None:
    for problem in problems:
        click.echo(problem.render(), err=True)
    sys.exit(1)


@click.command("drift")
@click.option("--shard", required=True, metavar="K/N",
              help="Check the K-th of N equal shares of the live stacks (1/1: all of them).")
@click.option("--manifest", type=click.Path(path_type=Path, dir_okay=False), default=DEFAULT_MANIFEST,
              show_default=True)
@click.option("--terraform", envvar="PAYBILL_TERRAFORM", default="terraform", show_default=True,
              help="Terraform or OpenTofu executable (env PAYBILL_TERRAFORM).")
@click.option("--parallelism", type=click.IntRange(1, 64), default=4, show_default=True,
              help="Stacks planned at once.")
@click.option("--retries", type=click.IntRange(0, 20), default=3, show_default=True,
              help="Retries of a stack after a transient failure (throttling, network).")
@click.option("--backoff", type=click.FloatRange(0), default=10.0, show_default=True,
              help="Seconds before the first retry (doubled for each next one).")
@click.option("--results", type=click.Path(path_type=Path, file_okay=False), default=Path("drift-results"),
              show_default=True, help="Write drift-K-of-N.json here (upload it as an artifact).")
@click.option("--commit", default=None, envvar="GITHUB_SHA",
              help="The commit checked (env GITHUB_SHA; default: the checked-out commit when generated/ has no local "
                   "change), recorded so the report joins results of one commit.")
def drift_command(shard: str, manifest: Path, terraform: str, parallelism: int, retries: int, backoff: float,
                  results: Path, commit: str | None) -> None:
    """Check one shard of the live stacks against the cloud, read only: terraform init, then plan
    -detailed-exitcode -lock=false; what changed outside Terraform is recorded as JSON."""
    from paybill.apply.drift import check_shard, parse_shard, shard_stacks
    from paybill.apply.manifest import read_manifest

    parsed = parse_shard(shard)
    if parsed is None:
        raise click.BadParameter(f"{shard!r} is not K/N with 1 <= K <= N <= 1000 (for example 3/8)",
                                 param_hint="--shard")
    try:
        current = read_manifest(manifest)
    except ApplyError as error:
        _fail(error.problems)
        return
    index, count = parsed
    stacks = shard_stacks(current, index, count)
    from paybill.apply.base import checked_out_commit
    from paybill.apply.runner import RunOptions

    options = RunOptions(generated=manifest.parent.resolve(), results=results, terraform=terraform,
                           parallelism=parallelism, retries=retries, backoff=backoff,
                           commit=commit or checked_out_commit(manifest.resolve().parent))
    try:
        outcome = check_shard(stacks, index, count, options, echo=lambda line: click.echo(line))
    except OSError as error:  # the results folder cannot be written: nothing would record the check
        click.echo(f"paybill: cannot write the drift results to {results}: {error.strerror or error}", err=True)
        sys.exit(1)
    counts: dict[str, int] = {}
    for record in outcome.records:
        counts[record.status] = counts.get(record.status, 0) + 1
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "no stack in this shard"
    click.echo(f"drift shard {index}/{count}: {summary}")
    if outcome.problems:
        _fail(list(outcome.problems))


@click.command("drift-report")
@click.argument("results", nargs=-1, type=click.Path(path_type=Path, file_okay=False))
@click.option("--manifest", type=click.Path(path_type=Path, dir_okay=False), default=DEFAULT_MANIFEST,
              show_default=True)
@click.option("--commit", default=None, envvar="GITHUB_SHA",
              help="Use only results of this commit (env GITHUB_SHA; default: the one commit the results hold).")
@click.option("--format", "output_format", type=click.Choice(["text", "markdown", "json"]), default="text",
              show_default=True, help="text: diagnostics; markdown: an issue body; json: for tools.")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Write the report here (else standard output).")
def drift_report_command(results: tuple[Path, ...], manifest: Path, commit: str | None, output_format: str,
                         out: Path | None) -> None:
    """Join the shards' drift results (RESULTS folders, default drift-results) with the manifest: every live
    stack checked and in sync, or what differs, what could not be checked and what was not."""
    from paybill.apply.drift_report import build_report, problems, render_json, render_markdown
    from paybill.apply.manifest import read_manifest

    try:
        current = read_manifest(manifest)
    except ApplyError as error:
        _fail(error.problems)
        return
    report = build_report(current, results or (Path("drift-results"),), commit or None)
    found = problems(report, manifest.parent.as_posix() or ".")
    if output_format == "text":
        text = "".join(p.render() + "\n" for p in found) or \
            f"no drift: all {report.stacks} stacks are what git compiled\n"
    elif output_format == "markdown":
        text = render_markdown(report)
    else:
        text = json.dumps(render_json(report), indent=1, sort_keys=True) + "\n"
    if out is not None:
        write_report(out, text)
    else:
        click.echo(text, nl=False)
    if found:
        sys.exit(1)
