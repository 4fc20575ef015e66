"""``paybill serve``: an agent's bundle as an MCP server over its database (stdio or streamable HTTP).

Start-up problems are PB13xx diagnostics, all of them in one run, then exit 1 (exit 2 for usage
errors such as ``--shadow`` without ``--shadow-log``); nothing is served until every check passed.

``--shadow CANDIDATE`` wraps the enforcing guard in a :class:`~paybill.guard.shadow.ShadowGuard`:
the candidate is asked every question and only logged. A candidate that is refused at load (hash,
signature, goldens, another agent) does not stop the server: the shadow is off, the refusal is the
shadow log's ``candidate-refused`` line and a warning on standard error. ``--authzen`` mounts the
AuthZEN endpoint (:func:`paybill.authzen.create_app`) on the HTTP server, behind the same token.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import click

from paybill.contract.bundle import PUBLIC_KEY_ENV

TOKEN_ENV = "PAYBILL_SERVE_TOKEN"
DATABASE_ENV = "PAYBILL_DATABASE_URL"
MIN_TOKEN_CHARS = 16
MAX_TOKEN_BYTES = 4096


def _report(problems: list[tuple[str, str, str, str]]) -> NoReturn:
    for path, code, message, hint in problems:
        click.echo(f"{path}:1:1: error[{code}]: {message}", err=True)
        if hint:
            click.echo(f"  hint: {hint}", err=True)
    sys.exit(1)


def _listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise click.BadParameter(f"{value!r} is not HOST:PORT (for example 127.0.0.1:8750)", param_hint="--listen")
    return host, int(port)


def _token(token_file: Path | None, token_env: str) -> tuple[str | None, tuple[str, str, str, str] | None]:
    """The bearer token, or the problem that keeps the HTTP transport from starting."""
    where = token_file.as_posix() if token_file else f"${token_env}"
    if token_file is not None:
        from paybill.guard.files import read_regular

        try:
            raw = read_regular(token_file, MAX_TOKEN_BYTES).decode("utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            return None, (where, "PB1304", f"cannot read the bearer token file: {exc}",
                          "a regular UTF-8 file of at most 4 KiB holding the token")
    else:
        raw = os.environ.get(token_env, "").strip()
    if not raw:
        return None, (where, "PB1304", "the HTTP transport needs a bearer token; none was given",
                      f"pass --token-file FILE or set {TOKEN_ENV} (at least {MIN_TOKEN_CHARS} characters)")
    if len(raw) < MIN_TOKEN_CHARS or any(c.isspace() for c in raw):
        return None, (where, "PB1304", f"the bearer token is too weak (at least {MIN_TOKEN_CHARS} characters, "
                                       "no spaces)", "generate one: python -c 'import secrets; "
                                                     "print(secrets.token_urlsafe(32))'")
    return raw, None


def _missing(folder: Path, code: str, what: str, inside: str) -> tuple[str, str, str, str] | None:
    """The problem of a --bundle or --catalog folder that does not exist, naming the ones that do.

    A folder copied from an example (``generated/bundles/ops-agent`` in a repository whose agents are
    others) was reported as a bundle refused for a missing manifest.json, or as an unusable catalog
    with an OSError, as if a compiled folder had been damaged.
    """
    if folder.is_dir():
        return None
    from paybill.diagnostics.suggest import did_you_mean

    parent = folder.parent
    try:
        present = sorted(p.name for p in parent.iterdir() if p.is_dir()) if parent.is_dir() else []
    except OSError:  # an unreadable parent: the hint then says to compile, which is still the way out
        present = []
    if not present:
        hint = f"no {inside} in {parent.as_posix()}/: run `paybill compile` in the spec repository first"
    else:
        guess = did_you_mean(folder.name, present)
        hint = f"{inside} in {parent.as_posix()}/: {', '.join(present)}" + (f"; {guess}" if guess else "")
    return (folder.as_posix(), code, f"no {what} at '{folder.as_posix()}'", hint)


@click.command("serve")
@click.option("--bundle", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="The agent's bundle (generated/bundles/<agent>).")
@click.option("--catalog", required=True, type=click.Path(path_type=Path, file_okay=False),
              help="The database's compiled folder (generated/sql/<database>), of the bundle's compile; its "
                   "catalog names every table.")
@click.option("--database-url", envvar=DATABASE_ENV, help=f"libpq connection string [env {DATABASE_ENV}].")
@click.option("--transport", type=click.Choice(["stdio", "http"]), default="stdio", show_default=True)
@click.option("--listen", default="127.0.0.1:8750", show_default=True, help="HOST:PORT for --transport http "
              "(loopback by default; port 0 picks a free port, printed on standard error).")
@click.option("--token-file", type=click.Path(path_type=Path, dir_okay=False),
              help=f"File holding the HTTP bearer token (default: the {TOKEN_ENV} environment variable).")
@click.option("--log", "log_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Decision log (hash-chained JSON lines); one file per server process.")
@click.option("--public-key", type=click.Path(path_type=Path, dir_okay=False), envvar=PUBLIC_KEY_ENV, multiple=True,
              help=f"Ed25519 public key: refuse a bundle not signed with it; repeat to trust several (a key "
                   f"rotation). Default: ${PUBLIC_KEY_ENV} (paths separated by '{os.pathsep}').")
@click.option("--expect-agent", help="Refuse the bundle (PB1301) unless its manifest names this agent (signed "
              "with --public-key): another agent's bundle copied into this one's folder is not served.")
@click.option("--revision-store", type=click.Path(path_type=Path, dir_okay=False),
              help="Refuse a bundle revision older than the newest served with this store.")
@click.option("--run-ttl", type=click.IntRange(min=1, max=7 * 86400), default=3600, show_default=True,
              help="Seconds after which a run expires.")
@click.option("--spec-repo", type=click.Path(path_type=Path, file_okay=False),
              help="Spec repository for propose_change (runs `paybill propose` in it).")
@click.option("--max-body", type=click.IntRange(min=1024), default=1_000_000, show_default=True,
              help="Largest HTTP request body in bytes.")
@click.option("--rate", type=click.FloatRange(min=1), default=2000.0, show_default=True,
              help="HTTP requests per second (a token bucket with a burst of a tenth of a second's worth, "
                   "at least 10).")
@click.option("--read-timeout", type=click.FloatRange(min=0.1, max=3600), default=30.0, show_default=True,
              help="Seconds a client has to send one whole HTTP request (headers and body); a slower one gets "
                   "408 and its connection is closed.")
@click.option("--pool-size", type=click.IntRange(min=1, max=64), default=8, show_default=True,
              help="PostgreSQL connections.")
@click.option("--shadow", type=click.Path(path_type=Path, file_okay=False),
              help="Candidate bundle (the next revision) asked every question beside the enforcing one; it never "
                   "decides. Disagreements go to --shadow-log.")
@click.option("--shadow-log", type=click.Path(path_type=Path, dir_okay=False),
              help="JSON Lines log of --shadow disagreements (read it with `paybill guard shadow-report`).")
@click.option("--workers", type=click.IntRange(min=1, max=64), default=1, show_default=True,
              help="HTTP server processes on the listening address (one per core; each with its own "
                   "--pool-size connections and decision log FILE.N.jsonl; --rate is shared out).")
@click.option("--authzen", is_flag=True, help="Also answer OpenID AuthZEN evaluation requests on the HTTP "
              "server (/access/v1/evaluation[s], /.well-known/authzen-configuration), same bearer token.")
def serve_command(bundle: Path, catalog: Path, database_url: str | None, transport: str, listen: str,
                  token_file: Path | None, log_path: Path | None, public_key: tuple[Path, ...],
                  expect_agent: str | None, revision_store: Path | None, run_ttl: int, spec_repo: Path | None,
                  max_body: int, rate: float, read_timeout: float, pool_size: int, shadow: Path | None,
                  shadow_log: Path | None, authzen: bool, workers: int) -> None:
    """Serve the agent of --bundle as an MCP server: generated tools, every call through the guard and
    guard.db, run state in PostgreSQL (schema paybill) so replicas share one set of limits.

    Bundle and catalog must be of one compile (PB1313), the database migrated to the catalog's
    revision (PB1312). While serving, a `paybill db migrate` of the database makes the server load
    --bundle and --catalog again, verified as at start, or refuse every call with the reason until
    they match the migrated revision (docs/serve.md, Following the database).

    Exit status: 1 when it cannot start (PB13xx diagnostics), 2 usage error, 0 after a clean shutdown.

    \b
    Example (the database migrated first with paybill db migrate):
      paybill serve --bundle generated/bundles/support-assistant \\
        --catalog generated/sql/tenant-acme-corp --database-url "$PAYBILL_DATABASE_URL" \\
        --transport http --listen 127.0.0.1:8750 --token-file token
    """
    if shadow is not None and shadow_log is None:
        raise click.UsageError("--shadow needs --shadow-log FILE (where the disagreements are written)")
    if shadow_log is not None and shadow is None:
        raise click.UsageError("--shadow-log is the log of --shadow CANDIDATE_BUNDLE; pass both")
    if authzen and transport != "http":
        raise click.UsageError("--authzen needs --transport http (the endpoint is mounted on the HTTP server)")
    if workers > 1 and transport != "http":
        raise click.UsageError("--workers needs --transport http (a stdio client talks to one process)")
    if not database_url:
        raise click.UsageError(f"--database-url (or {DATABASE_ENV}) is required")
    host, port = _listen(listen)
    from paybill.guard import BundleError, Guard, LogError
    from paybill.serve.workers import worker_path

    problems: list[tuple[str, str, str, str]] = []
    guard = plan = token = None
    from paybill.serve.service import ServeConfig, Service, new_clock

    try:
        if missing := _missing(bundle, "PB1301", "agent bundle", "bundles"):
            problems.append(missing)
        else:
            guard = Guard.load(bundle, list(public_key) or None, clock=new_clock(), expect_agent=expect_agent,
                               log=worker_path(log_path, 1, workers) if log_path else None)
    except BundleError as exc:
        problems.append(((bundle / "manifest.json").as_posix(), "PB1301", f"bundle refused ({exc.reason}): {exc}",
                         "serve only what `paybill compile` wrote and review approved"))
    except LogError as exc:  # a FIFO, a device, a symlink loop: its message already says what the log is
        problems.append(((log_path or bundle).as_posix(), "PB1301", str(exc),
                         "--log names a regular file (created if missing), one per server process"))
    except OSError as exc:
        problems.append(((log_path or bundle).as_posix(), "PB1301", f"cannot open the decision log: {exc}", ""))
    shadow_guard = None
    if guard is not None and shadow is not None and shadow_log is not None:
        shadow_guard, problem = _shadow(guard, shadow, worker_path(shadow_log, 1, workers), public_key)
        if problem:
            problems.append(problem)
    from paybill.serve import live

    compiled = None
    try:
        if missing := _missing(catalog, "PB1302", "database catalog", "databases"):
            problems.append(missing)
        else:
            compiled = live.read_catalog(catalog)
            plan = compiled.plan
    except live.Refused as exc:
        problems.append(exc.problem())
    if transport == "http":
        token, problem = _token(token_file, TOKEN_ENV)
        if problem:
            problems.append(problem)
    if spec_repo is not None and not (spec_repo / "specs").is_dir():
        problems.append((spec_repo.as_posix(), "PB1307", "the spec repository has no specs/ folder",
                         "point --spec-repo at a checkout of the spec repository (paybill init makes one)"))
    if problems:
        _report(problems)
    assert guard is not None and plan is not None and compiled is not None
    refused = live.no_role(guard.agent, compiled) or live.mismatch(guard.bundle, compiled)
    if refused is not None:
        _report([refused.problem()])
    origin = live.Origin(bundle, catalog, public_key, expect_agent, revision_store)
    config = ServeConfig(run_ttl_seconds=run_ttl, spec_repo=spec_repo, pool_max=pool_size,
                         pool_min=min(2, pool_size))
    if workers > 1:
        assert token is not None
        logs = _worker_logs(guard, log_path, shadow_guard, shadow_log, workers)
        sys.exit(_serve_workers(workers, logs, guard, shadow_guard, compiled, origin, database_url, config, token,
                                host, port, listen, max_body, rate, authzen, read_timeout))
    service = Service(guard, plan, database_url, config, shadow=shadow_guard)
    watched = _open(service, compiled, database_url)
    _admit(origin, guard, watched, service.close)
    if watched:
        _follow(service, origin, compiled)
    from paybill.serve.mcp_app import build_server
    from paybill.serve.metrics import ServeMetrics

    metrics = ServeMetrics(guard.agent, set(service.tools))
    server = build_server(service, metrics)
    try:
        if transport == "stdio":
            from paybill.serve.transport import serve_stdio

            serve_stdio(server)
        else:
            from paybill.serve.transport import serve_http

            sock = _bind(host, port, listen)
            assert token is not None
            app = _http_app(server, metrics, token, host, max_body, rate, authzen, _Current(service))
            serve_http(app, sock, read_timeout=read_timeout)
    finally:
        service.close()
        if shadow_guard is not None:
            shadow_guard.close()


def _bind(host: str, port: int, listen: str) -> Any:
    from paybill.serve.transport import bind

    try:
        return bind(host, port)
    except OSError as exc:
        _report([(listen, "PB1305", f"cannot listen on {listen}: {exc.strerror or exc}",
                  "pick a free port (0 picks one) or stop the process that holds it")])


def _http_app(server: Any, metrics: Any, token: str, host: str, max_body: int, rate: float, authzen: bool,
              decider: Any) -> Any:
    """The HTTP app of one process; ``rate`` is this process's share of ``--rate``."""
    from paybill.serve.transport import HttpLimits, http_app

    limits = HttpLimits(max_body_bytes=max_body, rate_per_second=rate, burst=max(10, int(rate / 10)))
    decisions = None
    if authzen:
        from paybill.authzen import create_app

        decisions = create_app(decider, token=token)
    return http_app(server, metrics, token, host, limits, authzen=decisions)


