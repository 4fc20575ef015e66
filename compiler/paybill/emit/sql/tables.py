"""Migrations 0002 (schemas) and 0003 (tables): the DataModel specs as PostgreSQL DDL.

Both converge rather than replay: ``CREATE ... IF NOT EXISTS`` for what is new, ``ADD COLUMN IF NOT
EXISTS`` for columns added to a spec after the table was created, nullability set as the specs say
(``SET NOT NULL`` changes no data: with a NULL left it fails and the whole migration rolls back),
ownership re-asserted every time. paybill never drops a table or column: removing one from a spec
stops agents from being granted it (0005 revokes), while the data stays until a human removes it.
Nor does it change a column's type (a conversion may lose data or need a ``USING`` only a human can
write) or a primary key (the rows may not be unique under the new one): either differing from the
specs stops the migration with the tables named, so ``paybill db migrate`` never records as applied
a change it did not make.
"""

from __future__ import annotations

from paybill.contract.names import NAME_MAX, NAME_PATTERN
from paybill.contract.sql_catalog import TENANT_COLUMN, ColumnPlan, DatabasePlan, TablePlan, schema_label
from paybill.contract.sql_names import qualified, quote_ident, quote_literal
from paybill.emit.sql.text import SESSION_TENANT, do_block, header, join_statements

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


def nullability(table: TablePlan) -> str:
    """One ``ALTER TABLE`` setting every non-key column's nullability as the specs say.

    Why: ``ADD COLUMN IF NOT EXISTS`` skips a column that exists, so a column tightened in a spec
    (the documented way to add a NOT NULL column to a table with rows: add it nullable, backfill,
    tighten) stayed nullable while the migration reported the revision applied. ``SET NOT NULL`` on
    a column that already is one does not scan the table; key columns are NOT NULL by the key."""
    keys = set(table.key_columns)
    changes = [f"ALTER COLUMN {quote_ident(c.name)} {'DROP' if c.nullable else 'SET'} NOT NULL"
               for c in table.columns if c.name not in keys]
    if not changes:
        return ""
    return f"ALTER TABLE {qualified(table.schema, table.name)}\n    " + ",\n    ".join(changes) + ";"


