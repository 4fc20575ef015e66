"""AWS network layer: a private VPC over three availability zones, or the pool's VPC.

A dedicated VPC has three private subnets (the first three quarters of its CIDR), one route table
without any internet route, an S3 gateway endpoint, VPC flow logs to the stack's log bucket and a
default security group stripped of every rule. When the VPC hosts a Kubernetes cluster it also
gets the interface endpoints nodes and pods need without internet egress (ECR, STS, EKS Pod
Identity, CloudWatch Logs, KMS, Secrets Manager, EC2): no NAT gateway, no public subnet, no
internet gateway anywhere.

A tenant whose network is silo but which uses pooled layers (its pods on the pool cluster reaching
its own database, or its own cluster reaching the pool database) is peered with the pool VPC, with
routes both ways; the /20 slots from :mod:`paybill.emit.terraform.network` never overlap.
"""

from __future__ import annotations

import ipaddress

from paybill.emit.terraform.expr import concat, raw
from paybill.emit.terraform.providers.aws.common import GENERIC, Network, Scope, pool_output

INTERFACE_ENDPOINTS = ("ec2", "ecr.api", "ecr.dkr", "eks-auth", "kms", "logs", "secretsmanager", "sts")
AZ_COUNT = 3
ZONE_LETTERS = ("a", "b", "c")
"""The zones a VPC spans, by name: ``<region>a``, ``<region>b``, ``<region>c``.

Zones are allowlisted by name rather than taken from "whatever AWS lists": an unfiltered
``aws_availability_zones`` grows when AWS opens a zone (or lists Local/Wavelength zones once opted
in), which would move subnets between zones on the next plan. Most regions with three or more
zones have these three names (a name maps to a physical zone per account, which is fine: the three
are distinct); the known exceptions are overridden below. If a zone is missing or not available in
the account, the data source's postcondition stops the plan with a message, before any subnet is
touched; add the region here then."""
ZONE_LETTER_OVERRIDES: dict[str, tuple[str, str, str]] = {
    "ap-northeast-1": ("a", "c", "d"),  # Tokyo: current accounts get 1a, 1c and 1d (1b is legacy)
    "ca-central-1": ("a", "b", "d"),  # Canada Central has no ca-central-1c
}


def zone_names(region: str) -> list[str]:
    """The three zones (by name) of ``region`` the private subnets are placed in, in subnet order."""
    return [f"{region}{letter}" for letter in ZONE_LETTER_OVERRIDES.get(region, ZONE_LETTERS)]


def private_subnets(cidr: str) -> list[str]:
    """The first three quarters of the network, one per availability zone (the last is spare)."""
    network = ipaddress.IPv4Network(cidr)
    return [str(s) for s in list(network.subnets(prefixlen_diff=2))[:AZ_COUNT]]


