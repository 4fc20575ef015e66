"""Stable CIDR allocation for dedicated networks (pools and silo-network tenants).

Allocation by position in a sorted list would renumber every later network when a tenant is
added, which means destroying and recreating VPCs: unacceptable. Instead each network gets a /20
slot chosen by a hash of its owner's name, so adding or removing a tenant never moves another. A
collision (two names hashing to one slot, or an explicit ``networkCidr`` overlapping a derived
one) is a finding that asks for an explicit ``networkCidr`` on one of them.

Allocation is a pure function of the specs, so it runs at resolve time (``paybill validate`` sees
its findings) and returns findings instead of reporting them: the resolve rules PB0602 and PB0603
(:mod:`paybill.resolve.rules`) turn them into diagnostics, and the Terraform emitter only reads
the allocated networks.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass

from paybill.diagnostics import DiagnosticSink
from paybill.load.document import SpecDocument

DERIVED_PREFIX = 20

INVALID_CIDR = "PB0602"
OVERLAP = "PB0603"
OVERLAP_HINT = "set an explicit, free placement.networkCidr (tenants) or spec.networkCidr (pools)"

Loc = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NetworkClaim:
    """Who asks for a network: the spec, its cloud, an explicit CIDR if any, and the spec path to it."""

    document: SpecDocument
    cloud: str
    address_space: str
    explicit: str | None
    explicit_loc: Loc

    @property
    def loc(self) -> Loc:
        """Where a finding about this claim points: the explicit CIDR, else the spec's name."""
        return self.explicit_loc if self.explicit else ("metadata", "name")


@dataclass(frozen=True, slots=True)
class InvalidCidr:
    """An explicit ``networkCidr`` that is not a usable network (PB0602)."""

    claim: NetworkClaim
    message: str


@dataclass(frozen=True, slots=True)
class Overlap:
    """A network that overlaps one placed before it on the same cloud (PB0603)."""

    claim: NetworkClaim
    network: str
    other: NetworkClaim

    @property
    def message(self) -> str:
        return (f"network {self.network} of {self.claim.document.ref} overlaps the network of "
                f"{self.other.document.ref} on cloud '{self.claim.cloud}'")


@dataclass(frozen=True, slots=True)
class NetworkAllocation:
    """``Kind/name`` -> allocated CIDR, and what could not be allocated (in allocation order)."""

    networks: dict[str, str]
    invalid: tuple[InvalidCidr, ...] = ()
    overlaps: tuple[Overlap, ...] = ()


def _derived(claim: NetworkClaim) -> ipaddress.IPv4Network:
    space = ipaddress.IPv4Network(claim.address_space)
    slots = 1 << max(0, DERIVED_PREFIX - space.prefixlen)
    digest = int.from_bytes(hashlib.sha256(claim.document.ref.encode()).digest()[:8], "big")
    slot = digest % slots
    base = int(space.network_address) + (slot << (32 - DERIVED_PREFIX))
    return ipaddress.IPv4Network((base, DERIVED_PREFIX))


def _explicit(claim: NetworkClaim, explicit: str) -> ipaddress.IPv4Network | InvalidCidr:
    space = ipaddress.IPv4Network(claim.address_space)
    try:
        network = ipaddress.IPv4Network(explicit, strict=True)
    except ValueError as exc:
        return InvalidCidr(claim, f"invalid networkCidr '{explicit}': {exc}")
    if not network.subnet_of(space) or not 16 <= network.prefixlen <= 24:
        return InvalidCidr(claim, f"networkCidr {network} must be a /16 to /24 inside the cloud's address space "
                                  f"{space}")
    return network


def allocate(claims: list[NetworkClaim]) -> NetworkAllocation:
    """Place explicit networks first, then derived ones, each in name order; later overlaps are findings."""
    result: dict[str, str] = {}
    invalid: list[InvalidCidr] = []
    overlaps: list[Overlap] = []
    by_cloud: dict[str, list[tuple[ipaddress.IPv4Network, NetworkClaim]]] = {}
    for claim in sorted(claims, key=lambda c: (c.explicit is None, c.document.ref)):
        if claim.explicit is not None:
            placed = _explicit(claim, claim.explicit)
            if isinstance(placed, InvalidCidr):
                invalid.append(placed)
                continue
            network = placed
        else:
            network = _derived(claim)
        taken = by_cloud.setdefault(claim.cloud, [])
        clash = next((other for net, other in taken if net.overlaps(network)), None)
        if clash is not None:
            overlaps.append(Overlap(claim, str(network), clash))
            continue
        taken.append((network, claim))
        result[claim.document.ref] = str(network)
    return NetworkAllocation(result, tuple(invalid), tuple(overlaps))


def allocate_networks(claims: list[NetworkClaim], sink: DiagnosticSink) -> dict[str, str]:
    """:func:`allocate`, its findings reported into ``sink`` (for callers outside the resolve stage)."""
    allocation = allocate(claims)
    for bad in allocation.invalid:
        document = bad.claim.document
        sink.error(INVALID_CIDR, bad.message, document.path, document.position(*bad.claim.explicit_loc))
    for overlap in allocation.overlaps:
        sink.error(OVERLAP, overlap.message, overlap.claim.document.path,
                   overlap.claim.document.position(*overlap.claim.loc), OVERLAP_HINT)
    return allocation.networks
