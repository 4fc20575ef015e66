"""``paybill db migrate | drift | export | erase``: compiled SQL against a live PostgreSQL.

Exit status: 0 done (or nothing to do), 1 refused, drift found, or a migration that failed and was
rolled back, 2 usage error, 3 the database cannot be reached (server, credentials, database name),
4 a lock was not obtained within ``--lock-timeout``. Problems are PB11xx diagnostics
(docs/errors.md); with ``--format json`` the result or the problems are one JSON document on stdout.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import click
import orjson

from paybill.dbops.connect import INTERVAL
from paybill.dbops.errors import EXIT_OK, DbOpsError

URL_ENV = "PAYBILL_DATABASE_URL"

folder_argument = click.argument("folder", type=click.Path(path_type=Path, file_okay=False))
url_option = click.option(
    "--database-url", "url", envvar=URL_ENV, show_envvar=True, required=True,
    help="libpq URL or key=value string of the database this folder belongs to.")


def _interval(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if not INTERVAL.match(value):
        raise click.BadParameter("use a PostgreSQL duration such as 500ms, 10s, 5min or 1h")
    return value


lock_timeout_option = click.option("--lock-timeout", default="10s", show_default=True, callback=_interval,
                                   help="How long to wait for a lock (another migrate, a busy table).")
statement_timeout_option = click.option("--statement-timeout", default="10min", show_default=True,
                                        callback=_interval, help="Longest any one statement may run.")
by_option = click.option("--by", default=None, help="Who or what runs this (recorded in the ledger with the login).")


def _dump(data: Any) -> None:
    click.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode())


def _fail(exc: DbOpsError, fmt: str) -> NoReturn:
    diagnostics = [p.diagnostic() for p in exc.problems]
    if fmt == "json":
        _dump({"ok": False, "exitCode": exc.exit_code, "problems": [d.to_dict() for d in diagnostics]})
    else:
        for d in diagnostics:
            click.echo(f"{d.path}:{d.position.line}:{d.position.col}: error[{d.code}]: {d.message}", err=True)
            if d.hint:
                click.echo(f"  hint: {d.hint}", err=True)
    sys.exit(exc.exit_code)


def _run(fmt: str, action: Callable[[], Any]) -> Any:
    try:
        return action()
    except DbOpsError as exc:
        _fail(exc, fmt)


@click.group("db")
def db_group() -> None:
    """Migrate, check for drift, export and erase tenant data on live PostgreSQL databases."""


@db_group.command("migrate")
@url_option
@folder_argument
@click.option("--dry-run", is_flag=True,
              help="Verify and say what would run, or what the migration would refuse (PB1114); change nothing.")
@click.option("--reapply", is_flag=True,
              help="Apply even if the ledger has this revision: repairs drift (every file converges).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@lock_timeout_option
@statement_timeout_option
@by_option
def migrate_command(url: str, folder: Path, dry_run: bool, reapply: bool, fmt: str, lock_timeout: str,
                    statement_timeout: str, by: str | None) -> None:
    """Apply FOLDER (generated/sql/<database>) in one transaction, recorded in the paybill.schema_migrations
    ledger; an already applied revision is a no-op."""
    from paybill.dbops.folder import read_folder
    from paybill.dbops.migrate import migrate

    result = _run(fmt, lambda: migrate(url, read_folder(folder), dry_run=dry_run, lock_timeout=lock_timeout,
                                       statement_timeout=statement_timeout, by=by, reapply=reapply))
    if fmt == "json":
        _dump({"ok": True, **result.to_json()})
    else:
        click.echo(result.text())
    sys.exit(EXIT_OK)


@db_group.command("drift")
@url_option
@folder_argument
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True)
@statement_timeout_option
def drift_command(url: str, folder: Path, fmt: str, statement_timeout: str) -> None:
    """Compare the live database with FOLDER's compiled catalog (roles, memberships, grants, RLS, policies,
    columns, per-role settings); exit 1 on any difference."""
    from paybill.dbops.drift import check_drift, render_markdown, render_text
    from paybill.dbops.errors import EXIT_REFUSED
    from paybill.dbops.folder import read_folder

    report = _run("json" if fmt == "json" else "text",
                  lambda: check_drift(url, read_folder(folder), statement_timeout=statement_timeout))
    if fmt == "json":
        _dump(report.to_json())
    elif fmt == "markdown":
        click.echo(render_markdown(report), nl=False)
    else:
        click.echo(render_text(report, (folder / "migrations.json").as_posix()), nl=False)
    sys.exit(EXIT_REFUSED if report.differences else EXIT_OK)


@db_group.command("prune-runs")
@click.option("--database-url", "url", envvar=URL_ENV, show_envvar=True, required=True,
              help="libpq URL or key=value string of a database paybill serve keeps runs in (its admin: "
                   "the server's own login may not delete runs).")
@click.option("--older-than-days", "days", type=click.IntRange(min=0), default=30, show_default=True,
              help="Prune runs that expired more than this many days ago.")
@click.option("--dry-run", is_flag=True, help="Count what would be pruned; delete nothing.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@statement_timeout_option
def prune_runs_command(url: str, days: int, dry_run: bool, fmt: str, statement_timeout: str) -> None:
    """Delete the state of paybill serve runs (paybill.runs) that expired more than --older-than-days ago."""
    import time

    from paybill.dbops.prune import prune_runs

    result = _run(fmt, lambda: prune_runs(url, keep_seconds=days * 86_400, now=time.time(), dry_run=dry_run,
                                          statement_timeout=statement_timeout))
    if fmt == "json":
        _dump({"ok": True, **result.to_json()})
    else:
        click.echo(result.text())
    sys.exit(EXIT_OK)


tenant_option = click.option("--tenant", required=True, help="The tenant (its metadata.name).")


@db_group.command("export")
@url_option
@folder_argument
@tenant_option
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="A new (or empty) folder for the files and manifest.json.")
@click.option("--csv", "csv_tables", multiple=True, help="Write this table as CSV instead of JSON Lines (repeatable).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@statement_timeout_option
def export_command(url: str, folder: Path, tenant: str, out: Path, csv_tables: tuple[str, ...], fmt: str,
                   statement_timeout: str) -> None:
    """Write TENANT's rows of every tenant-scoped table of the pooled database FOLDER to --out, read
    through a role that row-level security confines to the tenant, with a manifest (rows, sha256).

    \b
    Example:
      paybill db export --database-url "$url" --tenant hooli --out exports/hooli \\
        generated/sql/pool-aws-use1-shared
    """
    from paybill.dbops.export import export
    from paybill.dbops.folder import read_folder

    result = _run(fmt, lambda: export(url, read_folder(folder), tenant, out, frozenset(csv_tables),
                                      statement_timeout))
    if fmt == "json":
        _dump({"ok": True, "out": out.as_posix(), "manifestSha256": result.manifest_sha256, **result.manifest})
    else:
        rows = sum(e["rows"] for e in result.manifest["tables"])
        click.echo(f"{tenant}: exported {rows} rows from {len(result.manifest['tables'])} tables of "
                   f"{result.manifest['database']} to {out.as_posix()} (manifest sha256 {result.manifest_sha256})")
    sys.exit(EXIT_OK)


@db_group.command("erase")
@url_option
@folder_argument
@tenant_option
@click.option("--export-manifest", type=click.Path(path_type=Path), default=None,
              help="manifest.json of this tenant's export; its files and row counts are checked first.")
@click.option("--no-export", is_flag=True, help="Erase without an export (explicit: the data is gone for good).")
@click.option("--ignore-retention", is_flag=True,
              help="Erase before the tenant's retainUntil (or without one); recorded in the ledger.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@lock_timeout_option
@click.option("--statement-timeout", default="1h", show_default=True, callback=_interval,
              help="Longest any one statement may run.")
@by_option
def erase_command(url: str, folder: Path, tenant: str, export_manifest: Path | None, no_export: bool,
                  ignore_retention: bool, fmt: str, lock_timeout: str, statement_timeout: str, by: str | None) -> None:
    """Delete TENANT's rows from every tenant-scoped table of the pooled database FOLDER in one
    transaction, once the tenant is deleted at HEAD and its retention has passed (or its database moved
    out of the pool through an isolation migration's decommission); recorded in the ledger.

    \b
    Example (after paybill db export of the same tenant):
      paybill db erase --database-url "$url" --tenant hooli \\
        --export-manifest exports/hooli/manifest.json generated/sql/pool-aws-use1-shared
    """
    from paybill.dbops.erase import erase
    from paybill.dbops.folder import read_folder

    if export_manifest is not None and no_export:
        raise click.UsageError("--export-manifest and --no-export exclude each other")
    result = _run(fmt, lambda: erase(url, read_folder(folder), tenant, manifest_path=export_manifest,
                                     no_export=no_export, ignore_retention=ignore_retention,
                                     lock_timeout=lock_timeout, statement_timeout=statement_timeout, by=by))
    if fmt == "json":
        _dump({"ok": True, **result.to_json()})
    else:
        click.echo(result.text())
    sys.exit(EXIT_OK)
