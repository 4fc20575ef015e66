"""Stage 1b, models: the spec language as pydantic v2 models (strict, extra keys forbidden).

Each kind lives in its own module; :mod:`paybill.models.registry` maps ``kind`` to its model and is
the single list the validator, the JSON Schema generator and the docs read.
"""

from paybill.models.agent import Agent
from paybill.models.billing import BillingPolicy
from paybill.models.cloud import Cloud
from paybill.models.datamodel import DataModel
from paybill.models.plan import Plan
from paybill.models.pool import Pool
from paybill.models.registry import KINDS, model_for_kind
from paybill.models.tenant import Tenant
from paybill.models.workflow import Workflow

__all__ = ["KINDS", "Agent", "BillingPolicy", "Cloud", "DataModel", "Plan", "Pool", "Tenant", "Workflow",
           "model_for_kind"]
