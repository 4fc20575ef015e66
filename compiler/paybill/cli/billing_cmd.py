"""``paybill billing sync|serve``: subscription events become proposal branches, never commits to main."""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from paybill.cli.common import EXIT_DIAGNOSTICS, EXIT_OK, format_option, print_diagnostics
from paybill.diagnostics import Diagnostic, Position

SECRET_ENV = "STRIPE_WEBHOOK_SECRET"
DEFAULT_STATE = Path(".paybill/billing-state.json")


def _now(text: str | None) -> int:
    if text is None:
        return int(time.time())
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise click.UsageError(f"--now: '{text}' is not an ISO 8601 time (2026-12-05T00:00:00Z)") from None
    if moment.tzinfo is None:
        raise click.UsageError("--now needs a time zone (append Z for UTC)")
    return int(moment.timestamp())


STORE_UNAVAILABLE = "PB1019"
"""The state store (file or PostgreSQL) cannot be opened: nothing is processed, exit 3."""
BODY_UNWRITTEN = "PB1020"
"""A proposal's pull-request body could not be written to --pr-dir after the proposal was made: exit 1."""


def _store(state: Path | None, database_url: str | None, schema: str):
    from paybill.billing.store import open_store

    if state is not None and database_url:
        raise click.UsageError("give --state (one receiver) or --database-url (several), not both")
    try:
        return open_store(state or DEFAULT_STATE, database_url, schema)
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    except Exception as error:  # psycopg.OperationalError and friends: nothing to process without a store
        # One compiler-style line (libpq's reason is several lines; the URL's password is never shown).
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        where = "<billing-database>" if database_url else (state or DEFAULT_STATE).as_posix()
        click.echo(f"{where}:1:1: error[{STORE_UNAVAILABLE}]: cannot open the billing state store: {reason}", err=True)
        click.echo("  hint: check --database-url (server, user, database) or the --state file's folder; "
                   "nothing was processed, Stripe's retries and the next run deliver the events again", err=True)
        sys.exit(3)


def _ctx_factory(specs: Path, base: str, policies: Path | None, out: Path | None):
    from paybill.billing.proposal import open_repo

    return lambda: open_repo(specs, base, policies, out, terraform=True)


def _pr_folder(pr_dir: Path | None) -> None:
    """Make sure the pull-request bodies can be written before any event is processed.

    A proposal is final once made (its events are done, the state saved: a re-run says "already
    proposed"), so a --pr-dir found unusable only afterwards would lose its body for good.
    """
    if pr_dir is None:
        return
    try:
        pr_dir.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=pr_dir, prefix=".paybill-probe-")  # noqa: SIM115 (closed below)
        probe.close()
    except OSError as error:
        raise click.UsageError(f"--pr-dir '{pr_dir}': cannot write pull-request bodies there: "
                               f"{error.strerror or error}") from None


class _Bodies:
    """Prints each proposal and writes its pull-request body (atomically) the moment it is made.

    Called by the pass before the proposal's events are saved as done: a receiver or sync killed
    later in the pass has still written the bodies of the proposals it made (they are not proposed
    again). ``written`` is False once a body could not be written (PB1020).
    """

    def __init__(self, pr_dir: Path | None) -> None:
        self.pr_dir = pr_dir
        self.written = True

    def __call__(self, proposal) -> None:
        pr_dir = self.pr_dir
        click.echo(f"proposed {proposal.branch} for tenant '{proposal.tenant}' ({', '.join(proposal.classes)}; "
                   f"review: {proposal.review}; events: {' '.join(proposal.events)}"
                   + (f"; supersedes {proposal.supersedes}, close it" if proposal.supersedes else "") + ")", err=True)
        # what the operator does next: paybill only makes the branch (README, Wiring Stripe)
        if pr_dir is None:
            click.echo(f"  next: git push origin {proposal.branch}, then open its pull request with the body of "
                       f"`paybill plan --head {proposal.branch} --format markdown` (or run with --pr-dir)", err=True)
            return
        target = pr_dir / (proposal.branch.replace("/", "__") + ".md")
        click.echo(f"  next: git push origin {proposal.branch}, then open its pull request with the body "
                   f"{target.as_posix()} (gh pr create --head {proposal.branch} --body-file {target.as_posix()})",
                   err=True)
        try:
            pr_dir.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=pr_dir, prefix=".paybill-body-")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(proposal.body)
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as error:
            self.written = False
            click.echo(f"{target.as_posix()}:1:1: error[{BODY_UNWRITTEN}]: the pull-request body of "
                       f"{proposal.branch} was not written: {error.strerror or error}", err=True)
            click.echo(f"  hint: the branch exists and will not be proposed again; make its body with "
                       f"`paybill plan --head {proposal.branch} --format markdown`", err=True)