def _worker_logs(guard: Any, log_path: Path | None, shadow_guard: Any, shadow_log: Path | None, workers: int
                 ) -> list[tuple[Any, Any]]:
    """Each worker's (decision log, shadow log), opened here so a problem stops the start once.

    Worker 1's were opened with the guard and the shadow; a chain has one writer, so every worker
    continues its own file (:func:`paybill.serve.workers.worker_path`).
    """
    from paybill.guard import DecisionLog, LogError
    from paybill.guard.shadow import ShadowLog
    from paybill.serve.workers import worker_path

    logs: list[tuple[Any, Any]] = [(guard.log, shadow_guard.shadow_log if shadow_guard is not None else None)]
    for index in range(2, workers + 1):
        decision = shadow = None
        try:
            if log_path is not None:
                decision = DecisionLog(worker_path(log_path, index, workers))
            if shadow_log is not None:
                shadow = ShadowLog(worker_path(shadow_log, index, workers))
        except (LogError, OSError) as exc:
            _report([((log_path or shadow_log or Path(".")).as_posix(), "PB1301",
                      f"cannot open worker {index}'s log: {exc}", "")])
        logs.append((decision, shadow))
    return logs


def _follow(service: Any, origin: Any, compiled: Any) -> None:
    """Make ``service`` follow the database's migrates (:class:`paybill.serve.service.Service`)."""
    from paybill.serve.service import Watch

    service.follow(Watch(origin, compiled.database), compiled.revision)


