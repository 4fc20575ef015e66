"""One function per kind of change, applied to the seeded repository (see conftest.SpecRepo).

Each returns the diagnostic codes the plan must report, so the markdown snapshot is never the only
check: a scenario whose plan loses its finding fails even after ``--snapshot-update``.
"""

from __future__ import annotations

from collections.abc import Callable

ACME = "specs/tenants/acme-corp.yaml"
HOOLI = "specs/tenants/hooli.yaml"
VANDELAY = "specs/tenants/vandelay.yaml"
SUPPORT = "specs/agents/support-assistant.yaml"
DUNNING = "specs/workflows/dunning.yaml"


def tenant_plan_upgrade(repo) -> set[str]:
    repo.edit(VANDELAY, "plan: free", "plan: starter")
    return {"PB0950"}


def plan_price_change(repo) -> set[str]:
    repo.edit("specs/plans/enterprise.yaml", "amount: 499900", "amount: 549900")
    return {"PB0950", "PB0951"}


def isolation_migration(repo) -> set[str]:
    repo.edit(ACME, "    region: us-east-1\n", "    region: us-east-1\n    pool: aws-use1-shared\n")
    repo.edit(ACME, "    model: silo\n", "    model: bridge\n    layers:\n      network: pooled\n      keys: silo\n"
                    "      identity: silo\n      database: silo\n      storage: silo\n      compute: pooled\n")
    return {"PB0920"}


def lifecycle_skips_offboarding(repo) -> set[str]:
    repo.edit(ACME, "lifecycle: active", 'lifecycle: deleted\n  lifecycleSince: "2026-11-02"')
    repo.edit(ACME, "status: active", "status: cancelled")
    return {"PB0910", "PB0940", "PB0950"}


def tenant_onboarded(repo) -> set[str]:
    repo.write("specs/tenants/initech.yaml", repo.read(HOOLI)
               .replace("name: hooli", "name: initech").replace("displayName: Hooli", "displayName: Initech")
               .replace("lifecycle: active", "lifecycle: onboarding"))
    return set()


def live_tenant_removed(repo) -> set[str]:
    repo.remove(HOOLI)
    return {"PB0911"}


def agent_permissions_widened(repo) -> set[str]:
    repo.edit(SUPPORT, "read: [id, name]", "read: [id, name, email]")
    repo.edit(SUPPORT, "maxRowsRead: 500", "maxRowsRead: 5000")
    repo.edit(SUPPORT, "    selector:\n      matchLabels:\n        support-tier: premium\n", "    all: true\n")
    return {"PB0930"}


def pool_resized(repo) -> set[str]:
    repo.edit("specs/pools/aws-use1-shared.yaml", "maxTenants: 200", "maxTenants: 400")
    repo.edit("specs/pools/aws-use1-shared.yaml", "    compute: xlarge", "    compute: large")
    return {"PB0951"}


def column_dropped(repo) -> set[str]:
    repo.edit("specs/data/crm.yaml", "        - {name: phone, type: text, pii: true}\n", "")
    return {"PB0940"}


def tenant_suspended(repo) -> set[str]:
    repo.edit(VANDELAY, "lifecycle: active", "lifecycle: suspended")
    return set()


SCENARIOS: dict[str, Callable] = {f.__name__: f for f in (
    tenant_plan_upgrade, plan_price_change, isolation_migration, lifecycle_skips_offboarding, tenant_onboarded,
    live_tenant_removed, agent_permissions_widened, pool_resized, column_dropped, tenant_suspended)}
