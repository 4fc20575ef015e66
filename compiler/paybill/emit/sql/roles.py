"""Migration 0001: the roles a database needs, created only when missing and then checked.

Roles are cluster-wide in PostgreSQL while everything else here is per database, so one role (an
agent's) may already exist because another database on the same server created it. Creation is
therefore guarded, and instead of altering an existing role in place (which needs superuser for
some attributes on managed services) the migration *asserts* the attributes isolation depends on
and fails the whole transaction if someone gave a paybill role LOGIN, SUPERUSER or BYPASSRLS.
"""

from __future__ import annotations

from paybill.contract.sql_catalog import DatabasePlan
from paybill.contract.sql_names import GUARD_ROLE, quote_ident, quote_literal
from paybill.emit.sql.text import do_block, header, join_statements, text_array

ROLE_ATTRIBUTES = "NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"


def managed_roles(plan: DatabasePlan) -> list[tuple[str, bool]]:
    """(role, inherit) in creation order. Only the guard role is NOINHERIT: its members may become
    an agent with ``SET ROLE`` but never hold an agent's privileges implicitly."""
    roles = [(GUARD_ROLE, False), (plan.owner_role, True), (plan.app_role, True)]
    roles += [(agent.role, True) for agent in plan.agents]
    return roles


def render_roles(plan: DatabasePlan) -> str:
    create = []
    for role, inherit in managed_roles(plan):
        create += [
            f"IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = {quote_literal(role)}) THEN",
            f"    CREATE ROLE {quote_ident(role)} {ROLE_ATTRIBUTES} {'INHERIT' if inherit else 'NOINHERIT'};",
            "END IF;",
        ]
    names = [role for role, _ in managed_roles(plan)]
    check = [
        "SELECT string_agg(rolname::text, ', ' ORDER BY rolname) INTO unsafe FROM pg_catalog.pg_roles",
        f" WHERE rolname = ANY ({text_array(names)}) AND (rolsuper OR rolbypassrls OR rolcanlogin);",
        "IF unsafe IS NOT NULL THEN",
        "    RAISE EXCEPTION 'paybill roles must be NOLOGIN, NOSUPERUSER and NOBYPASSRLS: %', unsafe",
        "        USING HINT = 'grant the role to a separate login role instead of changing it';",
        "END IF;",
    ]
    statements = [
        header(plan.key, "0001", "roles", "Create missing roles (cluster-wide), then refuse any that could bypass "
               "row-level security."),
        do_block(create),
        do_block(check, declare=["unsafe text;"]),
    ]
    # Memberships: the guard's login may SET ROLE to each agent; whoever applies the migrations may
    # hand objects to the owner role (on managed services the admin is not a superuser).
    statements += [f"GRANT {quote_ident(agent.role)} TO {quote_ident(GUARD_ROLE)};" for agent in plan.agents]
    statements.append(f"GRANT {quote_ident(plan.owner_role)} TO CURRENT_USER;")
    return join_statements(statements)
