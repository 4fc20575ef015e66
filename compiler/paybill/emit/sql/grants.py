"""Migration 0005: privileges exactly as the spec says, and nothing more.

The migration first revokes everything paybill manages (from PUBLIC, from the application role,
from every agent role of this database and from ``paybill_agent_*`` roles the spec no longer places
here), then grants: schema USAGE, the application's DML, and each agent's column-level SELECT,
INSERT and UPDATE plus table-level DELETE from its ACL. Revoke-then-grant in one transaction means
re-applying converges after an ACL shrinks, and there is no moment with extra privileges.
"""

from __future__ import annotations

from paybill.contract.sql_catalog import AgentPlan, DatabasePlan, GrantPlan
from paybill.contract.sql_names import AGENT_ROLE_PREFIX, qualified, quote_ident, quote_literal
from paybill.emit.sql.text import do_block, header, join_statements, text_array


def _columns(columns: tuple[str, ...]) -> str:
    return ", ".join(quote_ident(c) for c in columns)


def agent_grants(plan: DatabasePlan, agent: AgentPlan) -> list[str]:
    role = quote_ident(agent.role)
    statements = []
    for schema in dict.fromkeys(plan.table(g.table).schema for g in agent.grants):
        statements.append(f"GRANT USAGE ON SCHEMA {quote_ident(schema)} TO {role};")
    for grant in agent.grants:
        statements += table_grants(plan, grant, role)
    return statements


def table_grants(plan: DatabasePlan, grant: GrantPlan, role: str) -> list[str]:
    table = plan.table(grant.table)
    target = qualified(table.schema, table.name)
    statements = []
    for privilege, columns in (("SELECT", grant.read), ("INSERT", grant.insert), ("UPDATE", grant.update)):
        if columns:
            statements.append(f"GRANT {privilege} ({_columns(columns)}) ON {target} TO {role};")
    if grant.delete:
        statements.append(f"GRANT DELETE ON {target} TO {role};")
    return statements


def stale_agent_sweep(plan: DatabasePlan) -> str:
    """Revoke this database's privileges and settings from agent roles the spec no longer puts here.

    The roles themselves stay: they are cluster-wide and may still act in another database.
    """
    current = [a.role for a in plan.agents]
    body = [
        "FOR stale IN",
        "    SELECT rolname FROM pg_catalog.pg_roles",
        f"     WHERE rolname LIKE {quote_literal(AGENT_ROLE_PREFIX.replace('_', chr(92) + '_') + '%')}",
        f"       AND rolname <> ALL ({text_array(current)})",
        "     ORDER BY 1",
        "LOOP",
    ]
    for schema in plan.schemas:
        body += [
            f"    EXECUTE pg_catalog.format('REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM %I', "
            f"{quote_literal(schema)}, stale.rolname);",
            f"    EXECUTE pg_catalog.format('REVOKE ALL ON SCHEMA %I FROM %I', {quote_literal(schema)}, "
            "stale.rolname);",
        ]
    body += [
        "    EXECUTE pg_catalog.format('ALTER ROLE %I IN DATABASE %I RESET ALL', stale.rolname, "
        "pg_catalog.current_database());",
        "END LOOP;",
    ]
    return do_block(body, declare=["stale record;"])


def statement_timeouts(plan: DatabasePlan) -> str:
    """Per-role ``statement_timeout`` in this database. It binds sessions that log in as the role;
    the guard (which uses ``SET ROLE``, where role settings do not apply) sets the same value with
    ``SET LOCAL`` from the catalog."""
    body = [
        f"EXECUTE pg_catalog.format('ALTER ROLE %I IN DATABASE %I SET statement_timeout = %L', "
        f"{quote_literal(a.role)}, pg_catalog.current_database(), {quote_literal(str(a.statement_timeout_ms))});"
        for a in plan.agents
    ]
    return do_block(body)


def render_grants(plan: DatabasePlan) -> str:
    statements = [header(plan.key, "0005", "grants", "Revoke everything paybill manages, then grant exactly the "
                         "specs' ACLs (column-level for agents).")]
    roles = ["PUBLIC", quote_ident(plan.app_role), *(quote_ident(a.role) for a in plan.agents)]
    revoke = []
    for schema in plan.schemas:
        for role in roles:
            revoke.append(f"REVOKE ALL ON ALL TABLES IN SCHEMA {quote_ident(schema)} FROM {role};")
            revoke.append(f"REVOKE ALL ON SCHEMA {quote_ident(schema)} FROM {role};")
    statements.append("\n".join(revoke))
    statements.append(stale_agent_sweep(plan))
    app = quote_ident(plan.app_role)
    app_grants = [f"GRANT USAGE ON SCHEMA {quote_ident(s)} TO {app};" for s in plan.schemas]
    for table in plan.tables:
        privileges = "SELECT, INSERT, UPDATE, DELETE" if table.scope == "tenant" else "SELECT"
        app_grants.append(f"GRANT {privileges} ON {qualified(table.schema, table.name)} TO {app};")
    statements.append("\n".join(app_grants))
    for agent in plan.agents:
        statements.append(f"-- agent {agent.name}\n" + "\n".join(agent_grants(plan, agent)))
    if plan.agents:
        statements.append(statement_timeouts(plan))
    return join_statements(statements)
