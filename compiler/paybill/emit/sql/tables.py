"""Migrations 0002 (schemas) and 0003 (tables): the DataModel specs as PostgreSQL DDL.

Both converge rather than replay: ``CREATE ... IF NOT EXISTS`` for what is new, ``ADD COLUMN IF NOT
EXISTS`` for columns added to a spec after the table was created, ownership re-asserted every time.
paybill never drops a table or column: removing one from a spec stops agents from being granted
it (0005 revokes), while the data stays until a human removes it.
"""

from __future__ import annotations

from paybill.contract.names import NAME_MAX, NAME_PATTERN
from paybill.contract.sql_catalog import TENANT_COLUMN, ColumnPlan, DatabasePlan, TablePlan, schema_label
from paybill.contract.sql_names import qualified, quote_ident, quote_literal
from paybill.emit.sql.text import SESSION_TENANT, header, join_statements

TENANT_COLUMN_DDL = (
    f"{quote_ident(TENANT_COLUMN)} text NOT NULL DEFAULT {SESSION_TENANT}\n"
    f"        CHECK ({quote_ident(TENANT_COLUMN)} ~ {quote_literal(NAME_PATTERN)}"
    f" AND pg_catalog.length({quote_ident(TENANT_COLUMN)}) <= {NAME_MAX})"
)
"""``tenant_id`` defaults to the session's tenant (so inserts need not, and agents cannot, name it)
and must be a tenant name: an empty or odd value could otherwise match a mis-set session."""


def column_ddl(column: ColumnPlan) -> str:
    return f"{quote_ident(column.name)} {column.sql_type}{'' if column.nullable else ' NOT NULL'}"


def render_schemas(plan: DatabasePlan) -> str:
    statements = [header(plan.key, "0002", "schemas", "One schema per data model, owned by the database's owner "
                         "role, closed to PUBLIC, labelled with the database it belongs to.")]
    owner = quote_ident(plan.owner_role)
    for schema in plan.schemas:
        statements += [
            f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)} AUTHORIZATION {owner};",
            f"ALTER SCHEMA {quote_ident(schema)} OWNER TO {owner};",
            f"REVOKE ALL ON SCHEMA {quote_ident(schema)} FROM PUBLIC;",
            f"COMMENT ON SCHEMA {quote_ident(schema)} IS {quote_literal(schema_label(plan.key))};",
        ]
    return join_statements(statements)


def create_table(table: TablePlan) -> str:
    lines = [TENANT_COLUMN_DDL] if table.tenant_scoped else []
    lines += [column_ddl(c) for c in table.columns]
    lines.append("PRIMARY KEY (" + ", ".join(quote_ident(c) for c in table.key_columns) + ")")
    body = ",\n    ".join(lines)
    return f"CREATE TABLE IF NOT EXISTS {qualified(table.schema, table.name)} (\n    {body}\n);"


def render_tables(plan: DatabasePlan) -> str:
    purpose = (
        "Tables from the data models; tenant tables carry tenant_id, leading the primary key." if plan.pooled
        else "Tables from the data models; this database holds one tenant, so no tenant_id."
    )
    statements = [header(plan.key, "0003", "tables", purpose)]
    owner = quote_ident(plan.owner_role)
    for table in plan.tables:
        name = qualified(table.schema, table.name)
        statements.append(create_table(table))
        statements.append("\n".join(
            f"ALTER TABLE {name} ADD COLUMN IF NOT EXISTS {column_ddl(c)};" for c in table.columns
        ))
        statements.append(f"ALTER TABLE {name} OWNER TO {owner};")
    return join_statements(statements)
