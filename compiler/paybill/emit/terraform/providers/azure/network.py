"""Azure network layer: a VNet with three private subnets and NSGs, private DNS zones, or the pool's.

Subnets are the first three quarters of the network: ``aks`` (cluster nodes; pods use an overlay
range outside the address space), ``postgres`` (delegated to PostgreSQL flexible servers, which
join a VNet only through a delegated subnet) and ``endpoints`` (private endpoints of Key Vault and
Storage). No subnet has default outbound internet access; NSGs admit PostgreSQL and HTTPS from
inside the virtual network only and deny every other inbound flow.

Private DNS zones: one per owner for PostgreSQL (``<kind>-<name>.private.postgres.database.azure.com``)
and the ``privatelink`` zones for blob and vault. A VNet can link only one zone of a given name, so a
tenant with a pool always uses the pool's ``privatelink`` zones (linking them to its own VNet when
it has one) instead of creating its own. A tenant with its own VNet and pooled layers is peered
with the pool VNet in both directions.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from paybill.emit.terraform.expr import Expr, ref
from paybill.emit.terraform.providers.azure.common import (
    VNET,
    Network,
    Scope,
    Zones,
    pool_output,
)

POSTGRES_DELEGATION = "Microsoft.DBforPostgreSQL/flexibleServers"
BLOB_ZONE = "privatelink.blob.core.windows.net"
VAULT_ZONE = "privatelink.vaultcore.azure.net"


def subnet_cidrs(cidr: str) -> dict[str, str]:
    quarters = [str(s) for s in ipaddress.IPv4Network(cidr).subnets(prefixlen_diff=2)]
    return {"aks": quarters[0], "postgres": quarters[1], "endpoints": quarters[2]}


def _rule(name: str, priority: int, access: str, port: str, source: str) -> dict[str, Any]:
    return {
        "name": name,
        "priority": priority,
        "direction": "Inbound",
        "access": access,
        "protocol": "Tcp" if port != "*" else "*",
        "source_port_range": "*",
        "destination_port_range": port,
        "source_address_prefix": source,
        "destination_address_prefix": "*",
    }


NSG_RULES = {
    "aks": [],
    "postgres": [_rule("allow-postgres-from-vnet", 100, "Allow", "5432", "VirtualNetwork"),
                 _rule("deny-all-inbound", 4096, "Deny", "*", "*")],
    "endpoints": [_rule("allow-https-from-vnet", 100, "Allow", "443", "VirtualNetwork"),
                  _rule("deny-all-inbound", 4096, "Deny", "*", "*")],
}


def own_network(scope: Scope, cidr: str) -> Network:
    stack = scope.stack
    vnet_name = scope.claimed(VNET)
    vnet = stack.resource("azurerm_virtual_network", "main", scope.located({
        "name": vnet_name,
        "address_space": [cidr],
    }))
    ids = {}
    for subnet, prefix in subnet_cidrs(cidr).items():
        body = {
            "name": f"snet-{subnet}",
            "resource_group_name": scope.resource_group,
            "virtual_network_name": vnet.attr("name"),
            "address_prefixes": [prefix],
            "default_outbound_access_enabled": False,
        }
        if subnet == "postgres":
            body["delegation"] = [{"name": "postgres-flexible-servers", "service_delegation": {
                "name": POSTGRES_DELEGATION,
                "actions": ["Microsoft.Network/virtualNetworks/subnets/join/action"],
            }}]
        if subnet == "endpoints":
            body["private_endpoint_network_policies"] = "Enabled"
        handle = stack.resource("azurerm_subnet", subnet, body)
        nsg = stack.resource("azurerm_network_security_group", subnet, scope.located({
            "name": f"nsg-{vnet_name}-{subnet}",
            "security_rule": NSG_RULES[subnet],
        }))
        stack.resource("azurerm_subnet_network_security_group_association", subnet, {
            "subnet_id": handle.attr("id"),
            "network_security_group_id": nsg.attr("id"),
        })
        ids[subnet] = handle.attr("id")
    return Network(vnet.attr("id"), cidr, ids["aks"], ids["postgres"], ids["endpoints"], own=True)


def _zone(scope: Scope, local: str, name: str) -> Expr:
    zone = scope.stack.resource("azurerm_private_dns_zone", local, {
        "name": name, "resource_group_name": scope.resource_group, "tags": scope.tags,
    })
    return zone.attr("id")


def link_zone(scope: Scope, local: str, zone_id: Expr, vnet_id: Expr, label: str) -> None:
    scope.stack.resource("azurerm_private_dns_zone_virtual_network_link", local, {
        "name": f"link-{label}",
        "private_dns_zone_id": zone_id,
        "virtual_network_id": vnet_id,
        "registration_enabled": False,
        "tags": scope.tags,
    })


def postgres_zone_name(scope: Scope) -> str:
    return f"{scope.kind}-{scope.name}.private.postgres.database.azure.com"


def emit_pool_network(scope: Scope, cidr: str) -> None:
    network = own_network(scope, cidr)
    zones = Zones(_zone(scope, "postgres", postgres_zone_name(scope)), _zone(scope, "blob", BLOB_ZONE),
                  _zone(scope, "vault", VAULT_ZONE))
    for local, zone_id in (("postgres", zones.postgres), ("blob", zones.blob), ("vault", zones.vault)):
        link_zone(scope, local, zone_id, network.vnet_id, f"pool-{scope.name}")
    scope.network, scope.zones = network, zones
    scope.output("vnet_id", network.vnet_id, "The pool VNet")
    scope.output("vnet_name", ref("azurerm_virtual_network", "main", "name"), "Name of the pool VNet")
    scope.output("vnet_cidr", cidr, "Address space of the pool VNet")
    scope.output("aks_subnet_id", network.aks_subnet_id, "Subnet of the pool's cluster nodes")
    scope.output("postgres_subnet_id", network.postgres_subnet_id, "Subnet delegated to PostgreSQL servers")
    scope.output("endpoints_subnet_id", network.endpoints_subnet_id, "Subnet for private endpoints")
    scope.output("postgres_dns_zone_id", zones.postgres, "Private DNS zone for PostgreSQL servers")
    scope.output("blob_dns_zone_id", zones.blob, "Private DNS zone for blob private endpoints")
    scope.output("vault_dns_zone_id", zones.vault, "Private DNS zone for Key Vault private endpoints")


def pool_network() -> Network:
    return Network(pool_output("vnet_id"), pool_output("vnet_cidr"), pool_output("aks_subnet_id"),
                   pool_output("postgres_subnet_id"), pool_output("endpoints_subnet_id"), own=False)


def emit_tenant_network(scope: Scope) -> None:
    tenant = scope.tenant
    assert tenant is not None
    layers = tenant.layers
    if not layers.silo("network"):
        scope.network = pool_network()
        scope.zones = Zones(pool_output("postgres_dns_zone_id"), pool_output("blob_dns_zone_id"),
                            pool_output("vault_dns_zone_id"))
        return
    assert tenant.network_cidr is not None
    network = own_network(scope, tenant.network_cidr)
    scope.network = network
    own_postgres = layers.silo("database")
    if not layers.needs_pool:
        scope.zones = Zones(_zone(scope, "postgres", postgres_zone_name(scope)) if own_postgres else None,
                            _zone(scope, "blob", BLOB_ZONE), _zone(scope, "vault", VAULT_ZONE))
        for local, zone_id in (("postgres", scope.zones.postgres), ("blob", scope.zones.blob),
                               ("vault", scope.zones.vault)):
            if zone_id is not None:
                link_zone(scope, local, zone_id, network.vnet_id, f"tenant-{scope.name}")
        scope.output("vnet_id", network.vnet_id, "The tenant's dedicated VNet")
        return
    # Own VNet next to a pool: peer both ways, share the pool's privatelink zones.
    stack = scope.stack
    stack.resource("azurerm_virtual_network_peering", "to_pool", {
        "name": "peer-to-pool",
        "resource_group_name": scope.resource_group,
        "virtual_network_name": ref("azurerm_virtual_network", "main", "name"),
        "remote_virtual_network_id": pool_output("vnet_id"),
        "allow_virtual_network_access": True,
        "allow_forwarded_traffic": False,
    })
    stack.resource("azurerm_virtual_network_peering", "from_pool", {
        "name": f"peer-to-tenant-{scope.name}",
        "resource_group_name": pool_output("resource_group_name"),
        "virtual_network_name": pool_output("vnet_name"),
        "remote_virtual_network_id": network.vnet_id,
        "allow_virtual_network_access": True,
        "allow_forwarded_traffic": False,
    })
    postgres_zone = pool_output("postgres_dns_zone_id")
    if own_postgres:
        postgres_zone = _zone(scope, "postgres", postgres_zone_name(scope))
        link_zone(scope, "postgres", postgres_zone, network.vnet_id, f"tenant-{scope.name}")
        link_zone(scope, "postgres_pool_vnet", postgres_zone, pool_output("vnet_id"), f"tenant-{scope.name}")
    else:
        link_zone(scope, "pool_postgres", postgres_zone, network.vnet_id, f"tenant-{scope.name}")
    for local in ("blob", "vault"):
        link_zone(scope, f"pool_{local}", pool_output(f"{local}_dns_zone_id"), network.vnet_id,
                  f"tenant-{scope.name}")
    scope.zones = Zones(postgres_zone, pool_output("blob_dns_zone_id"), pool_output("vault_dns_zone_id"))
    scope.output("vnet_id", network.vnet_id, "The tenant's dedicated VNet")
