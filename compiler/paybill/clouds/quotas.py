"""Quota usage: how many of each quota-bound resource one pool or tenant stack creates.

Each cloud declares it once, beside its names (:attr:`CloudProfile.quota_usage`, a
:class:`QuotaPlan` in ``paybill/providers/<cloud>/usage.py``): a pure function of the same
:class:`~paybill.clouds.names.NameOwner` the claim plan reads, plus the stack's claimed names, so a
counted resource that carries a claimed name is counted from its claim (one declaration of where it
is built), and only unnamed ones (role assignments, policies) repeat the emitter's conditions.
Resolve runs it for every stack; the quota rules (PB0681/PB0682) add the counts up per account,
region or referenced resource at ``paybill validate``. ``tests/resolve/test_quota_usage.py``
proves the prediction equals what the emitters build.

Quota names are the keys of ``paybill.quotas`` tables (the documented defaults live there); this
module only counts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from paybill.clouds.names import ClaimKey, NameClaims, NameOwner, NameRule

Holder = Literal["", "self", "pool"]
"""Where a referenced-scope count lands: the stack's own resource (``self``, e.g. its resource group or
KMS key) or its pool's (``pool``); ``""`` for account and region quotas (the stack's account/region)."""

Usage = tuple[tuple[str, Holder, int], ...]
"""(quota, holder, count) of one stack, sorted, counts > 0."""


class QuotaUsage:
    """The counts one stack adds, filled by a cloud's :data:`UsageCount`."""

    __slots__ = ("_counts",)

    def __init__(self) -> None:
        self._counts: dict[tuple[str, Holder], int] = {}

    def add(self, quota: str, count: int = 1, *, at: Holder = "") -> None:
        if count:
            key = (quota, at)
            self._counts[key] = self._counts.get(key, 0) + count

    def named(self, quota: str, names: NameClaims, rule: NameRule, key: ClaimKey | None = None, *,
              at: Holder = "") -> None:
        """Count one resource per claim of ``rule`` (with exactly ``key``, when given): each such resource
        is built under its claimed name."""
        self.add(quota, claimed(names, rule, key), at=at)

    def frozen(self) -> Usage:
        return tuple((quota, at, n) for (quota, at), n in sorted(self._counts.items()))


def claimed(names: NameClaims, rule: NameRule, key: ClaimKey | None = None) -> int:
    """How many claims of ``rule`` (with exactly ``key``, when given) the stack made."""
    return sum(1 for claim in names.claims if claim.rule is rule and (key is None or claim.key == key))


UsageCount = Callable[[NameOwner, NameClaims, QuotaUsage], None]
"""A cloud's declaration of what one stack uses: adds each quota-bound resource to the :class:`QuotaUsage`."""


@dataclass(frozen=True, slots=True)
class QuotaPlan:
    """How a cloud's stacks use its quotas, and what its quota account is called."""

    count: UsageCount
    account_label: str
    """How messages name one account ("AWS account", "GCP project"); the account is the cloud's first
    :class:`~paybill.clouds.profile.AccountField` (``account_id``, ``subscription_id``, ``project_id``...)."""
