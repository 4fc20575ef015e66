"""Stage 1b, models: the spec language as pydantic v2 models (strict, extra keys forbidden).

Each kind lives in its own module; :mod:`paybill.models.registry` maps ``kind`` to its model and is
the single list the validator, the JSON Schema generator and the docs read.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from paybill.models.agent import Agent
    from paybill.models.billing import BillingPolicy
    from paybill.models.cloud import Cloud
    from paybill.models.datamodel import DataModel
    from paybill.models.plan import Plan
    from paybill.models.pool import Pool
    from paybill.models.registry import KINDS, model_for_kind
    from paybill.models.tenant import Tenant
    from paybill.models.workflow import Workflow

_HOMES = {"Agent": "agent", "BillingPolicy": "billing", "Cloud": "cloud", "DataModel": "datamodel", "Plan": "plan",
          "Pool": "pool", "KINDS": "registry", "model_for_kind": "registry", "Tenant": "tenant",
          "Workflow": "workflow"}


def __getattr__(name: str) -> object:
    """Each kind's module is imported when first named, so a process that validates one Tenant
    (the delta compile, :mod:`paybill.delta`) does not build the other ~60 pydantic models."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'paybill.models' has no attribute '{name}'")
    value = getattr(importlib.import_module(f"paybill.models.{home}"), name)
    globals()[name] = value
    return value


__all__ = ["KINDS", "Agent", "BillingPolicy", "Cloud", "DataModel", "Plan", "Pool", "Tenant", "Workflow",
           "model_for_kind"]
