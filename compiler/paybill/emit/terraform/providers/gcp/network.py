"""Google Cloud network layer: a custom-mode VPC, one private regional subnetwork, firewalls, NAT, and
private services access so Cloud SQL gets a private IP and no public one.

Layout of a network CIDR (a /16 to /24 from the allocator): the first half is the subnetwork (GKE
nodes, Cloud Run Direct VPC egress), the second half is reserved for private services access (Cloud
SQL's peered producer network), which must be a /24 or larger. Pool subnetworks also carry the GKE
pod and service secondary ranges.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from paybill.emit.terraform.expr import Expr
from paybill.emit.terraform.providers.gcp.common import Ctx, name
from paybill.emit.terraform.providers.gcp.sizing import COMPUTE_NAME, PODS_RANGE, SERVICES_RANGE
from paybill.emit.terraform.stack import Stack
from paybill.providers.gcp import PSA_MIN_PREFIX

HEALTH_CHECK_RANGES = ["35.191.0.0/16", "130.211.0.0/22"]
"""Google front ends probing load-balanced backends (GKE ingress and internal load balancers)."""


@dataclass(frozen=True, slots=True)
class GcpNetwork:
    """Expressions other layers use to attach to a network (own or the pool's)."""

    network_id: Expr
    subnetwork_id: Expr
    psa_range_name: Expr
    psa_dependency: str | None = None
    """Address of the private services access connection, when this stack declares it."""


def split_cidr(cidr: str) -> tuple[ipaddress.IPv4Network, ipaddress.IPv4Network] | None:
    """(subnetwork, private services range), or None when the network is too small for the layout."""
    network = ipaddress.IPv4Network(cidr)
    subnet, psa = network.subnets(prefixlen_diff=1)
    if psa.prefixlen > PSA_MIN_PREFIX:
        return None
    return subnet, psa


def emit_network(stack: Stack, ctx: Ctx, cidr: str, *, gke: bool) -> GcpNetwork:
    """Declare the VPC of ``ctx`` (pool or silo tenant) in ``stack``; ``cidr`` passed :func:`split_cidr`."""
    split = split_cidr(cidr)
    assert split is not None, "callers check split_cidr first"
    subnet_range, psa_range = split
    labels = dict(ctx.tags)
    network = stack.resource("google_compute_network", "main", {
        "name": name(ctx, COMPUTE_NAME),
        "description": f"paybill {ctx.address} network",
        "auto_create_subnetworks": False,
        "routing_mode": "REGIONAL",
        "delete_default_routes_on_create": False,
    })
    subnet_body = {
        "name": name(ctx, COMPUTE_NAME, ctx.region),
        "network": network.attr("id"),
        "region": ctx.region,
        "ip_cidr_range": str(subnet_range),
        "private_ip_google_access": True,
        "stack_type": "IPV4_ONLY",
        "log_config": {
            "aggregation_interval": "INTERVAL_5_SEC",
            "flow_sampling": 0.5,
            "metadata": "INCLUDE_ALL_METADATA",
        },
    }
    if gke:
        subnet_body["secondary_ip_range"] = [
            {"range_name": "pods", "ip_cidr_range": PODS_RANGE},
            {"range_name": "services", "ip_cidr_range": SERVICES_RANGE},
        ]
    subnet = stack.resource("google_compute_subnetwork", "main", subnet_body)

    internal_sources = [str(ipaddress.IPv4Network(cidr))] + ([PODS_RANGE] if gke else [])
    stack.resource("google_compute_firewall", "allow_internal", {
        "name": name(ctx, COMPUTE_NAME, "allow-internal"),
        "network": network.attr("id"),
        "description": "Traffic between workloads of this network only.",
        "direction": "INGRESS",
        "priority": 1000,
        "source_ranges": internal_sources,
        "allow": [{"protocol": "tcp"}, {"protocol": "udp"}, {"protocol": "icmp"}],
        "log_config": {"metadata": "INCLUDE_ALL_METADATA"},
    })
    if gke:
        stack.resource("google_compute_firewall", "allow_health_checks", {
            "name": name(ctx, COMPUTE_NAME, "allow-hc"),
            "network": network.attr("id"),
            "description": "Google load balancer health checks to GKE backends.",
            "direction": "INGRESS",
            "priority": 1000,
            "source_ranges": HEALTH_CHECK_RANGES,
            "allow": [{"protocol": "tcp"}],
            "log_config": {"metadata": "INCLUDE_ALL_METADATA"},
        })
    stack.resource("google_compute_firewall", "deny_ingress", {
        "name": name(ctx, COMPUTE_NAME, "deny-ingress"),
        "network": network.attr("id"),
        "description": "Everything else from anywhere is denied, and logged.",
        "direction": "INGRESS",
        "priority": 65534,
        "source_ranges": ["0.0.0.0/0"],
        "deny": [{"protocol": "all"}],
        "log_config": {"metadata": "INCLUDE_ALL_METADATA"},
    })
    router = stack.resource("google_compute_router", "main", {
        "name": name(ctx, COMPUTE_NAME, "router"),
        "network": network.attr("id"),
        "region": ctx.region,
    })
    stack.resource("google_compute_router_nat", "main", {
        "name": name(ctx, COMPUTE_NAME, "nat"),
        "router": router.attr("name"),
        "region": ctx.region,
        "nat_ip_allocate_option": "AUTO_ONLY",
        "source_subnetwork_ip_ranges_to_nat": "ALL_SUBNETWORKS_ALL_IP_RANGES",
        "log_config": {"enable": True, "filter": "ERRORS_ONLY"},
    })
    psa = stack.resource("google_compute_global_address", "private_services", {
        "name": name(ctx, COMPUTE_NAME, "psa"),
        "description": "Reserved for Cloud SQL private IPs (private services access).",
        "purpose": "VPC_PEERING",
        "address_type": "INTERNAL",
        "address": str(psa_range.network_address),
        "prefix_length": psa_range.prefixlen,
        "network": network.attr("id"),
        "labels": labels,
    })
    connection = stack.resource("google_service_networking_connection", "main", {
        "network": network.attr("id"),
        "service": "servicenetworking.googleapis.com",
        "reserved_peering_ranges": [psa.attr("name")],
        # Deleting the peering fails while producer resources remain; leave it to the network's deletion.
        "deletion_policy": "ABANDON",
    })
    return GcpNetwork(network.attr("id"), subnet.attr("id"), psa.attr("name"), connection.address)
