"""Migration 0004 (pooled databases only): row-level security on every tenant table.

Two layers of policy, both fail closed:

* ``paybill_tenant_isolation`` (permissive, every role): a row is visible and writable only when its
  ``tenant_id`` equals the session's ``paybill.tenant_id``; with no tenant set nothing matches.
  ``FORCE`` makes it bind the table owner too; only superusers (never a paybill role, see 0001) skip it.
* ``paybill_scope_<agent>`` (restrictive, one agent role): the tenant must also be one the agent's
  ``tenantScope`` selects, so an agent that somehow set another tenant still sees nothing of it.

Policies are dropped and re-created inside the migration's transaction, which is idempotent and
also converges when a scope changes; a final sweep drops ``paybill_*`` policies the spec no longer
produces (an agent removed, or no longer granted the table).
"""

from __future__ import annotations

from paybill.emit.sql.names import qualified, quote_ident, quote_literal, snake
from paybill.emit.sql.plan import TENANT_COLUMN, AgentPlan, DatabasePlan, TablePlan
from paybill.emit.sql.text import CURRENT_TENANT, do_block, header, join_statements, text_array

ISOLATION_POLICY = "paybill_tenant_isolation"
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


def expected_policies(plan: DatabasePlan) -> dict[str, list[str]]:
    """Table -> the policy names this migration creates on it (for the sweep and for tests)."""
    expected: dict[str, list[str]] = {}
    for table in plan.tables:
        if not table.tenant_scoped:
            continue
        names = [ISOLATION_POLICY]
        names += [scope_policy(a) for a in plan.agents if not a.all_tenants and _granted(a, table)]
        expected[table.name] = names
    return expected


def _granted(agent: AgentPlan, table: TablePlan) -> bool:
    return any(g.table == table.name for g in agent.grants)


def sweep(plan: DatabasePlan, expected: dict[str, list[str]]) -> str:
    """Drop ``paybill_*`` policies on managed tables that the spec no longer produces."""
    keep = [f"{plan.table(t).schema}.{t}.{p}" for t, names in expected.items() for p in names]
    tables = [f"{plan.table(t).schema}.{t}" for t in expected]
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
    statements = [header(plan.key, "0004", "row_level_security",
                         "Tenant isolation inside a shared database, enforced by PostgreSQL itself.")]
    expected = expected_policies(plan)
    column = quote_ident(TENANT_COLUMN)
    for table in plan.tables:
        if not table.tenant_scoped:
            continue
        target = qualified(table.schema, table.name)
        statements.append(f"ALTER TABLE {target} ENABLE ROW LEVEL SECURITY;\n"
                          f"ALTER TABLE {target} FORCE ROW LEVEL SECURITY;")
        statements.append(policy(ISOLATION_POLICY, table, restrictive=False, role=None,
                                 condition=f"{column} = {CURRENT_TENANT}"))
        for agent in plan.agents:
            if agent.all_tenants or not _granted(agent, table):
                continue
            tenants = ", ".join(quote_literal(t) for t in agent.tenants)
            statements.append(policy(scope_policy(agent), table, restrictive=True, role=agent.role,
                                     condition=f"{column} IN ({tenants})"))
    statements.append(sweep(plan, expected))
    return join_statements(statements)
