"""Write a synthetic, valid spec repository with N tenants: the input of every paybill benchmark.

Usage: ``python benchmarks/generate.py N OUT``

The repository looks like a large real platform rather than N copies of one file: four plans, all
five providers, pooled tenants packed into pools, silo tenants, bridge tenants with mixed layers,
every lifecycle state and billing status, data residency, labels, a data model, three agents and
their workflows. One file per tenant (``tenants/<name>.yaml``), so file count matches tenant count.

Networks. A silo tenant and a pool each need a dedicated network, derived from a hash of the name
inside its cloud's address space; two derived networks in one cloud could collide. The generator
therefore uses a cell layout that cannot collide whatever the derivation: every pool lives in its
own cloud account (a "cell": AWS account, Azure subscription, GCP project, OCI compartment, IBM
account), and every silo tenant gets a dedicated account too (the usual way silo tenants are run).
Bridge tenants share their pool's network (their network layer is always pooled), so each cloud
account holds exactly one network. No field beyond the core spec language is used.

Determinism: the output depends on N only. Each tenant's traits come from a PRNG seeded with the
tenant's index (so tenant 42 is the same whatever N is); cells are filled in index order; files are
written in sorted order with ``\\n`` line endings.
"""

from __future__ import annotations

import datetime
import hashlib
import random
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

MARKER = ".paybill-synthetic"
"""Written into OUT; only a folder carrying it is ever deleted and regenerated."""

POOL_CAPACITY = 500
POOL_FILL = 400
"""Pools are filled to 80% of capacity, like a platform that opens a new cell before one is full."""

REGIONS: dict[str, tuple[str, ...]] = {
    "aws": ("us-east-1", "us-west-2", "eu-west-1"),
    "azure": ("westeurope", "northeurope", "eastus"),
    "gcp": ("us-central1", "europe-west1"),
    "oci": ("eu-frankfurt-1", "us-ashburn-1"),
    "ibm": ("us-south", "eu-de"),
}
PROVIDERS = tuple(REGIONS)
PROVIDER_WEIGHTS = (40, 25, 20, 8, 7)
EU_REGIONS = frozenset({"eu-west-1", "westeurope", "northeurope", "europe-west1", "eu-frankfurt-1", "eu-de"})
SHORT_REGION = {
    "us-east-1": "use1", "us-west-2": "usw2", "eu-west-1": "euw1", "westeurope": "weu", "northeurope": "neu",
    "eastus": "eus", "us-central1": "usc1", "europe-west1": "euw1", "eu-frankfurt-1": "fra",
    "us-ashburn-1": "iad", "us-south": "dal", "eu-de": "fra",
}

PLANS = ("free", "starter", "growth", "enterprise")
PLAN_WEIGHTS = (40, 30, 20, 10)
ISOLATION_BY_PLAN: dict[str, tuple[tuple[str, ...], tuple[int, ...]]] = {
    "free": (("pooled",), (1,)),
    "starter": (("pooled",), (1,)),
    "growth": (("pooled", "bridge"), (70, 30)),
    "enterprise": (("silo", "bridge", "pooled"), (35, 45, 20)),
}
BRIDGE_LAYERS = ("keys", "identity", "database", "storage", "compute")
"""Layers a bridge tenant chooses; its network is always pooled (see the module docstring)."""

# Billing status -> lifecycle states it permits (mirrors the PB0405 rule) with weights.
BILLING = ("active", "trialing", "past_due", "cancelled")
BILLING_WEIGHTS = (78, 9, 5, 8)
LIFECYCLES: dict[str, tuple[tuple[str, ...], tuple[int, ...]]] = {
    "trialing": (("onboarding", "active"), (30, 70)),
    "active": (("onboarding", "active", "suspended", "offboarding"), (5, 90, 3, 2)),
    "past_due": (("active", "suspended", "offboarding"), (60, 30, 10)),
    "cancelled": (("suspended", "offboarding", "deleted"), (20, 30, 50)),
}

