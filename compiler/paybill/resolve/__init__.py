"""Stage 3, resolve: validated specs -> typed, linked, frozen objects (between validate and graph).

Every check that needs only the specs but more than one document's view (network allocation,
and what the stack layout implies) runs here as a rule with its code, so ``paybill validate``
reports what ``paybill compile`` would, at the same place and in the same words. The graph and
the emitters read the resolved model instead of looking references up by name again.
"""

from paybill.resolve.build import resolve_index, resolve_model
from paybill.resolve.model import ResolvedCloud, ResolvedModel, ResolvedPlan, ResolvedPool, ResolvedTenant
from paybill.resolve.units import StackUnit

__all__ = [
    "ResolvedCloud",
    "ResolvedModel",
    "ResolvedPlan",
    "ResolvedPool",
    "ResolvedTenant",
    "StackUnit",
    "resolve_index",
    "resolve_model",
]
