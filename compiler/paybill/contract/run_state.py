"""The run state table of ``paybill serve``: one definition for the server and for ``paybill db migrate``.

Why migrate creates it: in the flow users follow (apply a stack, migrate its database, then serve
agents on it) the ``paybill`` schema already exists, owned by the migrating admin, and the server's
login is only a member of ``paybill_guard``. Creating the table at migrate time and granting it to
``paybill_guard`` means the server needs no ``CREATE`` privilege on the database, and every replica
(whatever its login) and ``paybill guard approve`` share one table. The server still creates it
itself on a database that was never migrated by paybill (then its login needs ``CREATE``).
"""

from __future__ import annotations

from paybill.contract.sql_names import GUARD_ROLE

SCHEMA = "paybill"
TABLE = "paybill.runs"

DDL = (
    "CREATE SCHEMA IF NOT EXISTS paybill",
    "CREATE TABLE IF NOT EXISTS paybill.runs ("
    " id text PRIMARY KEY,"
    " agent text NOT NULL,"
    " tenant text NOT NULL,"
    " workflow text NOT NULL,"
    " revision text NOT NULL,"
    " state jsonb NOT NULL,"
    " pending jsonb NOT NULL DEFAULT '{}'::jsonb,"
    " expires_at double precision NOT NULL,"
    " created_at timestamptz NOT NULL DEFAULT now(),"
    " updated_at timestamptz NOT NULL DEFAULT now())",
    "REVOKE ALL ON SCHEMA paybill FROM PUBLIC",
)
"""Idempotent; run under an advisory lock so replicas (or a migrate) starting together do not race."""

GRANTS = (
    f'GRANT USAGE ON SCHEMA paybill TO "{GUARD_ROLE}"',
    f'GRANT SELECT, INSERT, UPDATE ON paybill.runs TO "{GUARD_ROLE}"',
)
"""What the server's login gets through its membership of ``paybill_guard``: no DELETE (nothing removes
runs; expired ones stay until the admin runs ``paybill db prune-runs``). Agent roles get nothing:
``paybill_guard`` is a member of them, not the other way round, so ``SET ROLE <agent>`` loses it."""

USABLE = ("SELECT pg_catalog.to_regclass('paybill.runs') IS NOT NULL AND pg_catalog.has_table_privilege("
          "'paybill.runs', 'SELECT, INSERT, UPDATE') AND pg_catalog.has_schema_privilege('paybill', 'USAGE')")
"""True when the current login can use the table as it is (nothing to create)."""
