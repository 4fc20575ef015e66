"""The fleet a new user writes after reading README.md: `paybill init`'s scaffold, edited by hand.

`paybill init` gives one AWS cloud and pool, four tenants, two agents and their workflows. The user
adds four clouds (Azure, Google Cloud, Oracle Cloud, IBM Cloud) with one shared pool each, eleven
tenants so that every lifecycle state is present from the first commit, and a dunning workflow that
may act on suspended tenants. The spec text is written here, from the README's examples, not copied
from this repository's own specs/: the point is to catch what a second, independent repository
breaks.

Tenants and their role in the story (see test_story.py):

| tenant | cloud / isolation | starts | story |
| --- | --- | --- | --- |
| acme-corp | aws silo enterprise | active | (scaffold) |
| hooli | aws pooled starter | active | (scaffold) active -> deleted in one step is refused |
| nakatomi | aws silo enterprise | suspended | (scaffold) |
| vandelay | aws pooled free | active | the billing agent proposes starter |
| initech | azure bridge (silo db) growth | active | plan upgrade to enterprise (resize) |
| globex | azure pooled growth | active | (the support assistant acts for it: a plan with ai-agents) |
| dunder-mifflin | azure pooled growth | suspended | the dunning workflow still runs on it |
| pied-piper | azure pooled enterprise | active | pooled -> silo migration in phases (aws, azure only) |
| raviga | gcp pooled growth | offboarding | deleted |
| soylent | oci silo enterprise | active | |
| tyrell | oci pooled growth | active | suspended |
| cyberdyne | ibm pooled starter | deleted | decommissioned from the first commit |
| gringotts | ibm pooled growth | active | offboarding |
| bluth | ibm silo enterprise | onboarding | |
| wonka | aws pooled growth | onboarding | |
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

HEADER = "# yaml-language-server: $schema=../../schemas/{schema}.schema.json\napiVersion: paybill.dev/v1alpha1\n"

CLOUDS: dict[str, str] = {
    "azure-prod": """\
kind: Cloud
metadata:
  name: azure-prod
  labels: {environment: production}
spec:
  provider: azure
  azure:
    subscriptionId: 3f2c9a51-7d4e-4b8a-9c1f-0e6d5b4a3c21
    tenantId: 9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d
  regions: [westeurope, northeurope]
  addressSpace: 10.64.0.0/10
  stateBackend:
    type: azurerm
    resourceGroupName: rg-fleet-tfstate
    storageAccountName: stfleettfstate
    containerName: tfstate
  defaultTags: {cost-center: platform}
""",
    "gcp-prod": """\
kind: Cloud
metadata:
  name: gcp-prod
  labels: {environment: production}
spec:
  provider: gcp
  gcp: {projectId: fleet-saas-prod}
  regions: [us-central1, europe-west1]
  addressSpace: 10.128.0.0/10
  stateBackend: {type: gcs, bucket: fleet-saas-prod-tfstate, prefix: paybill}
  defaultTags: {cost-center: platform}
""",
    "oci-prod": """\
kind: Cloud
metadata:
  name: oci-prod
  labels: {environment: production}
spec:
  provider: oci
  oci:
    tenancyOcid: ocid1.tenancy.oc1..aaaaaaaafleetfleetfleetfleetfleetfleetfleetfleetfleet01
    compartmentOcid: ocid1.compartment.oc1..aaaaaaaafleetfleetfleetfleetfleetfleetfleetfleet02
  regions: [eu-frankfurt-1]
  addressSpace: 10.192.0.0/10
  stateBackend: {type: oci, bucket: fleet-tfstate, namespace: fleetns01, region: eu-frankfurt-1}
  defaultTags: {cost-center: platform}
""",
    "ibm-prod": """\
kind: Cloud
metadata:
  name: ibm-prod
  labels: {environment: production}
spec:
  provider: ibm
  ibm:
    accountId: 0f1e2d3c4b5a69788796a5b4c3d2e1f0
    resourceGroupId: a1b2c3d4e5f60718293a4b5c6d7e8f90
  regions: [us-south]
  addressSpace: 172.16.0.0/12
  stateBackend:
    type: s3
    bucket: fleet-ibm-tfstate
    region: us-south
    keyPrefix: paybill
    endpoint: https://s3.us-south.cloud-object-storage.appdomain.cloud
""",
}

POOL = """\
kind: Pool
metadata:
  name: {name}
  labels: {{tier: shared}}
spec:
  cloud: {cloud}
  region: {region}
  capacity: {{maxTenants: 100}}
  layers: [network, keys, identity, database, storage, compute]
  sizing:
    compute: large
    database: {{size: large, highAvailability: true, backupRetentionDays: 30, storageGb: 1000}}
    storageGb: 5000
