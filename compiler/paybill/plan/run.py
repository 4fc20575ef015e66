"""Plan two sides of a repository end to end: load both through one blob cache, compare, report."""

from __future__ import annotations

from paybill.gitio.blobcache import BlobCache
from paybill.gitio.snapshot import SpecsLocation, load_snapshot
from paybill.gitio.sources import Side
from paybill.plan.engine import build_report
from paybill.plan.model import PlanReport


def plan_sides(base: Side, head: Side, where: SpecsLocation, *, cache: BlobCache | None = None,
               terraform: bool = True) -> PlanReport:
    cache = cache or BlobCache()
    base_snapshot = load_snapshot(base, where, cache)
    head_snapshot = load_snapshot(head, where, cache)
    step = None
    if terraform:
        from paybill.plan.compiled import TerraformComparer

        step = TerraformComparer()
    return build_report(base_snapshot, head_snapshot, step)