ADJECTIVES = (
    "amber", "bold", "brisk", "calm", "clear", "coral", "crisp", "deep", "eager", "fair", "gold", "grand",
    "green", "happy", "iron", "jade", "keen", "lunar", "merry", "noble", "north", "prime", "quiet", "rapid",
    "royal", "silver", "solar", "swift", "true", "vivid", "west", "wise",
)
NOUNS = (
    "anchor", "arrow", "beacon", "bridge", "canyon", "cedar", "comet", "delta", "ember", "falcon", "forge",
    "grove", "harbor", "horizon", "lantern", "maple", "meadow", "orbit", "pine", "pixel", "quartz", "river",
    "summit", "tide", "valley", "vector", "willow", "zenith",
)
SUFFIXES = ("labs", "systems", "health", "retail", "logistics", "media", "bank", "energy", "foods", "works")


@dataclass(slots=True)
class TenantPlan:
    """Everything decided about one tenant before the text is written."""

    index: int
    name: str
    display: str
    plan: str
    isolation: str
    layers: dict[str, str]
    provider: str
    region: str
    billing: str
    lifecycle: str
    residency: tuple[str, ...]
    labels: dict[str, str]
    cloud: str = ""
    pool: str | None = None


@dataclass(slots=True)
class Cell:
    """A cloud account; pooled cells also hold one pool."""

    cloud: str
    provider: str
    region: str
    pool: str | None = None
    members: list[TenantPlan] = field(default_factory=list)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _pick(rng: random.Random, options: tuple[str, ...], weights: tuple[int, ...]) -> str:
    return rng.choices(options, weights=weights, k=1)[0]


def plan_tenant(index: int) -> TenantPlan:
    """The traits of tenant ``index``; depends on the index only."""
    rng = random.Random(f"paybill-bench-tenant-{index}")
    adjective, noun, suffix = rng.choice(ADJECTIVES), rng.choice(NOUNS), rng.choice(SUFFIXES)
    name = f"{adjective}-{noun}-{index}"
    display = f"{adjective.title()} {noun.title()} {suffix.title()} {index}"
    plan = _pick(rng, PLANS, PLAN_WEIGHTS)
    isolation = _pick(rng, *ISOLATION_BY_PLAN[plan])
    layers: dict[str, str] = {}
    if isolation == "bridge":
        layers = {layer: rng.choice(("silo", "pooled")) for layer in BRIDGE_LAYERS}
        if "silo" not in layers.values():
            layers[rng.choice(BRIDGE_LAYERS)] = "silo"
    provider = _pick(rng, PROVIDERS, PROVIDER_WEIGHTS)
    region = rng.choice(REGIONS[provider])
    billing = _pick(rng, BILLING, BILLING_WEIGHTS)
    if plan == "free" and billing == "trialing":
        billing = "active"  # the free plan has no trial
    lifecycle = _pick(rng, *LIFECYCLES[billing])
    residency: tuple[str, ...] = ()
    if region in EU_REGIONS and rng.random() < 0.6:
        residency = tuple(r for r in REGIONS[provider] if r in EU_REGIONS)
    elif rng.random() < 0.1:
        residency = (region,)
    segment = {"free": "self-serve", "starter": "smb", "growth": "mid-market", "enterprise": "enterprise"}[plan]
    labels = {"segment": segment}
    if plan == "enterprise" or (plan == "growth" and rng.random() < 0.3):
        labels["support-tier"] = "premium"
    if rng.random() < 0.05:
        labels["regulated"] = rng.choice(("hipaa", "pci", "sox"))
    return TenantPlan(index, name, display, plan, isolation, layers, provider, region, billing, lifecycle,
                      residency, labels)


def assign_cells(tenants: list[TenantPlan]) -> list[Cell]:
    """Silo tenants get their own account; the others fill pooled cells per provider and region."""
    cells: list[Cell] = []
    open_cells: dict[tuple[str, str], Cell] = {}
    counters: dict[tuple[str, str], int] = {}
    for tenant in tenants:
        if tenant.isolation == "silo":
            cell = Cell(f"{tenant.name}-{tenant.provider}", tenant.provider, tenant.region)
            cells.append(cell)
        else:
            key = (tenant.provider, tenant.region)
            cell = open_cells.get(key)
            if cell is None or len(cell.members) >= POOL_FILL:
                counters[key] = counters.get(key, 0) + 1
                base = f"{tenant.provider}-{SHORT_REGION[tenant.region]}"
                cell = Cell(f"{base}-cell{counters[key]}", tenant.provider, tenant.region,
                            pool=f"{base}-pool{counters[key]}")
                open_cells[key] = cell
                cells.append(cell)
            tenant.pool = cell.pool
        tenant.cloud = cell.cloud
        cell.members.append(tenant)
    return cells


