"""IBM Cloud network layer: a VPC with manual address prefixes (no overlapping defaults), one private
subnet per zone and no public gateway (no internet path at all; IBM services are reached over private
service endpoints), default security group and ACL stripped of their permissive rules, an application
security group, and VPC flow logs to Cloud Object Storage.

The network CIDR is cut in four: three zone subnets (workers, and the private endpoints of IBM
services seen from the VPC) and one quarter kept free for growth.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from paybill.emit.terraform.expr import Expr
from paybill.emit.terraform.providers.ibm.common import Ctx, name, tags, zones
from paybill.emit.terraform.providers.ibm.sizing import VPC_NAME, ZONES
from paybill.emit.terraform.stack import Stack


@dataclass(frozen=True, slots=True)
class IbmNetwork:
    vpc_id: Expr
    subnets: list[tuple[str, Expr]]
    """(zone, subnet id) per zone."""
    security_group_id: Expr


def emit_network(stack: Stack, ctx: Ctx, cidr: str, resource_group: Expr, flow_log_bucket: Expr | None,
                 depends_on: list[str]) -> IbmNetwork:
    network = ipaddress.IPv4Network(cidr)
    vpc = stack.resource("ibm_is_vpc", "main", {
        "name": name(ctx, VPC_NAME),
        "resource_group": resource_group,
        "address_prefix_management": "manual",
        "default_security_group_name": name(ctx, VPC_NAME, "default-sg"),
        "default_network_acl_name": name(ctx, VPC_NAME, "default-acl"),
        "default_routing_table_name": name(ctx, VPC_NAME, "default-rt"),
        "no_sg_acl_rules": True,
        "tags": tags(ctx),
    })
    subnets = []
    for zone, block in zip(zones(ctx, ZONES), network.subnets(prefixlen_diff=2), strict=False):
        prefix = stack.resource("ibm_is_vpc_address_prefix", zone.replace("-", "_"), {
            "name": name(ctx, VPC_NAME, zone),
            "vpc": vpc.attr("id"),
            "zone": zone,
            "cidr": str(block),
        })
        subnet = stack.resource("ibm_is_subnet", zone.replace("-", "_"), {
            "name": name(ctx, VPC_NAME, zone),
            "vpc": vpc.attr("id"),
            "zone": zone,
            "ipv4_cidr_block": str(block),
            "resource_group": resource_group,
            "tags": tags(ctx),
            "depends_on": [prefix.address],
        })
        subnets.append((zone, subnet.attr("id")))
    group = stack.resource("ibm_is_security_group", "app", {
        "name": name(ctx, VPC_NAME, "app"),
        "vpc": vpc.attr("id"),
        "resource_group": resource_group,
        "tags": tags(ctx),
    })
    stack.resource("ibm_is_security_group_rule", "app_inbound", {
        "group": group.attr("id"),
        "direction": "inbound",
        "remote": str(network),
        "protocol": "all",
    })
    stack.resource("ibm_is_security_group_rule", "app_outbound", {
        "group": group.attr("id"),
        "direction": "outbound",
        "remote": "0.0.0.0/0",
        "protocol": "all",
    })
    if flow_log_bucket is not None:
        body = {
            "name": name(ctx, VPC_NAME, "flow"),
            "target": vpc.attr("id"),
            "storage_bucket": flow_log_bucket,
            "active": True,
            "resource_group": resource_group,
            "tags": tags(ctx),
        }
        if depends_on:
            body["depends_on"] = sorted(depends_on)
        stack.resource("ibm_is_flow_log", "main", body)
    return IbmNetwork(vpc.attr("id"), subnets, group.attr("id"))
