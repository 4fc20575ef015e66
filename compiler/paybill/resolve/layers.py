"""The isolation planner: the one place that decides, per layer, which stack owns what.

* silo layer   -> dedicated resources in the tenant stack (its own VPC, database, bucket, key...).
* pooled layer -> the shared resource lives in the pool stack; the tenant stack adds only the
                  tenant's logical isolation inside it (identity scoped by tenant tag/condition, a
                  per-tenant key or key context, a storage prefix or container with scoped access,
                  a namespace on the shared cluster). Tenant stacks read pool outputs through
                  ``terraform_remote_state``, never by guessing names.

Every cloud emitter asks the planner instead of re-deriving placement, so the five clouds agree.

During an isolation migration (``spec.isolation.migration``) a layer can live in two places at once:
the target placement is built from ``provision`` on, and the ``from`` placement is *kept* (same
resources, same Terraform addresses, so the apply leaves them alone) until ``decommission``. Where
the cloud has one binding that can only point one way (a workload identity bound to one cluster),
it follows the *active* placement: the ``from`` one before ``cutover``, the target from then on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from paybill.models.base import LAYERS
from paybill.models.tenant import Tenant


@dataclass(frozen=True, slots=True)
class LayerPlan:
    """Where each layer of one tenant lives."""

    placements: dict[str, str]
    kept: dict[str, str] = field(default_factory=dict)
    """Layers whose pre-migration placement is kept beside the target (until ``decommission``)."""
    active: dict[str, str] = field(default_factory=dict)
    """Where the application runs and connects (defaults to ``placements``)."""

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

    def keeps_pooled(self, layer: str) -> bool:
        """The tenant's share of the pool's ``layer`` is kept during a migration to a silo layer."""
        return self.kept.get(layer) == "pooled"

    def holds_pooled(self, layer: str) -> bool:
        """The stack has the tenant's slice of the pool's ``layer`` (target or kept)."""
        return self.pooled(layer) or self.keeps_pooled(layer)

    def active_silo(self, layer: str) -> bool:
        """The application uses the dedicated ``layer`` (the target after cut-over)."""
        return (self.active or self.placements)[layer] == "silo"

    @property
    def migrating(self) -> bool:
        return bool(self.kept)

    @property
    def needs_pool(self) -> bool:
        return bool(self.pooled_layers) or "pooled" in self.kept.values()


_PLANS: dict[tuple[tuple[tuple[str, str], ...], ...], LayerPlan] = {}
"""One :class:`LayerPlan` per distinct plan: a fleet has a handful of layer combinations, and
100,000 tenants each holding three copies of the same small dicts cost about 70 MB. Nothing
mutates a plan (it is frozen, and no code writes into its dicts)."""


def plan_layers(tenant: Tenant) -> LayerPlan:
    placements, kept, active = tenant.placements, tenant.kept_placements, tenant.active_placements
    identity = (tuple(placements.items()), tuple(kept.items()), tuple(active.items()))
    plan = _PLANS.get(identity)
    if plan is None:
        plan = _PLANS.setdefault(identity, LayerPlan(dict(placements), dict(kept), dict(active)))
    return plan

