"""Plan: a subscription tier, what it costs, what it allows and how big its infrastructure is."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from paybill.models.base import Envelope, IsolationModel, Size, SpecModel, Text

Feature = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,62}$")]
PriceId = Annotated[str, StringConstraints(pattern=r"^price_[A-Za-z0-9_]{1,64}$")]
"""A Stripe price id (``price_1Mo...``): the billing system's name for one way of paying for a plan."""


class Price(SpecModel):
    """What a subscriber pays per interval, in minor units (cents) to avoid floating point money."""

    amount: int = Field(ge=0, le=100_000_000_00)
    """Minor units of ``currency`` (4900 = 49.00 USD)."""
    currency: Literal["USD", "EUR", "GBP", "CAD", "AUD", "JPY", "CHF"]
    interval: Literal["month", "year"]


class Quotas(SpecModel):
    """Hard limits the application enforces per tenant."""

    seats: int = Field(ge=1, le=1_000_000)
    storage_gb: int = Field(ge=1, le=1_000_000)
    api_requests_per_second: int = Field(ge=1, le=1_000_000)
    agents: int = Field(ge=0, le=10_000)
    """How many AI agents may act for the tenant at once."""


class DatabaseSizing(SpecModel):
    """Database layer sizing: abstract size plus durability knobs."""

    size: Size
    high_availability: bool = False
    """Multi-zone standby (AWS multi_az, Azure zone-redundant HA, GCP REGIONAL...)."""
    backup_retention_days: int = Field(ge=1, le=35)
    storage_gb: int = Field(ge=10, le=65_536)


class Sizing(SpecModel):
    """Abstract sizes per layer; every cloud emitter maps them to concrete SKUs in one table."""

    compute: Size
    database: DatabaseSizing
    storage_gb: int = Field(ge=1, le=1_000_000)
    """Object storage quota hint, used for alerts and bucket quotas where the cloud supports them."""


class IsolationPolicy(SpecModel):
    """Which isolation models tenants on this plan may choose, and the default."""

    allowed: list[IsolationModel] = Field(min_length=1)
    default: IsolationModel


class PlanSpec(SpecModel):
    display_name: Text
    tier: int = Field(ge=0, le=100)
    """Rank among plans: higher is more premium. Unique. Change control compares tiers."""
    price: Price
    trial_days: int = Field(default=0, ge=0, le=365)
    quotas: Quotas
    features: list[Feature] = Field(default_factory=list)
    """Entitlements the application checks (``sso``, ``audit-log``, ``ai-agents``...)."""
    isolation: IsolationPolicy
    sizing: Sizing
    trial_sizing: Sizing | None = None
    """Sizing while billing status is ``trialing``; defaults to ``sizing``."""
    price_ids: list[PriceId] = Field(default_factory=list)
    """The billing system's prices that mean this plan (for Stripe, monthly and yearly ``price_...``
    ids). ``paybill billing`` maps a subscription to a plan through them; a price id belongs to at
    most one plan across the repository (PB1001)."""


class Plan(Envelope):
    """A subscription tier."""

    kind: Literal["Plan"]
    spec: PlanSpec
