"""Writing the catalog section of ``migrations.json``: the database plan, as the guard's database layer reads it.

The format and its reader live in :mod:`paybill.contract.sql_catalog` (the runtime imports that, not
the compiler); this module only adds what writing needs from the SQL emitter: the row-level security
policies ``paybill db drift`` compares.
"""

from __future__ import annotations

from typing import Any

from paybill.contract import sql_names as names
from paybill.contract.sql_catalog import CATALOG_FORMAT, DatabasePlan
from paybill.emit.sql.security import table_policies


def catalog_json(plan: DatabasePlan) -> dict[str, Any]:
    return {
        "format": CATALOG_FORMAT,
        "database": plan.key,
        "pooled": plan.pooled,
        "tenants": list(plan.tenants),
        "tenantSetting": names.TENANT_SETTING,
        "roles": {"owner": plan.owner_role, "app": plan.app_role, "guard": names.GUARD_ROLE},
        "tables": {
            t.name: {
                "schema": t.schema,
                "scope": t.scope,
                "tenantScoped": t.tenant_scoped,
                "primaryKey": list(t.primary_key),
                "columns": {c.name: {"type": c.sql_type, "nullable": c.nullable} for c in t.columns},
            }
            for t in plan.tables
        },
        "agents": {
            a.name: {
                "role": a.role,
                "allTenants": a.all_tenants,
                "tenants": list(a.tenants),
                "statementTimeoutMs": a.statement_timeout_ms,
                "grants": {
                    g.table: {"read": list(g.read), "insert": list(g.insert), "update": list(g.update),
                              "delete": g.delete, "tenants": list(g.tenants)}
                    for g in a.grants
                },
            }
            for a in plan.agents
        },
        # The row-level security policies 0004 creates, for `paybill db drift` (which lets PostgreSQL
        # normalise each condition the way it stores it, then compares). The guard ignores this key.
        "policies": [
            {"table": t.name, "name": name, "permissive": not restrictive, "role": role, "condition": condition}
            for t in plan.tables
            for name, restrictive, role, condition in table_policies(plan, t)
        ],
    }


