"""``paybill guard`` (check, replay, verify-log, approve) and ``paybill bundle``: agent bundles from the shell.

Exit status of ``guard check``: 0 allowed, 3 denied, 4 bundle refused (hash, signature, golden
decisions, another agent than ``--expect-agent``, a revision older than one in ``--revision-store``,
a bundle file that is not a regular file), 2 usage error. ``guard replay``: 0 every decision as
recorded, 1 some differ, 4 bundle refused, 2 unreadable trace (not a regular file, a line too long,
not a trace). ``guard verify-log``: 0 intact, 1 broken (or not a regular file). ``guard shadow-report``: 0 read,
1 unreadable lines or file (PB1401, PB1402). ``bundle``: 0
written, 1 diagnostics (nothing written), 2 usage error.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, NoReturn

import click
import orjson

from paybill.cli.common import (
    EXIT_DIAGNOSTICS,
    EXIT_OK,
    format_option,
    print_diagnostics,
    require_specs,
    specs_argument,
)
from paybill.contract.bundle import PUBLIC_KEY_ENV
from paybill.contract.line_problems import more_line
from paybill.guard import BundleError, Guard, GuardUsageError, LogError, ManualClock, verify_log
from paybill.guard.decision import Decision
from paybill.guard.files import bounded_lines, open_regular_binary
from paybill.guard.log import MAX_LINE_BYTES
from paybill.guard.replay import TraceError, replay
from paybill.guard.signing import SigningKeyError, load_private_key

EXIT_DENY = 3
EXIT_REFUSED = 4
EXIT_USAGE = 2

bundle_option = click.option("--bundle", "bundle", required=True,
                             type=click.Path(path_type=Path, file_okay=False, exists=True),
                             help="The agent's bundle folder (generated/bundles/<agent>).")
public_key_option = click.option(
    "--public-key", type=click.Path(path_type=Path, dir_okay=False, exists=True), envvar=PUBLIC_KEY_ENV,
    multiple=True, help=f"Ed25519 public key (PEM) the bundle must be signed by; repeat to trust several (a key "
    f"rotation). Default: ${PUBLIC_KEY_ENV} (paths separated by '{os.pathsep}').")
json_option = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
expect_agent_option = click.option(
    "--expect-agent", help="Refuse the bundle (exit 4) unless its signed manifest names this agent.")
revision_store_option = click.option(
    "--revision-store", type=click.Path(path_type=Path, dir_okay=False),
    help="State file of the revisions loaded before: refuse an older one (exit 4), record a new one.")


def _load(bundle: Path, public_key: tuple[Path, ...], **options: Any) -> Guard:
    try:
        return Guard.load(bundle, list(public_key) or None, **options)
    except BundleError as exc:
        click.echo(f"paybill: bundle refused ({exc.reason}): {exc}", err=True)
        sys.exit(EXIT_REFUSED)


def _columns(values: tuple[str, ...]) -> tuple[str, ...]:
    """``--columns a,b --columns c`` -> (a, b, c)."""
    return tuple(c.strip() for value in values for c in value.split(",") if c.strip())


def _approval_notes(guard: Guard, workflow: str, step: str, action: str, resource: str) -> list[str]:
    """What a what-if at (or into) a ``requiresApproval`` step does not show: a run needs an approval first."""
    steps = guard.workflows[workflow]["steps"]
    target = resource if action == "advance" else step
    if not steps.get(target, {}).get("requiresApproval"):
        return []
    if action == "advance":
        return [f"step '{target}' requires approval: a run enters it only after run.approve('{target}', by=<human>)"]
    return [f"step '{step}' requires approval: a run reaches it only after run.approve('{step}', by=<human>) "
            "and advance; this what-if assumes it did"]


def _print_decision(decision: Decision, as_json: bool, notes: list[str]) -> None:
    if as_json:
        extra = {"notes": notes} if notes else {}
        click.echo(orjson.dumps({"revision": decision.revision, **decision.to_dict(), **extra},
                                option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode())
        return
    click.echo(decision.summary())
    for note in notes:
        click.echo(f"  note: {note}")
    for reason in decision.reasons:
        click.echo(f"  policy: {reason}")
    if decision.denied_columns:
        click.echo(f"  columns not granted: {', '.join(decision.denied_columns)}")
    for error in decision.errors:
        click.echo(f"  error: {error}")


@click.group("guard")
def guard_group() -> None:
    """Ask, replay and audit an agent bundle's decisions."""


