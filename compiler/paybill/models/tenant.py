"""Tenant: one customer, its plan, where it runs, how isolated it is and where it is in its life."""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from functools import cached_property
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints

from paybill.models.base import (
    LAYERS,
    Cidr,
    Email,
    Envelope,
    HintedValueError,
    Name,
    Placement,
    Region,
    SpecModel,
    Text,
)

Lifecycle = Literal["onboarding", "active", "suspended", "offboarding", "deleted"]
BillingStatus = Literal["trialing", "active", "past_due", "cancelled"]


class TenantPlacement(SpecModel):
    cloud: Name
    region: Region
    pool: Name | None = None
    """Required when any layer is pooled; must be on the same cloud and region."""
    network_cidr: Cidr | None = None
    """The tenant's dedicated network (silo network layer), a /16 to /24 inside the cloud's address
    space. Optional: when unset, a /20 is derived from a hash of the tenant name, so adding a tenant
    never moves another; a collision is a diagnostic asking for an explicit value."""


class BridgeLayers(SpecModel):
    """Per-layer choice for the bridge model: every layer is stated, none is implied."""

    network: Placement
    keys: Placement
    identity: Placement
    database: Placement
    storage: Placement
    compute: Placement


class SiloFrom(SpecModel):
    model: Literal["silo"]


class PooledFrom(SpecModel):
    model: Literal["pooled"]


class BridgeFrom(SpecModel):
    model: Literal["bridge"]
    layers: BridgeLayers


FromIsolation = Annotated[SiloFrom | PooledFrom | BridgeFrom, Field(discriminator="model")]
"""The isolation a tenant had before a migration: the shape of ``isolation`` without a migration."""


def _real_date(text: str) -> str:
    """2026-02-30 matches the pattern but is no day: a schema error (PB0207) whose hint says which days exist."""
    try:
        date.fromisoformat(text)
    except ValueError as error:
        year, month = int(text[:4]), int(text[5:7])
        if 1 <= month <= 12 and year >= 1:
            hint = f"{text[:7]} has {calendar.monthrange(year, month)[1]} days; write a day that exists (YYYY-MM-DD)"
        else:
            hint = "months are 01 to 12 and years start at 0001; write a day that exists (YYYY-MM-DD)"
        raise HintedValueError(f"'{text}' is not a calendar day ({error})", hint) from None
    return text


IsoDate = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"), AfterValidator(_real_date)]
"""A calendar day ``YYYY-MM-DD``. Kept as text (YAML timestamps reach the models as text); compile only
ever compares days written in the specs and never reads the clock."""

MigrationPhase = Literal["provision", "copy", "cutover", "decommission"]
MIGRATION_PHASES: tuple[str, ...] = ("provision", "copy", "cutover", "decommission")
"""In order; each phase is one reviewed commit (``paybill plan`` refuses skipping one)."""


class Migration(SpecModel):
    """A move between isolations, executed as reviewed commits instead of one destructive apply.

    Until ``decommission`` the tenant keeps everything its ``from`` isolation had (the pool's key
    grant, access point, namespace, its rows in the pooled database) beside the target's resources;
    the application is pointed at the target from ``cutover`` on.
    """

    from_: FromIsolation = Field(alias="from")
    phase: MigrationPhase


class Pooling(SpecModel):
    """The reviewed record that a tenant's data was copied into its pool before its silo layers are pooled.

    The opposite of :class:`Migration` cannot be staged: a tenant stack cannot keep a dedicated
    database, bucket or key beside a pooled target (PB0440), so the apply of the commit that pools a
    data-holding layer destroys the dedicated store. ``paybill plan`` therefore refuses that commit
    (PB0948) unless it carries this record, which says the copy into the pool was done and verified
    first (the runbook in the README, "Moving a tenant to less isolation"). It changes no output and
    may stay as history; it must be removed before the tenant migrates again (PB0443).
    """

    from_: FromIsolation = Field(alias="from")
    """The isolation the tenant had before this commit (same shape as ``isolation``)."""
    copied_at: IsoDate
    """The day the copy into the pool was verified (row counts, checksums, object counts)."""


class SiloIsolation(SpecModel):
    model: Literal["silo"]
    migration: Migration | None = None
    pooling: Pooling | None = None


class PooledIsolation(SpecModel):
    model: Literal["pooled"]
    migration: Migration | None = None
    pooling: Pooling | None = None


class BridgeIsolation(SpecModel):
    model: Literal["bridge"]
    layers: BridgeLayers
    migration: Migration | None = None
    pooling: Pooling | None = None


Isolation = Annotated[SiloIsolation | PooledIsolation | BridgeIsolation, Field(discriminator="model")]


