"""``paybill authzen``: serve an agent bundle's decisions as an OpenID AuthZEN endpoint (uvicorn).

Exit status: 0 after a clean shutdown, 1 a refusal to start (PB1403 token file, PB1404 listen
address, every problem reported in one run; PB1309 a --shadow-log that cannot be opened), 2 usage
error, 4 bundle refused (as ``paybill guard``). A refused --shadow candidate is a warning, not a stop.
The server never starts without a bearer token, and binds to loopback unless told otherwise.

The server follows its ``--bundle`` folder (:class:`paybill.authzen.live.LiveGuard`): a new bundle
deployed there (``paybill compile`` swapping ``generated/``) decides from the next request on,
verified as at start; one that is refused makes every decision a 503 with the reason, said once on
standard error too.
"""

from __future__ import annotations

import ipaddress
import signal
import sys
from pathlib import Path
from typing import Any

import click

from paybill.cli.common import EXIT_DIAGNOSTICS, EXIT_OK
from paybill.cli.guard_cmd import (
    EXIT_REFUSED,
    bundle_option,
    expect_agent_option,
    public_key_option,
    revision_store_option,
)
from paybill.diagnostics import Diagnostic, Position
from paybill.diagnostics.render import render_text
from paybill.guard.files import FileRefused, read_regular

TOKEN_MAX_BYTES = 4096
TOKEN_ENV = "PAYBILL_AUTHZEN_TOKEN_FILE"


def read_token(path: Path) -> tuple[str | None, Diagnostic | None]:
    """The bearer token in ``path`` (surrounding whitespace removed), or the PB1403 reason it is unusable."""
    hint = "write a long random token to a file only the server's user can read, e.g. `openssl rand -hex 32 > F`"
    try:
        data = read_regular(path, TOKEN_MAX_BYTES)
    except (FileRefused, OSError) as exc:
        return None, Diagnostic("PB1403", f"the token file cannot be read: {getattr(exc, 'strerror', None) or exc}",
                                path.as_posix(), Position(), hint)
    try:
        token = data.decode("utf-8").strip()
    except UnicodeDecodeError:
        token = ""
    if not token or any(ch.isspace() or not ch.isprintable() for ch in token):
        return None, Diagnostic("PB1403", "the token file holds no usable token (empty, not UTF-8, or with spaces "
                                          "or control characters inside)", path.as_posix(), Position(), hint)
    return token, None


def parse_listen(value: str) -> tuple[str, int] | str:
    """``HOST:PORT`` (IPv4, ``[IPv6]`` or ``localhost``) -> (host, port), or why it is not one."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        return f"--listen {value!r} is not HOST:PORT with a port from 1 to 65535"
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if host != "localhost":
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return f"--listen {value!r}: {host!r} is not an IP address (or localhost)"
    return host, int(port)


def _shadow(guard: Any, candidate: Path, log: Path, public_key: tuple[Path, ...]) -> Any:
    """The ShadowGuard of ``--shadow``, as ``paybill serve`` builds it; a log that cannot be opened stops
    the start (PB1309, exit 1; it was an internal error, exit 70)."""
    from paybill.cli.shadow_start import start_shadow

    shadow, problem = start_shadow("paybill authzen", guard, candidate, log, public_key, "answers alone")
    if problem is not None:
        path, code, message, hint = problem
        click.echo(render_text([Diagnostic(code, message, path, Position(), hint)], 1), err=True, nl=False)
        sys.exit(EXIT_DIAGNOSTICS)
    return shadow


@click.command("authzen")
@bundle_option
@click.option("--listen", default="127.0.0.1:8181", show_default=True,
              help="HOST:PORT to bind (loopback by default; put a TLS-terminating proxy in front otherwise).")
@click.option("--token-file", type=click.Path(path_type=Path, dir_okay=False), envvar=TOKEN_ENV, required=True,
              help=f"File holding the bearer token every request must carry (default: ${TOKEN_ENV}).")
@click.option("--base-url", help="The policy_decision_point URL announced in the metadata (default: as asked).")
@click.option("--shadow", "shadow", type=click.Path(path_type=Path, file_okay=False, exists=True),
              help="A candidate bundle asked every question too; disagreements go to --shadow-log.")
@click.option("--shadow-log", type=click.Path(path_type=Path, dir_okay=False),
              help="The JSONL disagreement log of --shadow (required with it).")
@public_key_option
@expect_agent_option
@revision_store_option
def authzen_command(bundle: Path, listen: str, token_file: Path, base_url: str | None, shadow: Path | None,
                    shadow_log: Path | None, public_key: tuple[Path, ...], expect_agent: str | None,
                    revision_store: Path | None) -> None:
    """Answer AuthZEN evaluation requests for one agent bundle over HTTP.

    Exit status: 1 when it cannot start (PB14xx diagnostics), 2 usage error, 4 bundle refused, 0 after
    a clean shutdown. A bundle deployed in the folder while it runs is loaded (verified as at start);
    while it is refused, every decision is an HTTP 503 with the reason.

    \b
    Example:
      openssl rand -hex 32 > authzen.token
      paybill authzen --bundle generated/bundles/billing-agent --token-file authzen.token
    """
    if shadow is not None and shadow_log is None:
        raise click.UsageError("--shadow needs --shadow-log FILE")
    problems: list[Diagnostic] = []
    token, problem = read_token(token_file)
    if problem is not None:
        problems.append(problem)
    address = parse_listen(listen)
    if isinstance(address, str):
        problems.append(Diagnostic("PB1404", address, "<command-line>", Position(),
                                   "use e.g. --listen 127.0.0.1:8181 (or [::1]:8181)"))
    if problems or token is None or isinstance(address, str):
        click.echo(render_text(problems, 1), err=True, nl=False)
        sys.exit(EXIT_DIAGNOSTICS)
    import uvicorn

    from paybill.authzen import create_app
    from paybill.authzen.live import LiveGuard, Origin
    from paybill.guard import BundleError
    from paybill.guard.shadow import ShadowGuard

    origin = Origin(bundle, public_key, expect_agent, revision_store)
    try:
        live = LiveGuard.load(origin, report=_report)
    except BundleError as exc:
        click.echo(f"paybill: bundle refused ({exc.reason}): {exc}", err=True)
        sys.exit(EXIT_REFUSED)
    guard = live.guard
    if shadow and shadow_log:  # every bundle loaded later is shadowed by the same candidate, into the same log
        shadowed = _shadow(guard, shadow, shadow_log, public_key)
        live.rewrap(lambda loaded: ShadowGuard(loaded, shadowed.candidate, log=shadowed.shadow_log))
    app = create_app(live, token=token, base_url=base_url)
    host, port = address
    click.echo(f"paybill authzen: agent {guard.agent} revision {guard.revision[:12]} on http://{listen}", err=True)
    for signum in (signal.SIGTERM, signal.SIGINT):
        # uvicorn shuts down gracefully, then raises the signal again: end with exit 0 instead of dying
        # by SIGTERM's default handler (status 143), as `paybill serve` does
        signal.signal(signum, _clean_exit)
    uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=5)
    sys.exit(EXIT_OK)


def _report(message: str) -> None:
    """What the followed bundle folder changed to (a new revision, or why it is refused), on standard error."""
    click.echo(f"paybill authzen: {message}", err=True)


def _clean_exit(signum: int, frame: Any) -> None:
    raise SystemExit(EXIT_OK)