@guard_group.command("check")
@bundle_option
@click.option("--tenant", required=True, help="The run's tenant.")
@click.option("--workflow", required=True, help="The workflow the run follows.")
@click.option("--step", required=True, help="The step the run is in (what-if: the path to it is not checked).")
@click.option("--action", required=True,
              type=click.Choice(["read", "insert", "update", "delete", "propose", "approve", "advance"]))
@click.option("--resource", required=True, help="Table (data actions), spec kind (propose) or target step (advance).")
@click.option("--columns", multiple=True, help="Columns (or spec fields for propose), comma separated or repeated.")
@click.option("--rows", type=click.IntRange(min=0), default=0, show_default=True, help="Rows the operation touches.")
@click.option("--resource-tenant", help="The tenant whose data the resource is (default: the run's tenant).")
@public_key_option
@expect_agent_option
@revision_store_option
@json_option
def check_command(bundle: Path, tenant: str, workflow: str, step: str, action: str, resource: str,
                  columns: tuple[str, ...], rows: int, resource_tenant: str | None, public_key: tuple[Path, ...],
                  expect_agent: str | None, revision_store: Path | None, as_json: bool) -> None:
    """Print the decision for one request and its reasons.

    Exit 0 allowed, 3 denied, 4 bundle refused, 2 usage error.

    \b
    Example:
      paybill guard check --bundle generated/bundles/billing-agent --tenant vandelay \\
        --workflow dunning --step list-invoices --action read --resource invoices \\
        --columns id,status --rows 40
    """
    guard = _load(bundle, public_key, expect_agent=expect_agent, revisions=revision_store)
    try:
        decision = guard.evaluate(tenant=tenant, workflow=workflow, step=step, action=action, resource=resource,
                                  columns=_columns(columns), rows=rows, resource_tenant=resource_tenant)
    except GuardUsageError as exc:
        raise click.UsageError(str(exc)) from None
    _print_decision(decision, as_json, _approval_notes(guard, workflow, step, action, resource))
    sys.exit(EXIT_OK if decision.allowed else EXIT_DENY)


