"""Capability checks: spec combinations a cloud cannot build, declared by its profile.

The specs can be valid for paybill in general and still ask for something one cloud cannot wire
(a network too small for its managed database's private range, a database and a cluster in
networks that cannot reach each other). Such a check used to live inside the cloud's emitter, so
``paybill validate`` passed specs ``paybill compile`` then rejected. Now each check is a small
object a profile lists in :attr:`CloudProfile.checks`, and one validation rule
(:mod:`paybill.validate.rules.cloud_capabilities`) runs the checks of every pool's and tenant's
cloud, with each check's own code at the same spec position the emitter used.

Checks see provider-independent *facts* (:class:`PoolFacts`, :class:`TenantFacts`) rather than the
spec models, so this package stays below the models and a sixth cloud can add its own check class.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

Loc = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class PoolFacts:
    """What a capability check may know about a pool."""

    ref: str
    """``Pool/<name>``, as diagnostics name documents."""
    name: str
    layers: tuple[str, ...]
    """The layers the pool offers."""
    network_cidr: str | None
    """The explicit ``spec.networkCidr``; None when the network is derived (always a /20)."""
    address_space: str
    """The pool's cloud's ``spec.addressSpace``."""


@dataclass(frozen=True, slots=True)
class TenantFacts:
    """What a capability check may know about a live (not deleted) tenant."""

    ref: str
    name: str
    placements: Mapping[str, str]
    """``silo`` or ``pooled`` per layer (the migration target during a migration)."""
    network_cidr: str | None
    """The explicit ``spec.placement.networkCidr``; None when derived (always a /20)."""
    address_space: str
    """The tenant's cloud's ``spec.addressSpace``."""


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem a check found: reported with the check's code at ``loc`` in the checked spec."""

    loc: Loc
    message: str
    hint: str | None = None


class CapabilityCheck(Protocol):
    """A check a profile declares. Both methods return None when the spec is buildable."""

    @property
    def code(self) -> str: ...

    def pool(self, pool: PoolFacts) -> Finding | None: ...

    def tenant(self, tenant: TenantFacts) -> Finding | None: ...


@dataclass(frozen=True, slots=True)
class PoolNeedsNetwork:
    """PB0652: a pool offering database or compute must offer the network they are built in."""

    code: str = "PB0652"

    def pool(self, pool: PoolFacts) -> Finding | None:
        needs = sorted({"database", "compute"} & set(pool.layers))
        if not needs or "network" in pool.layers:
            return None
        return Finding(("spec", "layers"),
                       f"pool '{pool.name}' offers {' and '.join(needs)} without a network: they need the "
                       "pool's network",
                       "add 'network' to the pool's layers")

    def tenant(self, tenant: TenantFacts) -> Finding | None:
        return None


@dataclass(frozen=True, slots=True)
class ColocatedDatabaseAndCompute:
    """PB0651: with its own network, a tenant's database and compute must be placed the same way.

    Where peering is not transitive (Google Cloud, where Cloud SQL sits behind a peering of its own)
    or would need local peering or private endpoints paybill does not generate (OCI, IBM Cloud), a
    pooled layer in the pool's network cannot reach a silo one in the tenant's.
    """

    code: str = "PB0651"

    def pool(self, pool: PoolFacts) -> Finding | None:
        return None

    def tenant(self, tenant: TenantFacts) -> Finding | None:
        placements = tenant.placements
        if placements["network"] != "silo" or placements["database"] == placements["compute"]:
            return None
        silo, pooled = ("database", "compute") if placements["database"] == "silo" else ("compute", "database")
        return Finding(("spec", "isolation", "layers"),
                       f"tenant '{tenant.name}' has its own network with a silo {silo} but a pooled {pooled}: "
                       f"the pooled {pooled} runs in the pool's network and cannot reach the tenant's network",
                       "place database and compute the same way, or make the network pooled")


@dataclass(frozen=True, slots=True)
class MinimumNetwork:
    """PB0650: a dedicated network must be at least a /``max_prefix`` on this cloud.

    Only an explicit ``networkCidr`` can be too small: derived networks are /20s. A CIDR that does
    not parse or lies outside the cloud's address space is PB0602's to report, not this check's.
    """

    max_prefix: int
    cloud_title: str
    reason: str
    """Why, completing "too small for <cloud>: ..."."""
    code: str = "PB0650"

    def _finding(self, ref: str, cidr: str | None, space: str, loc: Loc) -> Finding | None:
        if cidr is None:
            return None
        try:
            network = ipaddress.IPv4Network(cidr, strict=True)
            inside = network.subnet_of(ipaddress.IPv4Network(space))
        except ValueError:
            return None
        if network.prefixlen <= self.max_prefix or not inside or not 16 <= network.prefixlen <= 24:
            return None
        return Finding(loc, f"network {network} of {ref} is too small for {self.cloud_title}: {self.reason}",
                       f"use a /{self.max_prefix} or larger networkCidr")

    def pool(self, pool: PoolFacts) -> Finding | None:
        if "network" not in pool.layers:
            return None
        return self._finding(pool.ref, pool.network_cidr, pool.address_space, ("spec", "networkCidr"))

    def tenant(self, tenant: TenantFacts) -> Finding | None:
        if tenant.placements["network"] != "silo":
            return None
        return self._finding(tenant.ref, tenant.network_cidr, tenant.address_space,
                             ("spec", "placement", "networkCidr"))
