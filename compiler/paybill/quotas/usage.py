"""What one emitted stack uses of its cloud's quotas.

Counted from the stack's own resources at emit time (exact, whatever the isolation model or layers
that produced them), and kept on the stack's record as (quota, scope reference, count): the scope
reference is ``""`` for account and region quotas (the account and region come from the stack's
specs), and for a referenced scope it is ``"self"`` or ``"pool"`` (the resource the reference
attribute points at lives in this stack or in the pool it reads).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from paybill.quotas.model import Scope
from paybill.quotas.tables import QUOTAS

Usage = tuple[tuple[str, str, int], ...]
POOL_REFERENCE = "terraform_remote_state.pool"


def stack_usage(provider: str, resources: Mapping[str, Mapping[str, Any]]) -> Usage:
    counts: dict[tuple[str, str], int] = {}
    for quota in QUOTAS.get(provider, ()):
        for type_ in quota.resource_types:
            for body in resources.get(type_, {}).values():
                where = ""
                if quota.scope is Scope.REFERENCED:
                    value = body.get(quota.reference_attribute or "") if isinstance(body, Mapping) else None
                    where = "pool" if isinstance(value, str) and POOL_REFERENCE in value else "self"
                counts[(quota.name, where)] = counts.get((quota.name, where), 0) + 1
    return tuple((name, where, n) for (name, where), n in sorted(counts.items()))