common = [
    click.option("--specs", type=click.Path(path_type=Path), default=Path("specs"), show_default=True,
                 help="The specs folder inside the git repository proposals are made in."),
    click.option("--base", default="HEAD", show_default=True, metavar="REF",
                 help="Propose on top of this branch (use main for a long-running receiver)."),
    click.option("--state", type=click.Path(path_type=Path, dir_okay=False),
                 help=f"State file for a single receiver [default: {DEFAULT_STATE}]."),
    click.option("--database-url", envvar="PAYBILL_BILLING_DATABASE_URL", metavar="URL",
                 help="PostgreSQL for several receivers (env PAYBILL_BILLING_DATABASE_URL)."),
    click.option("--schema", default="paybill_billing", show_default=True, help="PostgreSQL schema of the state."),
    click.option("--policies", type=click.Path(path_type=Path, file_okay=False),
                 help="Change-control policies folder [default: policies/ beside SPECS]."),
    click.option("--out", type=click.Path(path_type=Path, file_okay=False),
                 help="The compiled output folder committed with proposals [default: generated/ beside SPECS]."),
    click.option("--pr-dir", type=click.Path(path_type=Path, file_okay=False),
                 help="Write each proposal's pull-request body to DIR/<branch>.md, the branch's '/' written as '__' "
                      "(paybill__billing-agent__billing-acme-status.md)."),
]


def with_common(function):
    for option in reversed(common):
        function = option(function)
    return function


@click.group("billing")
def billing_group() -> None:
    """Turn billing-system (Stripe) subscription events into reviewed tenant proposals."""


MAX_EVENTS_BYTES = 1024 * 1024 * 1024


def read_events(path: Path) -> tuple[list, list[Diagnostic], int]:
    """The events of an export, the first bad lines' diagnostics and how many more bad lines there were
    (capped: the wrong file, a binary, would print one error per line; paybill.contract.line_problems)."""
    from paybill.billing.events import EventError, parse_event
    from paybill.contract.line_problems import keep

    events: list = []
    problems: list[Diagnostic] = []
    omitted = 0
    from paybill.contract.files import read_regular

    try:  # an exported file: a FIFO or a device is refused, never waited on or read without end
        raw = read_regular(path, MAX_EVENTS_BYTES)
    except OSError as error:
        raise click.UsageError(f"cannot read '{path}': {error.strerror or error}") from None
    for number, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        try:
            payload = json.loads(line)
            items = payload.get("data") if isinstance(payload, dict) and payload.get("object") == "list" else [payload]
            for item in items if isinstance(items, list) else [items]:
                events.append(parse_event(item))
        except (ValueError, UnicodeDecodeError, EventError) as error:
            named = f"event {error.event_id}: " if isinstance(error, EventError) and error.event_id else ""
            problem = Diagnostic("PB1010", f"{named}{error}", str(path), Position(number, 1),
                                 "each line must be one Stripe event object (or a list of them), as exported")
            if not keep(problems, problem):
                omitted += 1
    return events, problems, omitted


