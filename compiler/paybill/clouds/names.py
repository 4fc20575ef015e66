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
from dataclasses import dataclass, field
from typing import Literal, NamedTuple, Protocol

_HASH_LEN = 6


@dataclass(frozen=True, slots=True)
class NameRule:
    """One kind of cloud resource name.

    ``alphabet`` is a regex character class of allowed characters; ``separator`` joins the parts
    ('' when hyphens are not allowed, and always inside the alphabet); ``scope`` says how far
    uniqueness reaches (``global`` for S3 and Azure storage accounts, ``cloud`` for one account...),
    read by the collision check (PB0601).
    """

    label: str
    max_len: int
    min_len: int = 3
    alphabet: str = "a-z0-9-"
    separator: str = "-"
    must_start_with_letter: bool = True
    scope: str = "cloud"
    _disallowed: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        disallowed = _disallowed(self.alphabet)
        if disallowed.search(self.separator):
            raise ValueError(f"name rule {self.label!r}: separator {self.separator!r} is outside its alphabet")
        object.__setattr__(self, "_disallowed", disallowed)

    def derive(self, *parts: str) -> str:
        """The deterministic name for ``parts`` under this rule.

        The parts are joined, then cleaned as one string: the separator is inside the alphabet, so
        that equals cleaning each part (resolve derives every claimed name of every stack at
        ``paybill validate``, so this is kept to one regex pass per name)."""
        joined = self.separator.join(parts) if all(parts) else self.separator.join(filter(None, parts))
        joined = self._disallowed.sub("", joined.lower())
        if self.must_start_with_letter and (not joined or not joined[0].isalpha()):
            joined = "p" + joined
        if self.min_len <= len(joined) <= self.max_len:
            return joined
        digest = hashlib.sha256("/".join(parts).encode()).hexdigest()[:_HASH_LEN]
        keep = self.max_len - _HASH_LEN - len(self.separator)
        head = joined[:keep].rstrip("-_.")
        name = f"{head}{self.separator}{digest}"
        return name.ljust(self.min_len, "0")


@functools.cache
def _disallowed(alphabet: str) -> re.Pattern[str]:
    """The pattern of characters outside ``alphabet`` (compiled once per alphabet, not per rule)."""
    return re.compile(f"[^{alphabet}]")


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


ClaimKey = tuple[str, ...]
"""What follows the rule label in ``name(rule, *key)``: how an emitter asks for one claimed name."""


class ClaimedName(NamedTuple):
    """One name a stack claims: the rule it follows, the key the emitter reads it by, the derived
    name, and what it is for (in messages)."""

    rule: NameRule
    key: ClaimKey
    name: str
    purpose: str


class NameClaims:
    """The names one stack claims, in claim order; the emitter reads them by ``(rule, *key)``.

    A :data:`ClaimPlan` fills it (:meth:`add`); the emitter reads it (:meth:`name`). Asking for a key
    the plan did not add is an internal error: the emitter would use a name nobody checked. One key
    may be claimed for several purposes (an OCI route table and security list share a display name):
    each claim is kept, so a collision reports each purpose, as the resources are built. The lookup
    table is built on the first read: ``paybill validate`` only checks the claims, never reads them.
    """

    __slots__ = ("_by_key", "claims")

    def __init__(self) -> None:
        self.claims: list[ClaimedName] = []
        self._by_key: dict[tuple[str, ...], str] | None = None

    def add(self, rule: NameRule, parts: tuple[str, ...], *key: str, purpose: str) -> None:
        """Claim ``rule.derive(*parts)``, read back with ``name(rule, *key)``."""
        self.claims.append(ClaimedName(rule, key, rule.derive(*parts), purpose))

    @property
    def by_key(self) -> dict[tuple[str, ...], str]:
        """``(rule label, *key)`` -> name (the first claim of a key wins)."""
        if self._by_key is None:
            by_key: dict[tuple[str, ...], str] = {}
            for claimed in self.claims:
                by_key.setdefault((claimed.rule.label, *claimed.key), claimed.name)
            self._by_key = by_key
        return self._by_key

    def name(self, rule: NameRule, *key: str) -> str:
        name = self.by_key.get((rule.label, *key))
        if name is None:
            raise KeyError(f"internal: the name {(rule.label, *key)!r} was not claimed by the cloud's claim "
                           "plan (CloudProfile.claims)")
        return name

    def __iter__(self) -> Iterator[ClaimedName]:
        return iter(self.claims)

    def __len__(self) -> int:
        return len(self.claims)


ClaimPlan = Callable[[NameOwner, NameClaims], None]
"""A cloud's declaration of the names a stack claims: adds each one to the :class:`NameClaims`."""
