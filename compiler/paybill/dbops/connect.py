"""Connect to the target database, turning libpq's failures into one clear PB1103 (exit 3).

A deploy log should say "wrong password" or "no such database", not a psycopg traceback. The
password is never printed: messages name host, port, user and database only.
"""

from __future__ import annotations

import re
from typing import Any

import psycopg

from paybill.dbops.errors import EXIT_LOCKED, EXIT_REFUSED, EXIT_UNREACHABLE, DbOpsError, Problem, fail

INTERVAL = re.compile(r"^\d{1,9}(ms|s|min|h)?$")
"""What ``--lock-timeout``/``--statement-timeout`` accept: PostgreSQL's own units, nothing else."""


def _where(url: str) -> str:
    try:
        params = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "the database URL"
    parts = [f"{k}={params[k]}" for k in ("host", "port", "user", "dbname") if params.get(k)]
    return " ".join(parts) or "the default libpq target"


def connect(url: str, path: str, application: str) -> psycopg.Connection[Any]:
    try:
        psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise fail("PB1103", f"the database URL is not a valid connection string: {exc}", path,
                   "use postgresql://user@host:port/dbname or key=value pairs", EXIT_UNREACHABLE) from exc
    try:
        return psycopg.connect(url, connect_timeout=10, application_name=application)
    except psycopg.OperationalError as exc:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        lowered = text.lower()
        if "does not exist" in lowered and "database" in lowered:
            reason, hint = "the database does not exist", "create it first (its Terraform stack does), or fix the name"
        elif "authentication" in lowered or "password" in lowered or ("role" in lowered and "not exist" in lowered):
            reason, hint = "the server refused the credentials", "check the user and password the URL command returns"
        else:
            reason, hint = "the server cannot be reached", "check host, port, network access and that it is running"
        raise fail("PB1103", f"cannot connect to {_where(url)}: {reason} ({text})", path, hint,
                   EXIT_UNREACHABLE) from exc


def set_timeouts(conn: psycopg.Connection[Any], lock_timeout: str, statement_timeout: str) -> None:
    """Local to the current transaction. ``client_connection_check_interval`` makes the server notice
    a client that died mid-statement and roll back, instead of finishing work nobody will commit."""
    conn.execute(
        "SELECT pg_catalog.set_config('lock_timeout', %s, true), pg_catalog.set_config('statement_timeout', %s, true),"
        " pg_catalog.set_config('client_connection_check_interval', '1s', true)",
        (lock_timeout, statement_timeout),
    )


def database_error(exc: psycopg.Error, path: str, doing: str) -> DbOpsError:
    """A server-side error while working: a lock not obtained (exit 4) or anything else (exit 1)."""
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if isinstance(exc, psycopg.errors.LockNotAvailable):
        return DbOpsError([Problem("PB1104", f"{doing}: a lock was not obtained within lock_timeout ({text})", path,
                                   "another migrate or erase is running on this database (or a long transaction "
                                   "holds a table): retry later, or raise --lock-timeout")], EXIT_LOCKED)
    if isinstance(exc, psycopg.OperationalError) and exc.sqlstate is None:
        return DbOpsError([Problem("PB1103", f"{doing}: the connection was lost ({text})", path,
                                   "nothing was committed; run it again")], EXIT_UNREACHABLE)
    # A refusal the migration raises itself (RAISE EXCEPTION: a role that could bypass isolation, a
    # column of another type than the specs) carries its remedy as the server's HINT: pass it on
    # rather than drop it. PostgreSQL's own hints stay out: they are about SQL, not what to do here.
    server_hint = exc.diag.message_hint if isinstance(exc, psycopg.errors.RaiseException) else None
    hint = (f"nothing was changed; {server_hint}" if server_hint
            else "nothing was changed; fix the cause (the message is PostgreSQL's) and run it again")
    return DbOpsError([Problem("PB1105", f"{doing} failed and was rolled back: {text}", path, hint)], EXIT_REFUSED)