"""

# Pools carry a `fleet-` prefix: their database roles (`paybill_owner_pool_<pool>`) are cluster-wide,
# and other tests on the shared PostgreSQL apply this repository's specs/ pools.
POOLS = {  # name: (cloud, region)
    "fleet-azure-weu": ("azure-prod", "westeurope"),
    "fleet-gcp-usc1": ("gcp-prod", "us-central1"),
    "fleet-oci-fra": ("oci-prod", "eu-frankfurt-1"),
    "fleet-ibm-dal": ("ibm-prod", "us-south"),
}


@dataclass(frozen=True)
class NewTenant:
    name: str
    plan: str
    cloud: str
    region: str
    pool: str | None  # None: silo
    lifecycle: str
    billing: str
    support: str = "standard"
    bridge_db_silo: bool = False
    since: str | None = None  # spec.lifecycleSince

    def yaml(self, *, lifecycle_since: bool) -> str:
        display = self.name.replace("-", " ").title()
        placement = f"    cloud: {self.cloud}\n    region: {self.region}\n"
        if self.pool:
            placement += f"    pool: {self.pool}\n"
        if self.bridge_db_silo:
            isolation = ("    model: bridge\n    layers: {network: pooled, keys: silo, identity: pooled, "
                         "database: silo, storage: silo, compute: pooled}\n")
        else:
            isolation = f"    model: {'pooled' if self.pool else 'silo'}\n"
        since = f"  lifecycleSince: {self.since}\n" if self.since and lifecycle_since else ""
        return (
            "kind: Tenant\n"
            "metadata:\n"
            f"  name: {self.name}\n"
            f"  labels: {{segment: smb, support-tier: {self.support}}}\n"
            "spec:\n"
            f"  displayName: {display}\n"
            f"  plan: {self.plan}\n"
            f"  placement:\n{placement}"
            f"  isolation:\n{isolation}"
            f"  lifecycle: {self.lifecycle}\n"
            f"{since}"
            f"  billing: {{status: {self.billing}, customerId: cus_{self.name.replace('-', '')[:10]}01}}\n"
            "  contacts:\n"
            f"    - {{name: {display} Platform Team, email: platform@{self.name}.example.com, role: technical}}\n"
        )


NEW_TENANTS = (
    NewTenant("wonka", "growth", "aws-prod", "us-east-1", "aws-use1-shared", "onboarding", "trialing"),
    NewTenant("initech", "growth", "azure-prod", "westeurope", "fleet-azure-weu", "active", "active",
              support="premium", bridge_db_silo=True),
    NewTenant("globex", "growth", "azure-prod", "westeurope", "fleet-azure-weu", "active", "active",
              support="premium"),
    NewTenant("dunder-mifflin", "growth", "azure-prod", "westeurope", "fleet-azure-weu", "suspended",
              "past_due", support="premium", since="2026-02-01"),
    NewTenant("pied-piper", "enterprise", "azure-prod", "westeurope", "fleet-azure-weu", "active", "active",
              support="premium"),
    NewTenant("raviga", "growth", "gcp-prod", "us-central1", "fleet-gcp-usc1", "offboarding", "cancelled",
              since="2026-03-01"),
    NewTenant("soylent", "enterprise", "oci-prod", "eu-frankfurt-1", None, "active", "active"),
    NewTenant("tyrell", "growth", "oci-prod", "eu-frankfurt-1", "fleet-oci-fra", "active", "active",
              support="premium"),
    NewTenant("cyberdyne", "starter", "ibm-prod", "us-south", "fleet-ibm-dal", "deleted", "cancelled",
              since="2026-01-15"),
    NewTenant("gringotts", "growth", "ibm-prod", "us-south", "fleet-ibm-dal", "active", "active"),
    NewTenant("bluth", "enterprise", "ibm-prod", "us-south", None, "onboarding", "trialing"),
)

LIFECYCLE_STATES = ("onboarding", "active", "suspended", "offboarding", "deleted")

# Dunning keeps running while a tenant is suspended (that is when invoices are overdue), but only
# the read and mark steps: proposing a plan change for a suspended tenant is left to people.
DUNNING = """\
kind: Workflow
metadata:
  name: dunning
spec:
  description: Chase overdue invoices, also while a tenant is suspended for non-payment.
  start: list-invoices
  terminal: [done]
{lifecycles}  steps:
    - id: list-invoices
      action: read
      resource: invoices
      next: [load-customer]
    - id: load-customer
      action: read
      resource: customers
      next: [mark-overdue, done]
    - id: mark-overdue
      action: update
      resource: invoices
      next: [propose-plan-change, done]
    - id: propose-plan-change
      action: propose
      resource: Tenant
{step_lifecycles}      next: [done]
    - id: done
      action: none
"""


def write_fleet(root: Path, *, workflow_lifecycles: bool, lifecycle_since: bool) -> None:
    """Edit a fresh `paybill init` tree into the fleet. ``workflow_lifecycles`` writes the workflow's
    `lifecycles:`, ``lifecycle_since`` the tenants' `lifecycleSince:` (both from other branches)."""
    specs = root / "specs"
    for name, body in CLOUDS.items():
        _write(specs / "clouds" / f"{name}.yaml", "cloud", body)
    for name, (cloud, region) in POOLS.items():
        _write(specs / "pools" / f"{name}.yaml", "pool", POOL.format(name=name, cloud=cloud, region=region))
    for tenant in NEW_TENANTS:
        _write(specs / "tenants" / f"{tenant.name}.yaml", "tenant", tenant.yaml(lifecycle_since=lifecycle_since))
    _write(specs / "workflows" / "dunning.yaml", "workflow", DUNNING.format(
        lifecycles="  lifecycles: [onboarding, active, suspended]\n" if workflow_lifecycles else "",
        step_lifecycles="      lifecycles: [onboarding, active]\n" if workflow_lifecycles else ""))


def _write(path: Path, schema: str, body: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER.format(schema=schema) + body, encoding="utf-8")
