"""OCI network layer: a VCN with four private regional subnets (worker nodes, pods, database, cluster
API), a restrictive security list replacing the VCN default one, network security groups, NAT and
service gateways (no internet gateway at all), and VCN flow logs for every subnet.

A network CIDR (/16 to /24) is cut in four equal subnets; OKE's VCN-native pod networking gives pods
addresses from the pods subnet, so no overlay range is needed.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from paybill.emit.terraform.expr import Expr, raw
from paybill.emit.terraform.providers.oci.common import Ctx, name, service_log, tags
from paybill.emit.terraform.providers.oci.sizing import DISPLAY_NAME, DNS_LABEL
from paybill.emit.terraform.stack import Stack

SUBNETS = ("nodes", "pods", "db", "api")
POSTGRES_PORT = 5432


@dataclass(frozen=True, slots=True)
class OciNetwork:
    """Expressions other layers use to attach to a network (own or the pool's)."""

    vcn_id: Expr
    subnets: dict[str, Expr]
    app_nsg_id: Expr
    db_nsg_id: Expr


def emit_network(stack: Stack, ctx: Ctx, cidr: str, compartment: Expr, log_group: Expr) -> OciNetwork:
    freeform = tags(ctx)
    network = ipaddress.IPv4Network(cidr)
    vcn = stack.resource("oci_core_vcn", "main", {
        "compartment_id": compartment,
        "cidr_blocks": [str(network)],
        "display_name": name(ctx, DISPLAY_NAME),
        "dns_label": name(ctx, DNS_LABEL),
        "freeform_tags": freeform,
    })
    stack.data_source("oci_core_services", "all", {
        "filter": [{"name": "name", "values": ["All .* Services In Oracle Services Network"], "regex": True}],
    })
    nat = stack.resource("oci_core_nat_gateway", "main", {
        "compartment_id": compartment,
        "vcn_id": vcn.attr("id"),
        "display_name": name(ctx, DISPLAY_NAME, "nat"),
        "block_traffic": False,
        "freeform_tags": freeform,
    })
    sgw = stack.resource("oci_core_service_gateway", "main", {
        "compartment_id": compartment,
        "vcn_id": vcn.attr("id"),
        "display_name": name(ctx, DISPLAY_NAME, "sgw"),
        "services": [{"service_id": raw("data.oci_core_services.all.services[0].id")}],
        "freeform_tags": freeform,
    })
    routes = stack.resource("oci_core_route_table", "private", {
        "compartment_id": compartment,
        "vcn_id": vcn.attr("id"),
        "display_name": name(ctx, DISPLAY_NAME, "private"),
        "route_rules": [
            {"destination": "0.0.0.0/0", "destination_type": "CIDR_BLOCK", "network_entity_id": nat.attr("id"),
             "description": "Egress to the internet through NAT only."},
            {"destination": raw("data.oci_core_services.all.services[0].cidr_block"),
             "destination_type": "SERVICE_CIDR_BLOCK", "network_entity_id": sgw.attr("id"),
             "description": "Oracle services (Object Storage, Vault, Logging) without leaving Oracle's network."},
        ],
        "freeform_tags": freeform,
    })
    security = stack.resource("oci_core_security_list", "private", {
        "compartment_id": compartment,
        "vcn_id": vcn.attr("id"),
        "display_name": name(ctx, DISPLAY_NAME, "private"),
        "ingress_security_rules": [{"protocol": "all", "source": str(network), "source_type": "CIDR_BLOCK",
                                    "description": "Only from inside this VCN."}],
        "egress_security_rules": [{"protocol": "all", "destination": "0.0.0.0/0", "destination_type": "CIDR_BLOCK",
                                   "description": "Outbound through the NAT and service gateways."}],
        "freeform_tags": freeform,
    })
    subnets: dict[str, Expr] = {}
    for role, block in zip(SUBNETS, network.subnets(prefixlen_diff=2), strict=True):
        subnet = stack.resource("oci_core_subnet", role, {
            "compartment_id": compartment,
            "vcn_id": vcn.attr("id"),
            "cidr_block": str(block),
            "display_name": name(ctx, DISPLAY_NAME, role),
            "dns_label": role,
            "prohibit_public_ip_on_vnic": True,
            "prohibit_internet_ingress": True,
            "route_table_id": routes.attr("id"),
            "security_list_ids": [security.attr("id")],
            "freeform_tags": freeform,
        })
        subnets[role] = subnet.attr("id")
        service_log(stack, ctx, f"flow_{role}",
                    display_name=name(ctx, DISPLAY_NAME, role, "flow"),
                    log_group=log_group, compartment=compartment, service="flowlogs", category="all",
                    resource=subnet.attr("id"))
    app = stack.resource("oci_core_network_security_group", "app", {
        "compartment_id": compartment,
        "vcn_id": vcn.attr("id"),
        "display_name": name(ctx, DISPLAY_NAME, "app"),
        "freeform_tags": freeform,
    })
    db = stack.resource("oci_core_network_security_group", "db", {
        "compartment_id": compartment,
        "vcn_id": vcn.attr("id"),
        "display_name": name(ctx, DISPLAY_NAME, "db"),
        "freeform_tags": freeform,
    })
    # Ingress rules are stateless (no connection tracking to exhaust); the stateful egress rule lets
    # answers to outbound connections back in, and the database answers through its own egress rule.
    stack.resource("oci_core_network_security_group_security_rule", "app_ingress", {
        "network_security_group_id": app.attr("id"),
        "direction": "INGRESS",
        "stateless": True,
        "protocol": "all",
        "source": str(network),
        "source_type": "CIDR_BLOCK",
        "description": "Workloads, pods and the cluster API talk inside the VCN only.",
    })
    stack.resource("oci_core_network_security_group_security_rule", "app_egress", {
        "network_security_group_id": app.attr("id"),
        "direction": "EGRESS",
        "stateless": False,
        "protocol": "all",
        "destination": "0.0.0.0/0",
        "destination_type": "CIDR_BLOCK",
        "description": "Outbound through the NAT and service gateways.",
    })
    stack.resource("oci_core_network_security_group_security_rule", "db_ingress", {
        "network_security_group_id": db.attr("id"),
        "direction": "INGRESS",
        "stateless": True,
        "protocol": "6",
        "source": str(network),
        "source_type": "CIDR_BLOCK",
        "tcp_options": {"destination_port_range": {"min": POSTGRES_PORT, "max": POSTGRES_PORT}},
        "description": "PostgreSQL (TLS) from inside the VCN only.",
    })
    stack.resource("oci_core_network_security_group_security_rule", "db_egress", {
        "network_security_group_id": db.attr("id"),
        "direction": "EGRESS",
        "stateless": True,
        "protocol": "6",
        "destination": str(network),
        "destination_type": "CIDR_BLOCK",
        "tcp_options": {"source_port_range": {"min": POSTGRES_PORT, "max": POSTGRES_PORT}},
        "description": "PostgreSQL answers to the VCN (the ingress rule is stateless).",
    })
    return OciNetwork(vcn.attr("id"), subnets, app.attr("id"), db.attr("id"))
