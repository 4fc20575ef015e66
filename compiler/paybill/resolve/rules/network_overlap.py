"""PB0603: dedicated networks on one cloud do not overlap (explicit ones placed first, then by name)."""

from __future__ import annotations

from paybill.resolve.model import ResolvedModel
from paybill.resolve.network import OVERLAP, OVERLAP_HINT
from paybill.resolve.rules.base import ResolveRule
from paybill.validate.rules.base import Reporter


def check(model: ResolvedModel, report: Reporter) -> None:
    for overlap in model.allocation.overlaps:
        report(overlap.claim.document, overlap.claim.loc, overlap.message, OVERLAP_HINT)


RULE = ResolveRule(OVERLAP, "networks overlap", check)