def _flow(mapping: dict[str, str]) -> str:
    return "{" + ", ".join(f"{k}: {v}" for k, v in mapping.items()) + "}"


def _ocid(kind: str, seed: str) -> str:
    return f"ocid1.{kind}.oc1..aaaaaaaa{_digest(seed)[:52]}"


def _uuid(seed: str) -> str:
    h = _digest(seed)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def raised_quotas(cells: list[Cell]) -> dict[str, dict[str, int]]:
    """The quotas a platform team running this fleet would have had raised, by provider (``spec.quotas``).

    A GCP project holds one cell (at most ``POOL_FILL`` tenants, one service account each, beside the
    pool's node account): 1,000 service accounts per project instead of 100. Every OCI Cloud shares one
    tenancy, so its IAM policies (at most two per tenant and one per pool) and vaults (one per silo-keys
    tenant or pool, per region) grow with the fleet: asked for with twice that bound as headroom,
    rounded up to a thousand and a hundred. Without them the fleet could not be applied (PB0682).
    """
    oci = sum(len(cell.members) + bool(cell.pool) for cell in cells if cell.provider == "oci")
    return {"gcp": {"serviceAccounts": 1_000},
            "oci": {"iamPolicies": -(-4 * oci // 1_000) * 1_000, "vaults": -(-2 * oci // 100) * 100}}


def cloud_text(cell: Cell, quotas: dict[str, int] | None = None) -> str:
    """A Cloud document for one account, with the identifiers and state backend its provider needs."""
    seed, name, provider = cell.cloud, cell.cloud, cell.provider
    regions = ", ".join(REGIONS[provider])
    short = _digest(seed)[:10]
    identity, backend = {
        "aws": (
            f"  aws:\n    accountId: \"{int(_digest(seed)[:12], 16) % 10**12:012d}\"\n",
            f"    type: s3\n    bucket: pb-tfstate-{short}\n    region: {cell.region}\n    keyPrefix: paybill\n",
        ),
        "azure": (
            f"  azure:\n    subscriptionId: {_uuid(seed + '/sub')}\n    tenantId: {_uuid('directory')}\n",
            f"    type: azurerm\n    resourceGroupName: rg-tfstate-{short}\n"
            f"    storageAccountName: sttf{short}\n    containerName: tfstate\n",
        ),
        "gcp": (
            f"  gcp:\n    projectId: pb-{short}\n",
            f"    type: gcs\n    bucket: pb-tfstate-{short}\n    prefix: paybill\n",
        ),
        "oci": (
            f"  oci:\n    tenancyOcid: {_ocid('tenancy', 'tenancy')}\n"
            f"    compartmentOcid: {_ocid('compartment', seed)}\n",
            f"    type: oci\n    bucket: pb-tfstate-{short}\n    namespace: axaxnpcrorw5\n    region: {cell.region}\n",
        ),
        "ibm": (
            f"  ibm:\n    accountId: {_digest(seed + '/account')[:32]}\n"
            f"    resourceGroupId: {_digest(seed + '/rg')[:32]}\n",
            f"    type: s3\n    bucket: pb-tfstate-{short}\n    region: {cell.region}\n    keyPrefix: paybill\n"
            f"    endpoint: https://s3.{cell.region}.cloud-object-storage.appdomain.cloud\n",
        ),
    }[provider]
    role = "pool-cell" if cell.pool else "silo-tenant"
    return (
        "apiVersion: paybill.dev/v1alpha1\nkind: Cloud\nmetadata:\n"
        f"  name: {name}\n  labels: {{environment: production, role: {role}}}\n"
        f"spec:\n  provider: {provider}\n{identity}  regions: [{regions}]\n  addressSpace: 10.0.0.0/8\n"
        f"  stateBackend:\n{backend}  defaultTags:\n    cost-center: platform\n"
        + (f"  quotas: {_flow({k: str(v) for k, v in quotas.items()})}\n" if quotas else "")
    )


def pool_text(cell: Cell) -> str:
    return (
        "apiVersion: paybill.dev/v1alpha1\nkind: Pool\nmetadata:\n"
        f"  name: {cell.pool}\n  labels: {{tier: shared}}\n"
        f"spec:\n  cloud: {cell.cloud}\n  region: {cell.region}\n"
        f"  capacity:\n    maxTenants: {POOL_CAPACITY}\n"
        "  layers: [network, keys, identity, database, storage, compute]\n"
        "  sizing:\n    compute: xlarge\n    database:\n      size: xlarge\n      highAvailability: true\n"
        "      backupRetentionDays: 30\n      storageGb: 2000\n    storageGb: 20000\n"
    )


def tenant_text(t: TenantPlan) -> str:
    lines = [
        "apiVersion: paybill.dev/v1alpha1",
        "kind: Tenant",
        "metadata:",
        f"  name: {t.name}",
        f"  labels: {_flow(t.labels)}",
        "spec:",
        f"  displayName: {t.display}",
        f"  plan: {t.plan}",
        "  placement:",
        f"    cloud: {t.cloud}",
        f"    region: {t.region}",
    ]
    if t.pool:
        lines.append(f"    pool: {t.pool}")
    lines += ["  isolation:", f"    model: {t.isolation}"]
    if t.isolation == "bridge":
        lines.append("    layers:")
        lines.append("      network: pooled")
        lines += [f"      {layer}: {t.layers[layer]}" for layer in BRIDGE_LAYERS]
    lines.append(f"  lifecycle: {t.lifecycle}")
    if t.lifecycle == "deleted":  # the day it was deleted: retention (and the destroy) count from it
        since = datetime.date(2026, 1, 1) + datetime.timedelta(days=t.index % 300)
        lines.append(f'  lifecycleSince: "{since.isoformat()}"')
    lines += [
        "  billing:",
        f"    status: {t.billing}",
        f"    customerId: cus_{_digest(t.name)[:14]}",
    ]
    if t.residency:
        lines += ["  dataResidency:", f"    allowedRegions: [{', '.join(t.residency)}]"]
    lines += [
        "  contacts:",
        f"    - name: {t.display} Platform Team",
        f"      email: platform@{t.name}.example.com",
        "      role: technical",
        f"    - name: {t.display} Accounts Payable",
        f"      email: billing@{t.name}.example.com",
        "      role: billing",
    ]
    return "\n".join(lines) + "\n"


def _sizing(compute: str, db: str, ha: bool, backup: int, db_gb: int, storage: int, key: str = "sizing") -> str:
    return (
        f"  {key}:\n    compute: {compute}\n    database:\n      size: {db}\n"
        f"      highAvailability: {'true' if ha else 'false'}\n      backupRetentionDays: {backup}\n"
        f"      storageGb: {db_gb}\n    storageGb: {storage}\n"
    )


def plan_texts() -> dict[str, str]:
    rows = {
        # name: (display, tier, amount, trial, quotas, features, allowed, default, sizing, trial sizing)
        "free": ("Free", 0, 0, 0, (3, 5, 10, 0), "core", "pooled", "pooled",
                 ("xsmall", "xsmall", False, 1, 10, 5), None),
        "starter": ("Starter", 1, 4900, 14, (10, 50, 50, 1), "core, api-access", "pooled", "pooled",
                    ("small", "small", False, 7, 20, 50), None),
        "growth": ("Growth", 2, 49900, 14, (100, 500, 200, 5), "core, api-access, sso, audit-log, ai-agents",
                   "pooled, bridge", "pooled", ("medium", "medium", False, 14, 100, 500),
                   ("small", "small", False, 7, 20, 50)),
        "enterprise": ("Enterprise", 3, 499900, 30, (10000, 10000, 2000, 50),
                       "core, api-access, sso, audit-log, ai-agents, dedicated-infrastructure, customer-managed-keys",
                       "silo, bridge, pooled", "silo", ("large", "large", True, 35, 500, 10000),
                       ("medium", "medium", False, 14, 100, 500)),
    }
    texts = {}
    for name, (display, tier, amount, trial, quotas, features, allowed, default, sizing, trial_sizing) in rows.items():
        seats, storage, rps, agents = quotas
        text = (
            "apiVersion: paybill.dev/v1alpha1\nkind: Plan\nmetadata:\n"
            f"  name: {name}\n  labels: {{catalog: public}}\n"
            f"spec:\n  displayName: {display}\n  tier: {tier}\n"
            f"  price:\n    amount: {amount}\n    currency: USD\n    interval: month\n"
            f"  trialDays: {trial}\n"
            f"  quotas:\n    seats: {seats}\n    storageGb: {storage}\n    apiRequestsPerSecond: {rps}\n"
            f"    agents: {agents}\n"
            f"  features: [{features}]\n"
            f"  isolation:\n    allowed: [{allowed}]\n    default: {default}\n"
            + _sizing(*sizing)
            + (_sizing(*trial_sizing, key="trialSizing") if trial_sizing else "")
        )
        texts[f"plans/{name}.yaml"] = text
    return texts


DATA_MODEL = """\
apiVersion: paybill.dev/v1alpha1
kind: DataModel
metadata:
  name: crm
spec:
  tables:
    - name: customers
      primaryKey: [id]
      columns:
        - {name: id, type: uuid, nullable: false}
        - {name: name, type: text, nullable: false}
        - {name: email, type: text, pii: true}
        - {name: phone, type: text, pii: true}
        - {name: plan_code, type: text}
        - {name: created_at, type: timestamptz, nullable: false}
    - name: invoices
      primaryKey: [id]
      columns:
        - {name: id, type: uuid, nullable: false}
        - {name: customer_id, type: uuid, nullable: false}
        - {name: amount_cents, type: bigint, nullable: false}
        - {name: currency, type: text, nullable: false}
        - {name: status, type: text, nullable: false}
        - {name: due_date, type: date, nullable: false}
    - name: tickets
      primaryKey: [id]
      columns:
        - {name: id, type: uuid, nullable: false}
        - {name: customer_id, type: uuid, nullable: false}
        - {name: subject, type: text, nullable: false}
        - {name: body, type: text, pii: true}
        - {name: status, type: text, nullable: false}
        - {name: priority, type: text, nullable: false}
        - {name: assignee, type: text}
        - {name: created_at, type: timestamptz, nullable: false}
    - name: currencies
      scope: global
      primaryKey: [code]
      columns:
        - {name: code, type: text, nullable: false}
        - {name: minor_units, type: integer, nullable: false}
"""

WORKFLOWS = {
    "triage-ticket": """\
  start: fetch-ticket
  terminal: [done]
  steps:
    - {id: fetch-ticket, action: read, resource: tickets, next: [lookup-customer], maxVisits: 5}
    - {id: lookup-customer, action: read, resource: customers, next: [fetch-ticket, done], maxVisits: 5}
    - {id: done, action: none}
""",
    "dunning": """\
  start: list-invoices
  terminal: [done]
  steps:
    - {id: list-invoices, action: read, resource: invoices, next: [load-customer]}
    - {id: load-customer, action: read, resource: customers, next: [mark-overdue, done]}
    - {id: mark-overdue, action: update, resource: invoices, next: [propose-plan-change, done]}
    - {id: propose-plan-change, action: propose, resource: Tenant, next: [done]}
    - {id: done, action: none}
""",
    "incident-response": """\
  start: inspect
  terminal: [done]
  steps:
    - {id: inspect, action: read, resource: tickets, next: [close-tickets, done]}
    - {id: close-tickets, action: update, resource: tickets, requiresApproval: true, next: [done]}
    - {id: done, action: none}
""",
}

AGENTS = {
    "support-assistant": ("support", "selector:\n      matchLabels: {support-tier: premium}", """\
      - {table: tickets, read: [id, customer_id, subject, status, priority, created_at]}
      - {table: customers, read: [id, name]}
""", "", (20, 500, 0, 120, 60, 1000), "triage-ticket"),
    "billing-agent": ("billing", "all: true", """\
      - {table: invoices, read: [id, customer_id, amount_cents, currency, status, due_date], update: [status]}
      - {table: customers, read: [id, name, plan_code]}
""", "    proposals:\n      - {kind: Tenant, fields: [spec.plan]}\n", (50, 5000, 200, 600, 120, 10000), "dunning"),
    "ops-agent": ("sre", None, """\
      - {table: tickets, read: [id, subject, status, priority, assignee], update: [status, assignee]}
""", "", (10, 2000, 500, 300, 30, 5000), "incident-response"),
}


def agent_texts(tenants: list[TenantPlan]) -> dict[str, str]:
    enterprise = [t.name for t in tenants if t.plan == "enterprise" and t.lifecycle != "deleted"][:25]
    texts = {}
    for name, (team, scope, tables, proposals, limits, workflow) in AGENTS.items():
        if scope is None:
            scope = f"tenants: [{', '.join(enterprise)}]" if enterprise else "all: true"
        steps, rows, written, wall, calls, budget = limits
        texts[f"agents/{name}.yaml"] = (
            "apiVersion: paybill.dev/v1alpha1\nkind: Agent\nmetadata:\n"
            f"  name: {name}\nspec:\n  description: Synthetic {name} for benchmarks.\n"
            f"  owner:\n    team: {team}\n    email: {team}@paybill.example.com\n"
            f"  tenantScope:\n    {scope}\n"
            f"  permissions:\n    tables:\n{tables}{proposals}"
            f"  limits:\n    maxSteps: {steps}\n    maxRowsRead: {rows}\n    maxRowsWritten: {written}\n"
            f"    maxWallTimeSeconds: {wall}\n    maxCallsPerMinute: {calls}\n    budgetUnits: {budget}\n"
            f"  workflows: [{workflow}]\n"
        )
    for name, body in WORKFLOWS.items():
        texts[f"workflows/{name}.yaml"] = (
            "apiVersion: paybill.dev/v1alpha1\nkind: Workflow\nmetadata:\n"
            f"  name: {name}\nspec:\n  description: Synthetic {name} workflow.\n{body}"
        )
    return texts


def repository(n: int) -> Iterator[tuple[str, str]]:
    """Every (relative path, text) of the synthetic repository with ``n`` tenants, sorted by path."""
    tenants = [plan_tenant(i) for i in range(n)]
    cells = assign_cells(tenants)
    files: dict[str, str] = {**plan_texts(), "data/crm.yaml": DATA_MODEL, **agent_texts(tenants)}
    quotas = raised_quotas(cells)
    for cell in cells:
        files[f"clouds/{cell.cloud}.yaml"] = cloud_text(cell, quotas.get(cell.provider))
        if cell.pool:
            files[f"pools/{cell.pool}.yaml"] = pool_text(cell)
    for tenant in tenants:
        files[f"tenants/{tenant.name}.yaml"] = tenant_text(tenant)
    yield from sorted(files.items())


def write_repository(n: int, out: Path) -> int:
    """(Re)create ``out`` with the repository; returns the number of files written.

    An existing folder is replaced only when it carries the generator's marker, so a typo in OUT
    never deletes someone's work.
    """
    if out.exists():
        if not (out / MARKER).is_file():
            if any(out.iterdir()):
                raise SystemExit(f"generate.py: {out} exists and was not made by this script; choose another OUT")
        else:
            shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text(f"{n}\n", encoding="utf-8")
    count = 0
    made: set[Path] = set()
    for relative, text in repository(n):
        path = out / relative
        if path.parent not in made:
            path.parent.mkdir(parents=True, exist_ok=True)
            made.add(path.parent)
        path.write_bytes(text.encode("utf-8"))
        count += 1
    return count


def main(argv: list[str]) -> int:
    if len(argv) != 2 or not argv[0].isdigit() or int(argv[0]) < 1:
        print("usage: generate.py N OUT   (N >= 1 tenants, OUT a new or previously generated folder)",
              file=sys.stderr)
        return 2
    n, out = int(argv[0]), Path(argv[1])
    count = write_repository(n, out)
    print(f"wrote {count} files ({n} tenants) to {out.as_posix()}/")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