def isolation_placements(isolation: SiloIsolation | PooledIsolation | BridgeIsolation
                         | SiloFrom | PooledFrom | BridgeFrom) -> dict[str, str]:
    """``silo`` or ``pooled`` for every layer of an isolation (or of a migration's ``from``)."""
    layers = getattr(isolation, "layers", None)
    if layers is not None:
        return {layer: str(getattr(layers, layer)) for layer in LAYERS}
    return dict.fromkeys(LAYERS, isolation.model)


_PLACEMENTS: dict[tuple[tuple[str, str], ...], dict[str, str]] = {}


def _shared(placements: dict[str, str]) -> dict[str, str]:
    """One dict per distinct placement map: 100,000 tenants hold a handful of combinations, and a
    dict each costs ~20 MB a property. Callers only read them (a tenant's placements are facts)."""
    return _PLACEMENTS.setdefault(tuple(placements.items()), placements)


class Billing(SpecModel):
    status: BillingStatus
    customer_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
    """The billing system's customer id (e.g. Stripe ``cus_...``)."""


class DataResidency(SpecModel):
    allowed_regions: list[Region] = Field(min_length=1)
    """The tenant's data may only live in these regions."""


class Contact(SpecModel):
    name: Text
    email: Email
    role: Literal["technical", "billing", "security", "executive"]


class Decommission(SpecModel):
    """The record that a deleted tenant's Terraform stack has been destroyed.

    The apply workflow prints this record after its destroy job destroyed the stack; committing it is
    what ends the stack's listing under ``removed`` in ``manifest.json`` (and lets the tenant file go).
    """

    destroyed_at: IsoDate
    """The day the decommission configuration was destroyed."""


class TenantSpec(SpecModel):
    display_name: Text
    plan: Name
    placement: TenantPlacement
    isolation: Isolation
    lifecycle: Lifecycle
    lifecycle_since: IsoDate | None = None
    """The day the tenant entered its current lifecycle state. For an offboarding or deleted tenant,
    its data is retained until this day plus the plan's ``backupRetentionDays`` (``retainUntil``:
    the entitlements and the manifest say it, and ``paybill db erase`` refuses before that day)."""
    decommission: Decommission | None = None
    """Only on a ``deleted`` tenant, once its stack's destroy is done (see :class:`Decommission`)."""
    billing: Billing
    data_residency: DataResidency | None = None
    contacts: list[Contact] = Field(default_factory=list)


class Tenant(Envelope):
    kind: Literal["Tenant"]
    spec: TenantSpec

    @cached_property
    def placements(self) -> dict[str, str]:
        """``silo`` or ``pooled`` for every layer, whatever the model; computed once per tenant
        (graph, Terraform, SQL, entitlements and rules all ask). During a migration: the target."""
        return _shared(isolation_placements(self.spec.isolation))

    @property
    def migration(self) -> Migration | None:
        return self.spec.isolation.migration

    @property
    def pooling(self) -> Pooling | None:
        return self.spec.isolation.pooling

    @cached_property
    def kept_placements(self) -> dict[str, str]:
        """Layers whose ``from`` placement is kept beside the target, with that placement.

        Empty without a migration and from ``decommission`` on (the old access is removed then).
        """
        migration = self.migration
        if migration is None or migration.phase == "decommission":
            return _shared({})
        before = isolation_placements(migration.from_)
        return _shared({layer: place for layer, place in before.items() if place != self.placements[layer]})

    @cached_property
    def active_placements(self) -> dict[str, str]:
        """Where the application runs and connects: the ``from`` placement before ``cutover``."""
        migration = self.migration
        if migration is None or migration.phase not in ("provision", "copy"):
            return self.placements
        return _shared(isolation_placements(migration.from_))

    def holds(self, layer: str, placement: str) -> bool:
        """Whether the tenant has ``layer`` in ``placement``, as its target or kept during a migration."""
        return self.placements[layer] == placement or self.kept_placements.get(layer) == placement

    def layer_placement(self, layer: str) -> str:
        """``silo`` or ``pooled`` for one layer, whatever the model."""
        return self.placements[layer]

    def retain_until(self, backup_retention_days: int) -> str | None:
        """``lifecycleSince`` plus the plan's ``backupRetentionDays`` (``YYYY-MM-DD``) for an offboarding
        or deleted tenant with a ``lifecycleSince``; ``None`` otherwise. Pure date arithmetic on the
        specs, so the same commit always gives the same day."""
        since = self.spec.lifecycle_since
        if since is None or self.spec.lifecycle not in ("offboarding", "deleted"):
            return None
        return (date.fromisoformat(since) + timedelta(days=backup_retention_days)).isoformat()