def own_network(scope: Scope, cidr: str, *, hosts_cluster: bool) -> Network:
    stack = scope.stack
    zones = zone_names(scope.region)
    stack.data_source("aws_availability_zones", "available", {
        "state": "available",
        "filter": [{"name": "zone-name", "values": zones}],
        "lifecycle": {"postcondition": [{
            "condition": raw(f"length(self.names) == {len(zones)}"),
            "error_message": f"paybill places the private subnets in {', '.join(zones)}; not all of them are "
                             "available to this account (see aws/network.py ZONE_LETTER_OVERRIDES).",
        }]},
    })
    label = "-".join(scope.base_parts())
    vpc = stack.resource("aws_vpc", "main", {
        "cidr_block": cidr,
        "enable_dns_support": True,
        "enable_dns_hostnames": True,
        "tags": {"Name": f"paybill-{label}"},
    })
    # Adopting the default security group with no rules removes AWS's allow-all defaults.
    stack.resource("aws_default_security_group", "main", {"vpc_id": vpc.attr("id")})
    route_table = stack.resource("aws_route_table", "private", {
        "vpc_id": vpc.attr("id"),
        "tags": {"Name": f"paybill-{label}-private"},
    })
    subnet_ids = []
    for index, subnet_cidr in enumerate(private_subnets(cidr)):
        subnet = stack.resource("aws_subnet", f"private_{index}", {
            "vpc_id": vpc.attr("id"),
            "cidr_block": subnet_cidr,
            "availability_zone": zones[index],
            "map_public_ip_on_launch": False,
            "tags": {"Name": f"paybill-{label}-private-{index}", "kubernetes.io/role/internal-elb": "1"},
        })
        subnet_ids.append(subnet.attr("id"))
        stack.resource("aws_route_table_association", f"private_{index}", {
            "subnet_id": subnet.attr("id"),
            "route_table_id": route_table.attr("id"),
        })
    stack.resource("aws_vpc_endpoint", "s3", {
        "vpc_id": vpc.attr("id"),
        "service_name": f"com.amazonaws.{scope.region}.s3",
        "vpc_endpoint_type": "Gateway",
        "route_table_ids": [route_table.attr("id")],
    })
    if hosts_cluster:
        endpoints_sg = stack.resource("aws_security_group", "endpoints", {
            "name": scope.claimed(GENERIC, "endpoints"),
            "description": "HTTPS from inside the VPC to AWS service endpoints",
            "vpc_id": vpc.attr("id"),
        })
        stack.resource("aws_vpc_security_group_ingress_rule", "endpoints_https", {
            "security_group_id": endpoints_sg.attr("id"),
            "description": "HTTPS from the VPC",
            "cidr_ipv4": cidr,
            "ip_protocol": "tcp",
            "from_port": 443,
            "to_port": 443,
        })
        for service in INTERFACE_ENDPOINTS:
            stack.resource("aws_vpc_endpoint", service.replace(".", "_").replace("-", "_"), {
                "vpc_id": vpc.attr("id"),
                "service_name": f"com.amazonaws.{scope.region}.{service}",
                "vpc_endpoint_type": "Interface",
                "private_dns_enabled": True,
                "subnet_ids": subnet_ids,
                "security_group_ids": [endpoints_sg.attr("id")],
            })
    if scope.log_bucket_arn is not None:
        stack.resource("aws_flow_log", "vpc", {
            "vpc_id": vpc.attr("id"),
            "traffic_type": "ALL",
            "log_destination_type": "s3",
            "log_destination": concat(scope.log_bucket_arn, "/vpc-flow-logs/"),
            "max_aggregation_interval": 600,
        })
    return Network(vpc.attr("id"), cidr, subnet_ids, route_table.attr("id"), own=True)


def pool_network() -> Network:
    """The pool's VPC as a tenant stack sees it: only through pool outputs."""
    return Network(pool_output("vpc_id"), pool_output("vpc_cidr"), pool_output("private_subnet_ids"),
                   pool_output("private_route_table_id"), own=False)


def peer_with_pool(scope: Scope, network: Network) -> None:
    """Peer a tenant's own VPC with its pool's (same account and region, so auto-accepted)."""
    stack = scope.stack
    peering = stack.resource("aws_vpc_peering_connection", "pool", {
        "vpc_id": network.vpc_id,
        "peer_vpc_id": pool_output("vpc_id"),
        "auto_accept": True,
        "tags": {"Name": f"paybill-{scope.name}-to-pool"},
    })
    stack.resource("aws_route", "to_pool", {
        "route_table_id": network.route_table_id,
        "destination_cidr_block": pool_output("vpc_cidr"),
        "vpc_peering_connection_id": peering.attr("id"),
    })
    stack.resource("aws_route", "from_pool", {
        "route_table_id": pool_output("private_route_table_id"),
        "destination_cidr_block": network.cidr,
        "vpc_peering_connection_id": peering.attr("id"),
    })


def emit_pool_network(scope: Scope, cidr: str) -> Network:
    network = own_network(scope, cidr, hosts_cluster=True)
    scope.output("vpc_id", network.vpc_id, "The pool VPC")
    scope.output("vpc_cidr", cidr, "CIDR of the pool VPC")
    scope.output("private_subnet_ids", network.subnet_ids, "Private subnets of the pool VPC, one per AZ")
    scope.output("private_route_table_id", network.route_table_id, "Route table of the private subnets")
    return network


def emit_tenant_network(scope: Scope) -> Network:
    tenant = scope.tenant
    assert tenant is not None
    if not tenant.layers.silo("network"):
        return pool_network()
    assert tenant.network_cidr is not None
    network = own_network(scope, tenant.network_cidr, hosts_cluster=tenant.layers.silo("compute"))
    if tenant.layers.needs_pool:
        peer_with_pool(scope, network)
    scope.output("vpc_id", network.vpc_id, "The tenant's dedicated VPC")
    return network

