"""Semantic rules: one rule per module, each with its own diagnostic code.

A rule reads the :class:`~paybill.validate.index.SpecIndex` of validated documents and reports
through a :class:`Reporter` bound to its code. The order of ``ALL_RULES`` does not matter for output
(diagnostics are sorted), only for readability: it follows the codes.
"""

from __future__ import annotations

from paybill.validate.rules import (
    agent_columns,
    agent_selector,
    agent_tables,
    agent_tenants,
    agent_workflow_grants,
    agent_workflows,
    billing_lifecycle,
    billing_policy_refs,
    billing_policy_review,
    billing_policy_scope,
    billing_policy_single,
    cloud_address_space,
    cloud_backend,
    cloud_capabilities,
    cloud_quotas,
    data_residency,
    datamodel_integrity,
    datamodel_reserved,
    decommission_date,
    decommission_record,
    isolation_allowed,
    isolation_migration,
    migration_cloud,
    migration_keys,
    placement_cloud,
    placement_pool,
    plan_isolation_default,
    plan_price_ids,
    plan_tiers,
    pool_capacity,
    pool_layers,
    pooling_record,
    region_allowed,
    tenant_agent_feature,
    tenant_agent_quota,
    tenant_plan,
    workflow_lifecycles,
    workflow_loops,
    workflow_reachability,
    workflow_resources,
    workflow_steps,
    workflow_termination,
)
from paybill.validate.rules.base import Reporter, Rule

ALL_RULES: tuple[Rule, ...] = tuple(
    sorted(
        (
            module.RULE
            for module in (
                tenant_plan, placement_cloud, placement_pool, agent_tables, agent_columns,
                agent_workflows, agent_tenants, agent_selector, datamodel_integrity,
                isolation_allowed, isolation_migration, migration_cloud, migration_keys, pooling_record,
                pool_capacity,
                region_allowed, data_residency, billing_lifecycle,
                pool_layers, plan_isolation_default, plan_tiers, cloud_backend, cloud_capabilities, cloud_quotas,
                datamodel_reserved,
                cloud_address_space, workflow_steps, workflow_reachability, workflow_termination,
                workflow_loops, workflow_resources, agent_workflow_grants, workflow_lifecycles,
                decommission_record, decommission_date, tenant_agent_quota, tenant_agent_feature,
                plan_price_ids, billing_policy_single, billing_policy_refs, billing_policy_review, billing_policy_scope,
            )
        ),
        key=lambda rule: rule.code,
    )
)

__all__ = ["ALL_RULES", "Reporter", "Rule"]
