"""SQL identifiers and literals: derived deterministically from spec names, validated, always quoted.

Every name that reaches emitted SQL (or a statement built by :mod:`paybill.guard.db`) passes through
here. Spec names are already restricted by the models, but the SQL layer does not rely on that: it
re-checks each identifier against a strict grammar and PostgreSQL's 63-byte limit, because
PostgreSQL silently *truncates* longer identifiers, and two long names that share a 63-byte prefix
would then name the same role or table.
"""

from __future__ import annotations

import functools
import re

MAX_IDENTIFIER_BYTES = 63
"""PostgreSQL's NAMEDATALEN - 1; longer identifiers are truncated with only a NOTICE."""

IDENTIFIER_RE = re.compile(r"^[a-z_][a-z0-9_]*$")
"""What paybill emits: lower case, digits and underscores. Quoting then never changes meaning."""

ROLE_PREFIX = "paybill_"
AGENT_ROLE_PREFIX = "paybill_agent_"
GUARD_ROLE = "paybill_guard"
"""The one NOLOGIN, NOINHERIT role agent roles are granted to: a guard's login is a member of it,
so it can ``SET ROLE`` to any agent role but holds none of their privileges itself."""

TENANT_SETTING = "paybill.tenant_id"
"""The custom setting row-level security compares ``tenant_id`` with."""

RESERVED_SCHEMAS = frozenset({"public", "information_schema", "paybill"})


class IdentifierError(ValueError):
    """A derived identifier PostgreSQL would truncate or that is outside paybill's grammar."""


def snake(name: str) -> str:
    """Spec names use hyphens; SQL identifiers use underscores (``billing-agent`` -> ``billing_agent``)."""
    return name.replace("-", "_")


@functools.cache  # pure; the same few identifiers are checked for every database
def check_identifier(identifier: str) -> str:
    """Return ``identifier`` if it is safe to emit, else raise :class:`IdentifierError` saying why."""
    if not IDENTIFIER_RE.match(identifier):
        raise IdentifierError(f"'{identifier}' is not a lower-case SQL identifier (a-z, 0-9, _)")
    size = len(identifier.encode("utf-8"))
    if size > MAX_IDENTIFIER_BYTES:
        raise IdentifierError(
            f"'{identifier}' is {size} bytes; PostgreSQL truncates identifiers over {MAX_IDENTIFIER_BYTES}"
        )
    return identifier


@functools.cache
def quote_ident(identifier: str) -> str:
    """Quote a validated identifier. Quoting is unconditional so keywords (``order``, ``user``) work."""
    check_identifier(identifier)
    return '"' + identifier + '"'


def qualified(schema: str, table: str) -> str:
    return f"{quote_ident(schema)}.{quote_ident(table)}"


def quote_literal(value: str) -> str:
    """A standard-conforming string literal. Values come from the spec (tenant names, settings)."""
    if "\x00" in value:
        raise ValueError("NUL cannot appear in a PostgreSQL string")
    return "'" + value.replace("'", "''") + "'"


def agent_role(agent: str) -> str:
    """The database role an agent acts as: ``paybill_agent_<agent with - replaced by _>``."""
    return check_identifier(AGENT_ROLE_PREFIX + snake(agent))


def database_key(kind: str, name: str) -> str:
    """The output folder and stable key of a database: ``pool-<pool>`` or ``tenant-<tenant>``."""
    return f"{kind}-{name}"


def database_ident(key: str) -> str:
    """The key in identifier form, used inside per-database role names."""
    return snake(key)


def owner_role(key: str) -> str:
    """The NOLOGIN role that owns the schemas and tables of one database (not a superuser, so FORCE
    ROW LEVEL SECURITY holds it too)."""
    return check_identifier(f"{ROLE_PREFIX}owner_{database_ident(key)}")


def app_role(key: str) -> str:
    """The application's role in one database: full DML on tenant tables, read on global tables."""
    return check_identifier(f"{ROLE_PREFIX}app_{database_ident(key)}")


def schema_for(model: str) -> str:
    """One schema per DataModel, named after it (``crm``)."""
    return check_identifier(snake(model))


def schema_problem(schema: str) -> str | None:
    """Why a schema name cannot be used, or None. ``pg_`` is reserved by PostgreSQL itself."""
    if schema.startswith("pg_"):
        return f"schema name '{schema}' starts with 'pg_', which PostgreSQL reserves for system schemas"
    if schema in RESERVED_SCHEMAS:
        return f"schema name '{schema}' is reserved (public, information_schema and paybill are not managed)"
    return None
