"""The list of spec kinds: the one place that maps ``kind`` to its model."""

from __future__ import annotations

from paybill.models.agent import Agent
from paybill.models.base import Envelope
from paybill.models.billing import BillingPolicy
from paybill.models.cloud import Cloud, cloud_model
from paybill.models.datamodel import DataModel
from paybill.models.plan import Plan
from paybill.models.pool import Pool
from paybill.models.tenant import Tenant
from paybill.models.workflow import Workflow

KINDS: dict[str, type[Envelope]] = {
    "Plan": Plan,
    "Cloud": Cloud,
    "Pool": Pool,
    "Tenant": Tenant,
    "DataModel": DataModel,
    "Agent": Agent,
    "Workflow": Workflow,
    "BillingPolicy": BillingPolicy,
}


def model_for_kind(kind: str) -> type[Envelope] | None:
    """The model validating ``kind``; ``Cloud``'s follows the registered cloud profiles."""
    if kind == "Cloud":
        return cloud_model()
    return KINDS.get(kind)
