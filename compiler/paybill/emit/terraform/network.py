"""Stable CIDR allocation for dedicated networks (pools and silo-network tenants).

Allocation by position in a sorted list would renumber every later network when a tenant is
added, which means destroying and recreating VPCs: unacceptable. Instead each network gets a /20
slot chosen by a hash of its owner's name, so adding or removing a tenant never moves another. A
collision (two names hashing to one slot, or an explicit ``networkCidr`` overlapping a derived
one) is a diagnostic that asks for an explicit ``networkCidr`` on one of them.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass

from paybill.diagnostics import DiagnosticSink
from paybill.load.document import SpecDocument

DERIVED_PREFIX = 20


@dataclass(frozen=True, slots=True)
class NetworkClaim:
    """Who asks for a network: the spec, its cloud, an explicit CIDR if any, and the spec path to it."""

    document: SpecDocument
    cloud: str
    address_space: str
    explicit: str | None
    explicit_loc: tuple[str, ...]


def _derived(claim: NetworkClaim) -> ipaddress.IPv4Network:
    space = ipaddress.IPv4Network(claim.address_space)
    slots = 1 << max(0, DERIVED_PREFIX - space.prefixlen)
    digest = int.from_bytes(hashlib.sha256(claim.document.ref.encode()).digest()[:8], "big")
    slot = digest % slots
    base = int(space.network_address) + (slot << (32 - DERIVED_PREFIX))
    return ipaddress.IPv4Network((base, DERIVED_PREFIX))


def allocate_networks(claims: list[NetworkClaim], sink: DiagnosticSink) -> dict[str, str]:
    """Map ``Kind/name`` to its CIDR; report overlaps and explicit CIDRs outside the address space."""
    result: dict[str, str] = {}
    by_cloud: dict[str, list[tuple[ipaddress.IPv4Network, NetworkClaim]]] = {}
    ordered = sorted(claims, key=lambda c: (c.explicit is None, c.document.ref))
    for claim in ordered:
        space = ipaddress.IPv4Network(claim.address_space)
        if claim.explicit is not None:
            try:
                network = ipaddress.IPv4Network(claim.explicit, strict=True)
            except ValueError as exc:
                sink.error("PB0602", f"invalid networkCidr '{claim.explicit}': {exc}", claim.document.path,
                           claim.document.position(*claim.explicit_loc))
                continue
            if not network.subnet_of(space) or not 16 <= network.prefixlen <= 24:
                sink.error("PB0602",
                           f"networkCidr {network} must be a /16 to /24 inside the cloud's address space {space}",
                           claim.document.path, claim.document.position(*claim.explicit_loc))
                continue
        else:
            network = _derived(claim)
        taken = by_cloud.setdefault(claim.cloud, [])
        clash = next((other for net, other in taken if net.overlaps(network)), None)
        if clash is not None:
            sink.error(
                "PB0603",
                f"network {network} of {claim.document.ref} overlaps the network of {clash.document.ref} "
                f"on cloud '{claim.cloud}'",
                claim.document.path,
                claim.document.position(*(claim.explicit_loc if claim.explicit else ("metadata", "name"))),
                "set an explicit, free placement.networkCidr (tenants) or spec.networkCidr (pools)",
            )
            continue
        taken.append((network, claim))
        result[claim.document.ref] = str(network)
    return result
