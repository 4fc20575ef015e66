"""The isolation planner: the one place that decides, per layer, which stack owns what.

* silo layer   -> dedicated resources in the tenant stack (its own VPC, database, bucket, key...).
* pooled layer -> the shared resource lives in the pool stack; the tenant stack adds only the
                  tenant's logical isolation inside it (identity scoped by tenant tag/condition, a
                  per-tenant key or key context, a storage prefix or container with scoped access,
                  a namespace on the shared cluster). Tenant stacks read pool outputs through
                  ``terraform_remote_state``, never by guessing names.

Every cloud emitter asks the planner instead of re-deriving placement, so the five clouds agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from paybill.models.base import LAYERS
from paybill.models.tenant import Tenant


@dataclass(frozen=True, slots=True)
class LayerPlan:
    """Where each layer of one tenant lives."""

    placements: dict[str, str]

    def silo(self, layer: str) -> bool:
        return self.placements[layer] == "silo"

    def pooled(self, layer: str) -> bool:
        return self.placements[layer] == "pooled"

    @property
    def silo_layers(self) -> list[str]:
        return [layer for layer in LAYERS if self.silo(layer)]

    @property
    def pooled_layers(self) -> list[str]:
        return [layer for layer in LAYERS if self.pooled(layer)]

    @property
    def needs_pool(self) -> bool:
        return bool(self.pooled_layers)


def plan_layers(tenant: Tenant) -> LayerPlan:
    return LayerPlan(dict(tenant.placements))