def column_checks(plan: DatabasePlan) -> str:
    """A DO block that stops the migration when the tables cannot be what the specs say without a
    human's decision: a primary key or a column type that differs, or (pooled) a tenant-scoped table without
    ``tenant_id``, i.e. one created while the spec said ``scope: global``, whose rows name no tenant, or
    a global table with one, whose rows of every tenant would be shared (PB0992 warns at review).
    Before, the first two were recorded as applied (``CREATE TABLE IF NOT EXISTS`` left the table as
    it was) and the last failed in 0004 with "column tenant_id does not exist", which said nothing of
    the cause or the remedy.

    The types are compared as PostgreSQL resolves them (``regtype``, with no type modifier: the spec
    types have none), so ``timestamptz`` matches ``timestamp with time zone`` and ``numeric(12,2)``
    does not match ``numeric``."""
    rows = [f"        ({quote_literal(qualified(t.schema, t.name))}, {quote_literal(f'{t.schema}.{t.name}.{c.name}')}, "
            f"{quote_literal(c.name)}, {quote_literal(c.sql_type)})"
            for t in plan.tables for c in t.columns]
    if not rows:
        return ""
    scoped = [f"        ({quote_literal(qualified(t.schema, t.name))}, {quote_literal(f'{t.schema}.{t.name}')})"
              for t in plan.tables if t.tenant_scoped]
    body: list[str] = []
    if scoped:
        body += [
            "SELECT pg_catalog.string_agg(s.label, ', ' ORDER BY s.label) INTO unscoped",
            "  FROM (VALUES",
            *[row + ("," if i < len(scoped) - 1 else "") for i, row in enumerate(scoped)],
            "       ) AS s(tbl, label)",
            " WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_attribute a WHERE a.attrelid = s.tbl::pg_catalog.regclass",
            f"                     AND a.attname = {quote_literal(TENANT_COLUMN)} AND NOT a.attisdropped);",
            "IF unscoped IS NOT NULL THEN",
            "    RAISE EXCEPTION 'tables the specs make tenant-scoped have no tenant_id column (created while "
            "global): %', unscoped",
            "        USING HINT = 'paybill cannot tell which tenant each row belongs to: add tenant_id by hand "
            "(text NOT NULL, each row given its tenant, leading the primary key), or keep scope: global in the "
            "DataModel spec; then migrate again';",
            "END IF;",
        ]
    shared = [f"        ({quote_literal(qualified(t.schema, t.name))}, {quote_literal(f'{t.schema}.{t.name}')})"
              for t in plan.tables if plan.pooled and not t.tenant_scoped]
    if shared:
        body += [
            "SELECT pg_catalog.string_agg(s.label, ', ' ORDER BY s.label) INTO unshared",
            "  FROM (VALUES",
            *[row + ("," if i < len(shared) - 1 else "") for i, row in enumerate(shared)],
            "       ) AS s(tbl, label)",
            " WHERE EXISTS (SELECT FROM pg_catalog.pg_attribute a WHERE a.attrelid = s.tbl::pg_catalog.regclass",
            f"                 AND a.attname = {quote_literal(TENANT_COLUMN)} AND NOT a.attisdropped);",
            "IF unshared IS NOT NULL THEN",
            "    RAISE EXCEPTION 'tables the specs make global still have a tenant_id column (created while "
            "tenant-scoped): %', unshared",
            "        USING HINT = 'decide what each tenant''s rows become, by hand: remove the rows that must not be "
            "shared, then drop tenant_id (and make the primary key the spec''s), or keep scope: tenant in the "
            "DataModel spec; then migrate again';",
            "END IF;",
        ]
    keys = [f"        ({quote_literal(qualified(t.schema, t.name))}, {quote_literal(f'{t.schema}.{t.name}')}, "
            f"{quote_literal(', '.join(t.key_columns))})" for t in plan.tables]
    body += [
        "SELECT pg_catalog.string_agg(pg_catalog.format('%s has (%s), the specs say (%s)', s.label,",
        "           COALESCE(k.live, 'none'), s.want), '; ' ORDER BY s.label)",
        "  INTO rekeyed",
        "  FROM (VALUES",
        *[row + ("," if i < len(keys) - 1 else "") for i, row in enumerate(keys)],
        "       ) AS s(tbl, label, want)",
        "  LEFT JOIN LATERAL (",
        "       SELECT pg_catalog.string_agg(a.attname::text, ', ' ORDER BY u.ord) AS live",
        "         FROM pg_catalog.pg_constraint c",
        "        CROSS JOIN LATERAL pg_catalog.unnest(c.conkey) WITH ORDINALITY AS u(attnum, ord)",
        "         JOIN pg_catalog.pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = u.attnum",
        "        WHERE c.conrelid = s.tbl::pg_catalog.regclass AND c.contype = 'p') AS k ON true",
        " WHERE k.live IS DISTINCT FROM s.want;",
        "IF rekeyed IS NOT NULL THEN",
        "    RAISE EXCEPTION 'primary keys differ from the specs, and paybill never changes a primary key: %', rekeyed",
        "        USING HINT = 'change it by hand after checking the rows are unique under it (ALTER TABLE ... DROP"
        " CONSTRAINT ..., ADD PRIMARY KEY (...)), or restore primaryKey in the DataModel spec; then migrate again';",
        "END IF;",
    ]
    body += [
        "SELECT pg_catalog.string_agg(pg_catalog.format('%s is %s, the specs say %s', s.label,",
        "           pg_catalog.format_type(a.atttypid, a.atttypmod), s.type), '; ' ORDER BY s.label)",
        "  INTO differing",
        "  FROM (VALUES",
        *[row + ("," if i < len(rows) - 1 else "") for i, row in enumerate(rows)],
        "       ) AS s(tbl, label, col, type)",
        "  JOIN pg_catalog.pg_attribute a",
        "    ON a.attrelid = s.tbl::pg_catalog.regclass AND a.attname = s.col AND NOT a.attisdropped",
        " WHERE a.atttypid <> s.type::pg_catalog.regtype OR a.atttypmod <> -1;",
        "IF differing IS NOT NULL THEN",
        "    RAISE EXCEPTION 'column types differ from the specs, and paybill never changes a column''s type: %',",
        "        differing",
        "        USING HINT = 'convert each column by hand after checking its data (ALTER TABLE ... ALTER COLUMN"
        " ... TYPE ... USING ...), or restore its type in the DataModel spec; then migrate again';",
        "END IF;",
    ]
    return do_block(body, declare=["differing text;", "rekeyed text;", *(["unscoped text;"] if scoped else []),
                                   *(["unshared text;"] if shared else [])])


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
        statements.append(nullability(table))
        statements.append(f"ALTER TABLE {name} OWNER TO {owner};")
    statements.append(column_checks(plan))
    return join_statements(statements)