class _Current:
    """The guard a ``--authzen`` endpoint decides with: the one the service serves now (after a reload
    too), so AuthZEN answers and tool calls never come from two revisions for long."""

    def __init__(self, service: Any) -> None:
        self._service = service

    def __getattr__(self, name: str) -> Any:
        served = self._service.served
        return getattr(served.shadow or served.guard, name)


def _serve_workers(workers: int, logs: list[tuple[Any, Any]], guard: Any, shadow_guard: Any, compiled: Any,
                   origin: Any, database_url: str, config: Any, token: str, host: str, port: int, listen: str,
                   max_body: int, rate: float, authzen: bool, read_timeout: float) -> int:
    """Check the database once, bind, fork ``workers`` servers (:mod:`paybill.serve.workers`); the exit status.

    The parent's check uses a pool of its own, closed (its threads ended) before the fork; each
    worker opens its own pool, serves with its own logs, and writes its metrics where all workers'
    are merged.
    """
    import shutil
    import tempfile

    from paybill.serve.service import Service
    from paybill.serve.transport import announce, bind_workers, serve_http
    from paybill.serve.workers import WorkerError, supervise

    plan = compiled.plan
    probe = Service(guard, plan, database_url, config, shadow=shadow_guard)
    watched = _open(probe, compiled, database_url)
    probe.close()
    _admit(origin, guard, watched, lambda: None)
    try:
        socks = bind_workers(host, port, workers)
    except OSError as exc:
        _report([(listen, "PB1305", f"cannot listen on {listen}: {exc.strerror or exc}",
                  "pick a free port (0 picks one) or stop the process that holds it")])
    shared = Path(tempfile.mkdtemp(prefix="paybill-serve-metrics-"))

    def work(index: int, ready: Callable[[], None]) -> int:
        from paybill.serve.mcp_app import build_server
        from paybill.serve.metrics import ServeMetrics

        for other, (decision, shadow) in enumerate(logs, start=1):
            if other != index:  # this process's copies of the other workers' files
                for log in (decision, shadow):
                    if log is not None:
                        log.close()
        guard.log, own_shadow = logs[index - 1]
        if shadow_guard is not None:
            shadow_guard.shadow_log = own_shadow
        service = Service(guard, plan, database_url, config, shadow=shadow_guard)
        try:
            _open(service, compiled, database_url, revision=False)
            if watched:
                _follow(service, origin, compiled)
            metrics = ServeMetrics(guard.agent, set(service.tools), shared_dir=shared)
            server = build_server(service, metrics)
            app = _http_app(server, metrics, token, host, max_body, rate / workers, authzen, _Current(service))
            ready()
            sock = socks[(index - 1) % len(socks)]
            for other in socks:
                if other is not sock:
                    other.close()  # this process's copies; the workers they belong to keep theirs
            serve_http(app, sock, print_address=False, read_timeout=read_timeout)
        finally:
            service.close()
            if shadow_guard is not None:
                shadow_guard.close()
        return 0

    try:
        return supervise(workers, work, graceful_seconds=10,
                         started=lambda: announce(socks[0], f" ({workers} workers)"))
    except WorkerError as exc:
        _report([(listen, "PB1305", str(exc), "run without --workers (one process), or one replica per core")])
    finally:
        for sock in socks:
            sock.close()
        for decision, shadow in logs:
            for log in (decision, shadow):
                if log is not None:
                    log.close()
        shutil.rmtree(shared, ignore_errors=True)


