"""Migration 0004: row-level security on every table, so the database itself checks whose rows a
session may touch.

Every managed table gets ``ENABLE`` and ``FORCE ROW LEVEL SECURITY`` (FORCE binds the table owner
too; only superusers, which no paybill role may be, skip it) and one permissive policy for every role:

* ``paybill_tenant_isolation`` on tenant tables of a pooled database: a row is visible and writable
  only when its ``tenant_id`` equals the session's ``paybill.tenant_id``; with none set, nothing.
* ``paybill_all_rows`` on other tables (global reference data, and every table of a silo database,
  which holds one tenant): all rows, as without RLS.

and, for each agent role on each table it is granted, one restrictive policy ``paybill_scope_<agent>``:
the session's tenant must be one of the tenants of *this database* the agent's ``tenantScope``
selects *and* be in a lifecycle state in which some step of the agent's workflows acts on the
table (:attr:`GrantPlan.tenants`; a ``suspended`` tenant's rows are invisible to an agent whose
workflows do not act on suspended tenants, a ``deleted`` tenant is never here). So an agent session
reads global tables only while acting for such a tenant (as the Cedar bundle requires), a silo
database answers an agent only for its own tenant, and an agent that set any other tenant, or none,
gets nothing and can write nothing. The application role is not an agent: it keeps every tenant's
rows whatever the state.

States are written into the policy rather than kept in a table the policy reads: a state change
re-renders this migration, which (like every paybill migration) converges when applied on top of
the previous one, and the policy needs no lookup, no extra grant and no function to trust.

Policies are dropped and re-created inside the migration's transaction (idempotent, and
converging when a scope changes); a final sweep drops ``paybill_*`` policies the specs no longer
produce (an agent removed, or no longer granted the table).
"""

from __future__ import annotations

from paybill.contract.sql_catalog import TENANT_COLUMN, AgentPlan, DatabasePlan, TablePlan
from paybill.contract.sql_names import qualified, quote_ident, quote_literal, snake
from paybill.emit.sql.text import CURRENT_TENANT, do_block, header, join_statements, text_array

ISOLATION_POLICY = "paybill_tenant_isolation"
ALL_ROWS_POLICY = "paybill_all_rows"
SCOPE_POLICY_PREFIX = "paybill_scope_"


def scope_policy(agent: AgentPlan) -> str:
    return SCOPE_POLICY_PREFIX + snake(agent.name)


def policy(name: str, table: TablePlan, *, restrictive: bool, role: str | None, condition: str) -> str:
    target = qualified(table.schema, table.name)
    return (
        f"DROP POLICY IF EXISTS {quote_ident(name)} ON {target};\n"
        f"CREATE POLICY {quote_ident(name)} ON {target}\n"
        f"    AS {'RESTRICTIVE' if restrictive else 'PERMISSIVE'} FOR ALL"
        f" TO {quote_ident(role) if role else 'PUBLIC'}\n"
        f"    USING ({condition})\n"
        f"    WITH CHECK ({condition});"
    )


def table_policies(plan: DatabasePlan, table: TablePlan) -> list[tuple[str, bool, str | None, str]]:
    """(name, restrictive, role or None for PUBLIC, condition) of every policy on ``table``."""
    if table.tenant_scoped:
        base = (ISOLATION_POLICY, False, None, f"{quote_ident(TENANT_COLUMN)} = {CURRENT_TENANT}")
        subject = quote_ident(TENANT_COLUMN)
    else:
        base = (ALL_ROWS_POLICY, False, None, "true")
        subject = CURRENT_TENANT
    policies: list[tuple[str, bool, str | None, str]] = [base]
    for agent in plan.agents:
        grant = next((g for g in agent.grants if g.table == table.name), None)
        if grant is not None:
            tenants = ", ".join(quote_literal(t) for t in grant.tenants)
            condition = f"{subject} IN ({tenants})" if tenants else "false"  # IN () is not SQL
            policies.append((scope_policy(agent), True, agent.role, condition))
    return policies


def sweep(plan: DatabasePlan) -> str:
    """Drop ``paybill_*`` policies on managed tables that the specs no longer produce."""
    keep = [f"{t.schema}.{t.name}.{p[0]}" for t in plan.tables for p in table_policies(plan, t)]
    tables = [f"{t.schema}.{t.name}" for t in plan.tables]
    body = [
        "FOR stale IN",
        "    SELECT schemaname, tablename, policyname FROM pg_catalog.pg_policies",
        "     WHERE policyname LIKE 'paybill\\_%'",
        f"       AND schemaname || '.' || tablename = ANY ({text_array(tables)})",
        f"       AND schemaname || '.' || tablename || '.' || policyname <> ALL ({text_array(keep)})",
        "     ORDER BY 1, 2, 3",
        "LOOP",
        "    EXECUTE pg_catalog.format('DROP POLICY %I ON %I.%I', stale.policyname, stale.schemaname, "
        "stale.tablename);",
        "END LOOP;",
    ]
    return do_block(body, declare=["stale record;"])


def render_security(plan: DatabasePlan) -> str:
    purpose = ("Tenant isolation inside a shared database, and agents held to their tenant scope." if plan.pooled
               else "This database holds one tenant: agents are held to it; every other role sees all rows.")
    statements = [header(plan.key, "0004", "row_level_security", purpose)]
    for table in plan.tables:
        target = qualified(table.schema, table.name)
        statements.append(f"ALTER TABLE {target} ENABLE ROW LEVEL SECURITY;\n"
                          f"ALTER TABLE {target} FORCE ROW LEVEL SECURITY;")
        for name, restrictive, role, condition in table_policies(plan, table):
            statements.append(policy(name, table, restrictive=restrictive, role=role, condition=condition))
    statements.append(sweep(plan))
    return join_statements(statements)
