"""Cloud resource name rules: length and alphabet per resource kind, and deterministic shortening.

Names are derived only from spec names (already restricted to ``[a-z0-9-]``), so derivation never
has to guess; what differs per cloud is length and alphabet (Azure storage accounts allow 3-24
lower-case alphanumerics only, S3 buckets 3-63 with hyphens...). When a name is too long it is cut
and a stable 6-character hash of the *full* name is appended, so two long names that share a prefix
still differ, and the same spec always yields the same name.

The rules are part of a cloud's profile (:attr:`CloudProfile.names`). Which names one pool or
tenant stack *claims* (the ones that must be unique in their scope) is declared once per cloud too
(:attr:`CloudProfile.claims`, a :data:`ClaimPlan` over the provider-independent :class:`NameOwner`):
resolve computes every stack's :class:`NameClaims` from it and reports collisions (PB0601, at
``paybill validate``), and the emitters read the names from the same :class:`NameClaims` by key
instead of deriving them, so an emitter cannot use a name resolve did not predict.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

_HASH_LEN = 6


@dataclass(frozen=True, slots=True)
class NameRule:
    """One kind of cloud resource name.

    ``alphabet`` is a regex character class of allowed characters; ``separator`` joins the parts
    ('' when hyphens are not allowed); ``scope`` says how far uniqueness reaches (``global`` for S3
    and Azure storage accounts, ``cloud`` for one account, ``region``...), used by the registry.
    """

    label: str
    max_len: int
    min_len: int = 3
    alphabet: str = "a-z0-9-"
    separator: str = "-"
    must_start_with_letter: bool = True
    scope: str = "cloud"

    def derive(self, *parts: str) -> str:
        """The deterministic name for ``parts`` under this rule."""
        clean = _cleaner(self.alphabet)
        joined = self.separator.join([clean(p) for p in parts if p])
        if self.must_start_with_letter and (not joined or not joined[0].isalpha()):
            joined = "p" + joined
        if len(joined) <= self.max_len and len(joined) >= self.min_len:
            return joined
        digest = hashlib.sha256("/".join(parts).encode()).hexdigest()[:_HASH_LEN]
        keep = self.max_len - _HASH_LEN - len(self.separator)
        head = joined[:keep].rstrip("-_.")
        name = f"{head}{self.separator}{digest}"
        return name.ljust(self.min_len, "0")


@functools.cache
def _cleaner(alphabet: str) -> Callable[[str], str]:
    """``part`` lower-cased without the characters outside ``alphabet``, memoised per alphabet.

    Parts repeat (every stack of a tenant uses its name, every stack of a cloud its account id), and
    resolve derives every claimed name of every stack at ``paybill validate``: the memo keeps that
    cheap."""
    disallowed = re.compile(f"[^{alphabet}]")

    @functools.lru_cache(maxsize=65536)
    def clean(part: str) -> str:
        return disallowed.sub("", part.lower())

    return clean


class LayerView(Protocol):
    """Where a stack's layers live: a tenant's isolation plan, or the layers a pool offers."""

    def silo(self, layer: str) -> bool: ...
    def active_silo(self, layer: str) -> bool: ...
    def holds_pooled(self, layer: str) -> bool: ...
    def keeps_pooled(self, layer: str) -> bool: ...
    @property
    def silo_layers(self) -> list[str]: ...


@dataclass(frozen=True, slots=True)
class OfferedLayers:
    """A pool's layers seen as a :class:`LayerView`: a pool owns (silo) exactly the layers it offers."""

    offered: frozenset[str]

    def silo(self, layer: str) -> bool:
        return layer in self.offered

    def active_silo(self, layer: str) -> bool:
        return layer in self.offered

    def holds_pooled(self, layer: str) -> bool:
        return False

    def keeps_pooled(self, layer: str) -> bool:
        return False

    @property
    def silo_layers(self) -> list[str]:
        return sorted(self.offered)


@dataclass(frozen=True, slots=True)
class NameOwner:
    """What a stack's cloud names derive from, in provider-independent terms (built by resolve)."""

    kind: Literal["pool", "tenant"]
    name: str
    region: str
    account: Mapping[str, str]
    """The cloud's account fields by their snake_case name (``account_id``, ``project_id``...)."""
    layers: LayerView
    lifecycle: str
    """A tenant's ``spec.lifecycle`` (``active``, ``suspended``...); ``active`` for pools."""
    pool_offers: frozenset[str] = frozenset()
    """The layers the tenant's pool offers (empty for pools and for tenants without a pool)."""

    @property
    def suspended(self) -> bool:
        return self.lifecycle == "suspended"


@dataclass(frozen=True, slots=True)
class ClaimedName:
    """One name a stack claims: the rule it follows, the derived name, what it is for (messages)."""

    rule: NameRule
    name: str
    purpose: str


ClaimKey = tuple[str, ...]
"""``(rule label, *suffix)``: how an emitter asks for one claimed name of its stack."""


class NameClaims:
    """The names one stack claims: every claim in claim order, and the names by key.

    A :data:`ClaimPlan` fills it (:meth:`add`); the emitter reads it (:meth:`name`). Asking for a key
    the plan did not add is an internal error: the emitter would use a name nobody checked. One key
    may be claimed for several purposes (an OCI route table and security list share a display name):
    each claim is kept, so a collision reports each purpose, as the resources are built.
    """

    __slots__ = ("by_key", "claims")

    def __init__(self) -> None:
        self.by_key: dict[ClaimKey, ClaimedName] = {}
        self.claims: list[ClaimedName] = []

    def add(self, rule: NameRule, parts: tuple[str, ...], *suffix: str, purpose: str) -> None:
        """Claim ``rule.derive(*parts)`` under the key ``(rule.label, *suffix)``."""
        key = (rule.label, *suffix)
        claimed = self.by_key.get(key)
        if claimed is None:
            claimed = self.by_key[key] = ClaimedName(rule, rule.derive(*parts), purpose)
        elif claimed.purpose != purpose:
            claimed = ClaimedName(rule, claimed.name, purpose)
        self.claims.append(claimed)

    def name(self, rule: NameRule, *suffix: str) -> str:
        claimed = self.by_key.get((rule.label, *suffix))
        if claimed is None:
            raise KeyError(f"internal: the name {(rule.label, *suffix)!r} was not claimed by the cloud's claim "
                           "plan (CloudProfile.claims)")
        return claimed.name

    def __iter__(self) -> Iterator[ClaimedName]:
        return iter(self.claims)

    def __len__(self) -> int:
        return len(self.claims)


ClaimPlan = Callable[[NameOwner, NameClaims], None]
"""A cloud's declaration of the names a stack claims: adds each one to the :class:`NameClaims`."""