def _shadow(guard: Any, candidate: Path, log: Path, public_key: tuple[Path, ...]
            ) -> tuple[Any, tuple[str, str, str, str] | None]:
    """The ShadowGuard of ``--shadow``, or the problem that keeps the server from starting."""
    from paybill.cli.shadow_start import start_shadow

    return start_shadow("paybill serve", guard, candidate, log, public_key, "enforces alone")


def _reachable(path: str, database_url: str, compiled: Any) -> bool:
    """One plain connection before the pool opens: a server that is down, a wrong password or a
    missing database is reported with libpq's reason at once, instead of the pool's retries logging
    a warning each and ending in a bare PoolTimeout. On it, the database's migrated revision is
    compared with the catalog's (:mod:`paybill.serve.revision`, PB1312); True when it was (the
    database has a ledger the server can follow), False when there was none to compare with."""
    import psycopg

    from paybill.dbops.connect import connect
    from paybill.dbops.errors import DbOpsError
    from paybill.dbops.ledger import recorded_revisions

    try:
        conn = connect(database_url, path, "paybill serve")
    except DbOpsError as exc:
        _report([(path, "PB1303", p.message, "check --database-url: server, user and database name "
                  "(the password is never printed)") for p in exc.problems])
    if compiled is None:
        conn.close()
        return False
    try:
        recorded = recorded_revisions(conn)
    except psycopg.Error as exc:
        _report([(path, "PB1312", f"cannot read the database's ledger: {type(exc).__name__}: {exc}",
                  "check that the server's login is a member of paybill_guard")])
    finally:
        conn.close()
    from paybill.serve.revision import CODE, check_revision

    checked = check_revision(recorded, compiled.database, compiled.revision, compiled.folder.as_posix())
    if checked.error is not None:
        _report([(path, CODE, *checked.error)])
    if checked.warning is not None:
        click.echo(f"paybill serve: warning: {checked.warning}", err=True)
        return False
    return True


