"""Row-level security for agent roles admits only tenants in states the agent's workflow steps act in.

Per (agent, table): the tenants of the database in the agent's scope whose lifecycle state is one
some step acting on that table declares. The example pools: oci-fra-shared holds bluth (active)
and tyrell (offboarding); azure-weu-shared holds oscorp (active) and soylent (suspended). The
dunning workflow (billing-agent) acts on onboarding, active and suspended tenants. What PostgreSQL
does with these policies is proven in tests/db/test_db_lifecycle.py.
"""

from __future__ import annotations

import json

import pglast
import pytest
from sql_support import Emitted, emit_from, folder

from paybill.contract.sql_catalog import CatalogError, plan_from_catalog

BILLING_INVOICES = 'CREATE POLICY "paybill_scope_billing_agent" ON "crm"."invoices"'
BILLING_CUSTOMERS = 'CREATE POLICY "paybill_scope_billing_agent" ON "crm"."customers"'


def policy(sql: str, head: str) -> str:
    """The USING line of the policy that starts with ``head``."""
    lines = sql.splitlines()
    start = lines.index(head)
    return lines[start + 2].strip()


def security(tree: dict[str, bytes], database: str) -> str:
    return folder(tree, database)["0004_row_level_security.sql"].decode()


def grant_tenants(tree: dict[str, bytes], database: str, agent: str, table: str) -> list[str]:
    catalog = json.loads(folder(tree, database)["migrations.json"])["catalog"]
    return catalog["agents"][agent]["grants"][table]["tenants"]


def test_an_offboarding_tenant_is_not_admitted_for_an_agent_whose_workflows_do_not_act_on_it(example: Emitted):
    tree = example[0]
    sql = security(tree, "pool-oci-fra-shared")
    assert policy(sql, BILLING_INVOICES) == "USING (\"tenant_id\" IN ('bluth'))"
    assert grant_tenants(tree, "pool-oci-fra-shared", "billing-agent", "invoices") == ["bluth"]
    # The application role's isolation policy is not about lifecycles: it admits the session's tenant.
    assert 'USING ("tenant_id" = (SELECT NULLIF(' in sql


def test_a_suspended_tenant_is_admitted_only_where_a_workflow_acts_on_suspended_tenants(example: Emitted,
                                                                                        edited_specs):
    tree = example[0]
    assert policy(security(tree, "pool-azure-weu-shared"), BILLING_INVOICES) == \
        "USING (\"tenant_id\" IN ('oscorp', 'soylent'))"
    # The same specs with dunning at the default states: soylent's rows become invisible to the agent.
    specs = edited_specs({"workflows/dunning.yaml": lambda t: t.replace(
        "  lifecycles: [onboarding, active, suspended]\n", "")})
    edited, _ = emit_from(specs)
    assert policy(security(edited, "pool-azure-weu-shared"), BILLING_INVOICES) == "USING (\"tenant_id\" IN ('oscorp'))"
    assert grant_tenants(edited, "pool-azure-weu-shared", "billing-agent", "invoices") == ["oscorp"]


def test_states_are_per_table_the_union_of_the_steps_acting_on_it(edited_specs):
    # mark-overdue (update invoices) also acts on offboarding tenants; no step on customers does.
    specs = edited_specs({"workflows/dunning.yaml": lambda t: t.replace(
        "      action: update\n", "      action: update\n      lifecycles: [offboarding]\n")})
    tree, _ = emit_from(specs)
    sql = security(tree, "pool-oci-fra-shared")
    assert policy(sql, BILLING_INVOICES) == "USING (\"tenant_id\" IN ('bluth', 'tyrell'))"
    assert policy(sql, BILLING_CUSTOMERS) == "USING (\"tenant_id\" IN ('bluth'))"


def test_no_admitted_tenant_is_a_false_policy_not_invalid_sql(edited_specs):
    specs = edited_specs({"workflows/dunning.yaml": lambda t: t.replace(
        "  lifecycles: [onboarding, active, suspended]\n", "  lifecycles: [onboarding]\n")})
    tree, _ = emit_from(specs)
    sql = security(tree, "pool-oci-fra-shared")
    assert policy(sql, BILLING_INVOICES) == "USING (false)"
    assert grant_tenants(tree, "pool-oci-fra-shared", "billing-agent", "invoices") == []
    pglast.parse_sql(sql)  # PostgreSQL's own parser accepts it


def test_the_catalog_carries_the_admitted_tenants_and_refuses_anything_but_tenant_names(example: Emitted):
    data = json.loads(folder(example[0], "pool-oci-fra-shared")["migrations.json"])["catalog"]
    plan = plan_from_catalog(data)
    billing = next(a for a in plan.agents if a.name == "billing-agent")
    assert {g.table: g.tenants for g in billing.grants} == {"customers": ("bluth",), "invoices": ("bluth",)}
    data["agents"]["billing-agent"]["grants"]["invoices"]["tenants"] = ["bluth'); DROP TABLE x; --"]
    with pytest.raises(CatalogError, match="tenant names"):
        plan_from_catalog(data)
