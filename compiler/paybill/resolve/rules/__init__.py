"""Resolve rules: checks that need the resolved model, one module per code (like validate's rules).

They run at the end of the resolve stage, so ``paybill validate`` reports them exactly as
``paybill compile`` does.
"""

from __future__ import annotations

from paybill.resolve.rules import name_collision, network_cidr, network_overlap, quota_reached, quota_warning
from paybill.resolve.rules.base import ResolveRule

RESOLVE_RULES: tuple[ResolveRule, ...] = tuple(
    sorted((module.RULE for module in (name_collision, network_cidr, network_overlap, quota_warning, quota_reached)),
           key=lambda rule: rule.code)
)

__all__ = ["RESOLVE_RULES", "ResolveRule"]
