"""Stack name plans reused across compiles, keyed by the exact value they are computed from.

Resolve derives every stack's claimed cloud names and quota usage (:func:`paybill.resolve.names.stack_plan`):
at 10,000 tenants about 50,000 names, a third of resolve's time, on every compile, although a
one-tenant edit changes at most one stack's plan. A plan is a pure function of its
:class:`~paybill.clouds.names.NameOwner` (kind, name, region, the cloud's account fields, where each
layer lives, lifecycle, the layers its pool offers) and of its cloud's profile (name rules, claim and
quota plans). So a plan is stored (in the unit store, one index entry for every stack) under a hash of
that whole value, written field by field (:func:`owner_key`), and reused while the hash is equal: a
label, plan, billing or any other edit that leaves the owner equal reuses it; one that changes any
field of it (a region, an account id, an isolation layer, a lifecycle, the pool's layers) computes it
again.

Only for profiles whose claim and quota plans are paybill's own (their source is in the compiler's
digest, part of every entry's stamp, :mod:`paybill.store`); a profile registered at run time (a
test's fake cloud) is always computed. A stored claim names its rule by label and is read back
with the profile's own rule object, so code comparing rules by identity sees the same objects; a
plan whose rules are not the profile's declared ones is not stored. An entry that is damaged,
foreign or of another shape is a miss (:meth:`paybill.store.UnitStore.load_index`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

from paybill.clouds.names import ClaimedName, NameClaims, NameOwner, NameRule, OfferedLayers
from paybill.clouds.profile import CloudProfile
from paybill.clouds.quotas import Usage
from paybill.resolve.layers import LayerPlan
from paybill.resolve.model import ResolvedCloud
from paybill.resolve.names import stack_plan
from paybill.store import UnitStore

NAMESPACE = "name-plans"
"""The unit store index of stored plans."""
_BUILT_IN = "paybill.providers."

Plan = tuple[NameClaims | None, Usage]


def _code_of(function: Callable[..., Any] | None) -> str | None:
    """Where a plan function is defined, when it is paybill's own (None: not reusable)."""
    if function is None:
        return ""
    module = getattr(function, "__module__", None) or ""
    if not module.startswith(_BUILT_IN):
        return None
    return f"{module}.{getattr(function, '__qualname__', '?')}"


def profile_identity(profile: CloudProfile) -> str | None:
    """What of ``profile`` a plan reads: its provider, name rules, claim and quota plans (None: a
    plan function that is not paybill's own, never reused)."""
    claims = _code_of(profile.claims)
    count = _code_of(profile.quota_usage.count if profile.quota_usage is not None else None)
    if claims is None or count is None:
        return None
    text = repr((profile.provider, claims, count, profile.names))
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def _layers(view: object) -> tuple[Any, ...] | None:
    if isinstance(view, LayerPlan):
        return ("plan", sorted(view.placements.items()), sorted(view.kept.items()), sorted(view.active.items()))
    if isinstance(view, OfferedLayers):
        return ("offered", sorted(view.offered))
    return None  # another layer view: nothing says which of its fields a plan reads


def owner_key(owner: NameOwner, profile: str, parts: dict[int, tuple[object, str]] | None = None) -> str | None:
    """A hash of every field of ``owner`` and of the profile's identity (None: not reusable).

    ``parts``: a memo of the text of shared values (a cloud's account fields, a layer plan, a pool's
    layers: a few distinct objects among 10,000 owners), by identity; each entry keeps its object alive.
    """
    parts = {} if parts is None else parts
    texts = []
    for value, encode in ((owner.account, _account), (owner.layers, _layers), (owner.pool_offers, _offers)):
        known = parts.get(id(value))
        if known is None or known[0] is not value:
            encoded = encode(value)
            if encoded is None:
                return None
            known = parts[id(value)] = (value, repr(encoded))
        texts.append(known[1])
    text = "\0".join((profile, owner.kind, owner.name, owner.region, *texts, owner.lifecycle))
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def _account(account: object) -> object:
    return sorted(account.items()) if isinstance(account, Mapping) else None


def _offers(offers: object) -> object:
    return sorted(offers) if isinstance(offers, frozenset) else None


def _encode(plan: Plan, rules: Mapping[str, NameRule]) -> object | None:
    names, usage = plan
    if names is None:
        return (None, usage)
    rows = []
    for claim in names.claims:
        if rules.get(claim.rule.label) is not claim.rule:
            return None  # a rule the profile does not declare: it could not be read back
        rows.append((claim.rule.label, claim.key, claim.name, claim.purpose))
    return (tuple(rows), usage)


def _decode(value: object, rules: Mapping[str, NameRule]) -> Plan | None:
    if not isinstance(value, tuple) or len(value) != 2 or not isinstance(value[1], tuple):
        return None
    rows, usage = value
    if rows is None:
        return None, usage
    if not isinstance(rows, tuple):
        return None
    names = NameClaims()
    try:
        names.claims = [ClaimedName(rules[label], key, name, purpose) for label, key, name, purpose in rows]
    except (KeyError, TypeError, ValueError):
        return None
    return names, usage


class NamePlans:
    """:func:`stack_plan` through a unit store: stored plans reused by :func:`owner_key`, new ones kept
    for :meth:`save`. Without a store, every plan is computed."""

    def __init__(self, store: UnitStore | None) -> None:
        self._store = store
        self._known = store.load_index(NAMESPACE) if store is not None else {}
        self._now: dict[str, tuple[str, object]] = {}
        self._profiles: dict[str, tuple[str | None, dict[str, NameRule]]] = {}
        self._parts: dict[int, tuple[object, str]] = {}
        self.reused = 0

    def _profile(self, profile: CloudProfile) -> tuple[str | None, dict[str, NameRule]]:
        found = self._profiles.get(profile.provider)
        if found is None:
            found = self._profiles[profile.provider] = (profile_identity(profile),
                                                        {rule.label: rule for rule in profile.names})
        return found

    def plan(self, owner: NameOwner, cloud: ResolvedCloud) -> Plan:
        """The names ``owner``'s stack claims and its quota usage, as :func:`stack_plan` computes them."""
        if self._store is None:
            return stack_plan(owner, cloud)
        identity, rules = self._profile(cloud.profile)
        key = owner_key(owner, identity, self._parts) if identity is not None else None
        if key is None:
            return stack_plan(owner, cloud)
        unit = f"{owner.kind}/{owner.name}"
        known = self._known.get(unit)
        if known is not None and known[0] == key:
            decoded = _decode(known[1], rules)
            if decoded is not None:
                self._now[unit] = known
                self.reused += 1
                return decoded
        plan = stack_plan(owner, cloud)
        encoded = _encode(plan, rules)
        if encoded is not None:
            self._now[unit] = (key, encoded)
        return plan

    def save(self) -> None:
        """Store this compile's plans (only when one differs from what was stored)."""
        if self._store is not None and self._now != self._known:
            self._store.save_index(NAMESPACE, dict(sorted(self._now.items())))