@guard_group.command("replay")
@bundle_option
@click.argument("trace", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--strict", is_flag=True, help="Also compare reasons (policy ids), not only allow/deny and violations.")
@public_key_option
@expect_agent_option
def replay_command(bundle: Path, trace: Path, strict: bool, public_key: tuple[Path, ...],
                   expect_agent: str | None) -> None:
    """Replay a recorded trace (JSON Lines, e.g. a decision log).

    Exit 0 every decision as recorded, 1 some differ, 4 bundle refused, 2 unreadable trace.
    """
    clock = ManualClock()
    guard = _load(bundle, public_key, clock=clock, expect_agent=expect_agent)
    try:
        with open_regular_binary(trace) as handle:
            result = replay(guard, bounded_lines(handle, MAX_LINE_BYTES), clock=clock, strict=strict)
    except OSError as exc:
        click.echo(f"paybill: cannot read trace: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    except TraceError as exc:
        click.echo(f"paybill: {trace.as_posix()}: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    for difference in result.differences:
        click.echo(f"{trace.as_posix()}:{difference.line}: {difference.describe()}")
    if result.omitted:
        click.echo(more_line(result.omitted, "difference"))
    click.echo(f"{result.decisions} decisions replayed, {len(result.differences) + result.omitted} differ")
    sys.exit(EXIT_OK if result.ok else EXIT_DIAGNOSTICS)


@guard_group.command("verify-log")
@click.argument("log", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--expect-head", help="The head hash recorded earlier; detects a truncated or replaced log.")
def verify_log_command(log: Path, expect_head: str | None) -> None:
    """Check a decision log's hash chain. Exit 0 intact, 1 edited, removed or inserted lines."""
    report = verify_log(log, expect_head)
    for line, message in report.problems:
        click.echo(f"{log.as_posix()}:{line}: {message}")
    if report.omitted:
        click.echo(more_line(report.omitted))
    count = len(report.problems) + report.omitted
    state = "intact" if report.ok else f"BROKEN ({count} problem{'' if count == 1 else 's'})"
    click.echo(f"{report.lines} lines, {state}; head {report.head}")
    sys.exit(EXIT_OK if report.ok else EXIT_DIAGNOSTICS)


@guard_group.command("shadow-report")
@click.argument("log", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text for people, json for tools.")
def shadow_report_command(log: Path, fmt: str) -> None:
    """Summarise a shadow log: disagreements by kind, candidate policy and tool, with examples.

    Exit 0 read completely, 1 some lines (or the file) could not be read (PB1401, PB1402; the
    summary still covers every readable line), 2 usage error.
    """
    from paybill.diagnostics import Diagnostic, Position
    from paybill.diagnostics.render import render_text as render_diagnostics
    from paybill.guard.shadow_report import render_text, summarise

    report = summarise(log)
    if fmt == "json":
        click.echo(orjson.dumps(report.to_dict(), option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2).decode())
    else:
        click.echo(render_text(report, log.as_posix()), nl=False)
    if report.problems:
        diagnostics = [
            Diagnostic("PB1401", message, log.as_posix(), Position(),
                       "pass the JSONL file a ShadowGuard writes (paybill serve --shadow ... --shadow-log FILE)")
            if line == 0 else
            Diagnostic("PB1402", message, log.as_posix(), Position(line, 1),
                       "a shadow log holds only ShadowGuard records; remove or restore this line")
            for line, message in report.problems]
        click.echo(render_diagnostics(diagnostics, 1, omitted=report.problems_omitted), err=True, nl=False)
    sys.exit(EXIT_DIAGNOSTICS if report.problems else EXIT_OK)
def _refuse(where: str, code: str, message: str, hint: str, status: int = EXIT_DIAGNOSTICS) -> NoReturn:
    click.echo(f"{where}:1:1: error[{code}]: {message}", err=True)
    click.echo(f"  hint: {hint}", err=True)
    sys.exit(status)


@guard_group.command("approve")
@click.argument("run_id", metavar="RUN")
@click.argument("step")
@click.option("--by", "approver", required=True, metavar="EMAIL", help="The human approving (recorded).")
@bundle_option
@click.option("--database-url", envvar="PAYBILL_DATABASE_URL", show_envvar=True, required=True,
              help="The database where `paybill serve` keeps its runs.")
@click.option("--log", "log_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Decision log to record the approval in.")
@public_key_option
def approve_command(run_id: str, step: str, approver: str, bundle: Path, database_url: str, log_path: Path | None,
                    public_key: tuple[Path, ...]) -> None:
    """Approve STEP of a served run RUN as a human (never the agent): its next advance into STEP proceeds.

    Exit status: 0 approved, 1 refused (PB1310: no such run; PB1311: the step needs no approval or the
    approver is not a human), 3 the database cannot be reached, 4 bundle refused.

    \b
    Example (RUN is the run_id the agent's start_run returned):
      paybill guard approve run-7ec6... close-tickets --by oncall@example.com \\
        --bundle generated/bundles/ops-agent --database-url "$PAYBILL_DATABASE_URL"
    """
    import psycopg

    from paybill.serve.approvals import approve
    from paybill.serve.service import new_clock

    try:
        guard = _load(bundle, public_key, clock=new_clock(), log=log_path)
    except LogError as exc:  # a FIFO, a device, a symlink loop: the message says which
        raise click.BadParameter(str(exc), param_hint="--log") from None
    where = (bundle / "manifest.json").as_posix()
    try:
        result = approve(guard, database_url, run_id, step, approver)
    except psycopg.OperationalError:
        _refuse(where, "PB1303", "cannot connect to the database",
                "check --database-url: server, user and database name", EXIT_DENY)
    if result.decision is None:
        _refuse(where, "PB1310", result.problem,
                "use the run id the agent's start_run returned, with the bundle of that agent")
    if not result.decision.allowed:
        _refuse(where, "PB1311", f"approval refused: {'; '.join(result.decision.errors)}",
                "approve a step that requires approval, as a human (an email), not the agent")
    click.echo(f"approved step '{step}' of run {run_id} by {approver.strip()}")
    sys.exit(EXIT_OK)


def _listed_otherwise(out: Path, written: dict[str, bytes]) -> int:
    """How many of the bundle files now in ``OUT`` ``paybill compile``'s ``OUT/manifest.json`` lists with other
    bytes (``paybill bundle --signing-key`` over a compiled tree: the tree's manifest is not rewritten)."""
    import hashlib

    from paybill.guard.files import read_regular

    if not written:
        return 0
    try:
        manifest = orjson.loads(read_regular(out / "manifest.json", 64 * 1024 * 1024))
        listed = manifest["outputs"]["bundles"]
    except (OSError, ValueError, KeyError, TypeError):
        return 0  # no compile manifest there (a folder of bundles only): nothing to disagree with
    if not isinstance(listed, dict):
        return 0
    return sum(1 for path, data in written.items()
               if path in listed and listed[path] != "sha256:" + hashlib.sha256(data).hexdigest())


@click.command("bundle")
@specs_argument
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), default=Path("generated"),
              show_default=True, help="Output root; bundles go to OUT/bundles/<agent>/.")
@click.option("--agent", "agents", multiple=True, help="Only these agents (repeatable); default all.")
@click.option("--signing-key", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="Ed25519 private key (PEM) to sign manifests with (default: $PAYBILL_BUNDLE_SIGNING_KEY).")
@format_option
def bundle_command(specs: Path, out: Path, agents: tuple[str, ...], signing_key: Path | None, fmt: str) -> None:
    """Validate SPECS and write agent bundles only (paybill compile writes them with everything else).

    SPECS is the specs folder (default: ./specs).
    """
    from paybill.diagnostics import DiagnosticSink, Position
    from paybill.emit.bundles.emitter import emit_bundles
    from paybill.emit.contract import EmitContext
    from paybill.validate import validate_repository
    from paybill.write.atomic import write_bytes_atomic

    require_specs(specs)
    if (out.exists() or out.is_symlink()) and not out.is_dir():  # a FIFO, a device, a symlink loop
        raise click.BadParameter(f"'{out}' exists and is not a folder", param_hint="--out")
    key = None
    if signing_key is not None:
        try:
            key = load_private_key(signing_key)
        except SigningKeyError as exc:
            raise click.BadParameter(str(exc), param_hint="--signing-key") from None
    result = validate_repository(specs)
    sink = DiagnosticSink()
    sink.extend(result.diagnostics)
    tree = emit_bundles(EmitContext(result.index, sink, signing_key=key)) if result.ok else {}
    unknown = sorted(set(agents) - set(result.index.names("Agent")))
    if unknown:
        raise click.UsageError(f"unknown agent(s): {', '.join(unknown)}")
    written: list[str] = []
    try:
        for path, data in sorted(tree.items()) if not sink.has_errors else ():
            if agents and path.split("/")[1] not in agents:
                continue
            target = out / path
            if not target.is_file() or target.read_bytes() != data:
                write_bytes_atomic(target, data)
                written.append(path)
    except OSError as exc:  # a file in the way of a folder, no permission, a full disk, /proc
        where = f" ({exc.filename})" if exc.filename else ""
        sink.error("PB0694", f"cannot write output: {exc.strerror or exc}{where}", out.as_posix(), Position(),
                   f"{len(written)} bundle file(s) were written before the failure; a bundle whose files and manifest "
                   f"disagree is refused at load (hash): fix the folder and run paybill bundle again")
    print_diagnostics(fmt, sink.sorted(), result.files)
    if sink.has_errors:
        sys.exit(EXIT_DIAGNOSTICS)
    stale = _listed_otherwise(out, {path: data for path, data in tree.items()
                                    if not agents or path.split("/")[1] in agents})
    if stale:
        click.echo(f"warning: {(out / 'manifest.json').as_posix()} (written by paybill compile) still lists "
                   f"other bytes for {stale} bundle file{'s' if stale != 1 else ''}, so `paybill compile --check` "
                   f"reports the folder stale; to sign a committed tree, run `paybill compile` with "
                   f"PAYBILL_BUNDLE_SIGNING_KEY set instead", err=True)
    if fmt == "text":
        click.echo(f"wrote {len(written)} bundle file{'s' if len(written) != 1 else ''} under "
                   f"{(out / 'bundles').as_posix()}/")
    sys.exit(EXIT_OK)
