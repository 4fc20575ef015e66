"""BillingPolicy: how subscription events from the billing system become proposed tenant changes.

A kind of its own rather than a section of Plan or Tenant: the rules are organisation-wide (one
dunning schedule, one review policy, one onboarding rule for every plan), they are owned by finance
and operations rather than by whoever edits a plan or a tenant, and a separate file lets CODEOWNERS
guard them. At most one BillingPolicy exists per repository (PB1002).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from paybill.models.base import Envelope, Name, SpecModel
from paybill.models.cloud import Region

ChangeClass = Literal["billing-status", "suspend", "reactivate", "upgrade", "downgrade", "offboard", "onboard"]
CHANGE_CLASSES: tuple[str, ...] = ("billing-status", "suspend", "reactivate", "upgrade", "downgrade", "offboard",
                                   "onboard")
"""What a billing proposal does to a tenant; the policy says which classes merge without a person."""

Country = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
"""ISO 3166-1 alpha-2, as Stripe writes ``customer.address.country``."""


class Dunning(SpecModel):
    """Deadlines, counted in whole days from the billing event that started the status."""

    suspend_after_past_due_days: int = Field(ge=0, le=365)
    """A tenant ``past_due`` this many days is proposed for lifecycle ``suspended``."""
    offboard_after_cancelled_days: int = Field(ge=0, le=3650)
    """A tenant ``cancelled`` this many days is proposed for lifecycle ``offboarding``."""
    suspend_on_trial_end_without_payment: bool = True
    """A trial that ends without a paid invoice (the subscription leaves ``trialing`` for
    ``past_due``, ``unpaid`` or ``canceled``) proposes ``suspended`` at once."""
    reactivate_on_payment: bool = True
    """A paid invoice on a suspended tenant proposes lifecycle ``active`` again."""


class Review(SpecModel):
    """Which change classes may merge without a human. A class in neither list needs a human
    (fail closed); a class in both is an error (PB1004)."""

    auto_merge: list[ChangeClass] = Field(default_factory=list)
    require_human: list[ChangeClass] = Field(default_factory=list)


class ResidencyRule(SpecModel):
    """Customers from these countries keep their data in these regions (in order of preference)."""

    countries: list[Country] = Field(min_length=1)
    regions: list[Region] = Field(min_length=1)
    cloud: Name | None = None
    """The cloud to place a silo tenant on; required when more than one cloud serves the regions."""


class Onboarding(SpecModel):
    """How a subscription for a customer no tenant has yet becomes a new Tenant spec."""

    directory: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]*(/[a-z0-9][a-z0-9_-]*)*$")] = "tenants"
    """Where the new tenant's file goes, relative to the specs folder."""
    residency: list[ResidencyRule] = Field(default_factory=list)
    """The customer's country (``address.country``, or the ``paybill_country`` metadata key) picks
    the first rule listing it. No rule for the country: no proposal, the diagnostic says so."""
    contact_role: Literal["technical", "billing", "security", "executive"] = "billing"
    """The role of the contact made from the customer's name and email."""


class BillingPolicySpec(SpecModel):
    provider: Literal["stripe"]
    agent: Name
    """The Agent whose name billing proposals carry (``Paybill-Agent``) and change control judges."""
    dunning: Dunning
    review: Review
    onboarding: Onboarding | None = None
    """Without it a subscription for an unknown customer is a diagnostic, never a new tenant."""


class BillingPolicy(Envelope):
    """Dunning deadlines, review rules and onboarding rules for ``paybill billing``."""

    kind: Literal["BillingPolicy"]
    spec: BillingPolicySpec