def _admit(origin: Any, guard: Any, watched: bool, close: Callable[[], None]) -> None:
    """Record the bundle's revision in --revision-store once everything else was checked: with the
    database's ledger compared (``watched``) the revision is the deployed one and one seen before is
    served again (a reactivated tenant's); without a ledger, one seen before a newer one is a rollback
    (PB1301, :func:`paybill.serve.live.admit_revision`)."""
    from paybill.serve import live

    try:
        live.admit_revision(origin, guard, current=watched)
    except live.Refused as exc:
        close()
        _report([exc.problem()])


def _open(service: Any, compiled: Any, database_url: str, *, revision: bool = True) -> bool:
    """Open the service's pool, after a plain connection that reports an unreachable database and (unless
    ``revision`` is False: a ``--workers`` worker, whose parent checked before forking) compares the
    database's migrated revision with the catalog's; whether it was compared (see :func:`_reachable`)."""
    from psycopg import OperationalError
    from psycopg_pool import PoolTimeout

    from paybill.guard.db import SetupError
    from paybill.serve.state import StateError

    path = (compiled.folder / "migrations.json").as_posix()
    watched = _reachable(path, database_url, compiled if revision else None)
    try:
        service.open()
    except (PoolTimeout, OperationalError) as exc:
        service.close()
        _report([(path, "PB1303", f"cannot connect to the database ({type(exc).__name__})",
                  "check --database-url: server, user and database name (the password is never printed)")])
    except SetupError as exc:
        service.close()
        _report([(path, "PB1303", str(exc), "connect to the database this folder was compiled for")])
    except StateError as exc:
        service.close()
        _report([(path, "PB1306", str(exc), "create schema paybill once as its owner (docs/serve.md), or let "
                                            "the server's login create it")])
    return watched
