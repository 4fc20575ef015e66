"""Tenant: one customer, its plan, where it runs, how isolated it is and where it is in its life."""

from __future__ import annotations

import datetime
from functools import cached_property
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints

from paybill.models.base import LAYERS, Email, Envelope, Name, Placement, SpecModel, Text
from paybill.models.cloud import Cidr, Region

Lifecycle = Literal["onboarding", "active", "suspended", "offboarding", "deleted"]
BillingStatus = Literal["trialing", "active", "past_due", "cancelled"]


def _calendar_day(value: str) -> str:
    datetime.date.fromisoformat(value)  # ValueError (a schema error) for 2026-02-30
    return value


CalendarDate = Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}$"), AfterValidator(_calendar_day)]
"""A day as ``YYYY-MM-DD`` (YAML leaves it a string here; no time, no zone: days are what retention counts)."""


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


class SiloIsolation(SpecModel):
    model: Literal["silo"]


class PooledIsolation(SpecModel):
    model: Literal["pooled"]


class BridgeIsolation(SpecModel):
    model: Literal["bridge"]
    layers: BridgeLayers


Isolation = Annotated[SiloIsolation | PooledIsolation | BridgeIsolation, Field(discriminator="model")]


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


class TenantSpec(SpecModel):
    display_name: Text
    plan: Name
    placement: TenantPlacement
    isolation: Isolation
    lifecycle: Lifecycle
    lifecycle_since: CalendarDate | None = None
    """The day the tenant entered its current ``lifecycle`` state. For an offboarding or deleted tenant
    it starts the data retention clock: the entitlements say ``retainUntil`` = this day + the plan's
    ``sizing.database.backupRetentionDays``, and ``paybill db erase`` refuses before that day."""
    billing: Billing
    data_residency: DataResidency | None = None
    contacts: list[Contact] = Field(default_factory=list)


class Tenant(Envelope):
    kind: Literal["Tenant"]
    spec: TenantSpec

    @cached_property
    def placements(self) -> dict[str, str]:
        """``silo`` or ``pooled`` for every layer, whatever the model; computed once per tenant
        (graph, Terraform, SQL, entitlements and rules all ask)."""
        isolation = self.spec.isolation
        if isinstance(isolation, BridgeIsolation):
            return {layer: str(getattr(isolation.layers, layer)) for layer in LAYERS}
        return dict.fromkeys(LAYERS, isolation.model)

    def layer_placement(self, layer: str) -> str:
        """``silo`` or ``pooled`` for one layer, whatever the model."""
        return self.placements[layer]