@billing_group.command("sync")
@click.argument("events", required=False, type=click.Path(path_type=Path, dir_okay=False))
@with_common
@click.option("--now", metavar="TIME", help="The clock for dunning deadlines (ISO 8601) [default: now].")
@format_option
def sync_command(events: Path | None, specs: Path, base: str, state: Path | None, database_url: str | None,
                 schema: str, policies: Path | None, out: Path | None, pr_dir: Path | None, now: str | None,
                 fmt: str) -> None:
    """Store the Stripe events of EVENTS (JSON Lines, as exported; each id once), then run one pass:
    events in creation order per subscription, dunning deadlines at --now, one proposal branch per
    tenant change (trailers name the events), checked by change control. Events that cannot be mapped
    are kept for the next run. Without EVENTS: a pass over kept events and the dunning clock only.

    Exit status: 0 all processed, 1 diagnostics (events kept), 2 usage error, 3 store unavailable.
    """
    from paybill.billing.engine import run_pass
    from paybill.gitio.repo import GitError

    clock = _now(now)
    if not specs.exists():
        raise click.UsageError(f"specs folder '{specs}' does not exist")
    _pr_folder(pr_dir)
    parsed, problems, omitted = read_events(events) if events is not None else ([], [], 0)
    store = _store(state, database_url, schema)
    store.enqueue(parsed)
    try:
        bodies = _Bodies(pr_dir)
        report = run_pass(store, _ctx_factory(specs, base, policies, out), clock, on_proposal=bodies)
    except GitError as error:
        raise click.UsageError(f"git: {error}") from None
    bodies_written = bodies.written
    diagnostics = problems + report.diagnostics
    if diagnostics:
        print_diagnostics(fmt, diagnostics, len(parsed), noun="event", omitted=omitted)
    unreadable = f", {len(problems) + omitted} line(s) unreadable" if problems else ""
    click.echo(f"billing: {len(parsed)} event(s) read{unreadable}, {len(report.outcomes)} handled in this pass, "
               f"{len(report.proposals)} proposal(s), {len(set(report.kept))} kept for a re-run", err=True)
    sys.exit(EXIT_DIAGNOSTICS if problems or report.failed or not bodies_written else EXIT_OK)


@billing_group.command("serve")
@with_common
@click.option("--host", default="127.0.0.1", show_default=True, help="Listen address (loopback by default).")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535))
@click.option("--tolerance", default=300, show_default=True, type=click.IntRange(1, 86400),
              help="Refuse signatures older than this many seconds (replay protection).")
@click.option("--tick", default=3600, show_default=True, type=click.IntRange(1, 86400),
              help="Seconds between passes with no delivery (the dunning clock).")
def serve_command(specs: Path, base: str, state: Path | None, database_url: str | None, schema: str,
                  policies: Path | None, out: Path | None, pr_dir: Path | None, host: str, port: int,
                  tolerance: int, tick: int) -> None:
    """Receive Stripe webhooks on http://HOST:PORT/ (any path), verify each Stripe-Signature with the
    endpoint's signing secret from $STRIPE_WEBHOOK_SECRET, store verified events once, and process them like
    `sync` in a background pass. Unsigned, mis-signed and stale deliveries get a 400 with the reason.
    Ctrl-C or SIGTERM stops it once the pass under way is done (exit 0).
    """
    from paybill.billing.server import Receiver

    secret = os.environ.get(SECRET_ENV, "")
    if not secret.strip():
        raise click.UsageError(f"set {SECRET_ENV} to the endpoint's signing secret (whsec_...)")
    if not specs.exists():
        raise click.UsageError(f"specs folder '{specs}' does not exist")
    _pr_folder(pr_dir)
    store = _store(state, database_url, schema)

    def report(result) -> None:
        if result.diagnostics:
            print_diagnostics("text", result.diagnostics, len(result.outcomes), noun="event")

    try:
        receiver = Receiver(store, _ctx_factory(specs, base, policies, out), secret, host=host, port=port,
                            tolerance=tolerance, tick=tick, on_report=report, on_proposal=_Bodies(pr_dir))
    except OSError as error:
        raise click.UsageError(f"cannot listen on {host}:{port}: {error.strerror}") from None
    bound = receiver.address
    receiver.start()
    # SIGTERM (systemd, Kubernetes) stops like Ctrl-C: the pass under way finishes its proposals, exit 0;
    # its default action killed the process mid-pass, with a proposal branch possibly half made
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        click.echo(f"paybill billing: listening on http://{bound[0]}:{bound[1]}/ (Ctrl-C stops)", err=True)
        while True:
            # short naps: a signal the kernel hands to another thread runs its handler here only once
            # this thread wakes (a sleep of an hour kept SIGTERM waiting for up to an hour)
            time.sleep(0.5)
    except KeyboardInterrupt:
        receiver.stop()


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt
