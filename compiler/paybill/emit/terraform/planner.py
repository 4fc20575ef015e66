"""The isolation planner moved to :mod:`paybill.resolve.layers` (resolve decides placements once);
this name stays for callers that still import it from here."""

from paybill.resolve.layers import LayerPlan, plan_layers

__all__ = ["LayerPlan", "plan_layers"]
