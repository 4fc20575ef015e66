"""OCI pool stack: the pool's compartment and the shared layers it offers, and the outputs tenants read."""

from __future__ import annotations

from paybill.emit.terraform.context import PoolContext
from paybill.emit.terraform.providers.oci import compute, data, security
from paybill.emit.terraform.providers.oci.common import name, namespace, parent_compartment, tags
from paybill.emit.terraform.providers.oci.network import SUBNETS, emit_network
from paybill.emit.terraform.providers.oci.sizing import COMPARTMENT_NAME, SIZES
from paybill.emit.terraform.stack import Stack


def emit_pool(ctx: PoolContext, stack: Stack) -> None:
    """Validation ran the profile's capability checks (PB0652): the layout is buildable."""
    layers = set(ctx.pool.spec.layers)
    compartment = stack.resource("oci_identity_compartment", "main", {
        "compartment_id": parent_compartment(ctx),
        "name": name(ctx, COMPARTMENT_NAME),
        "description": f"paybill pool {ctx.name}: shared infrastructure of pooled and bridge tenants.",
        "enable_delete": False,
        "freeform_tags": tags(ctx),
    }).attr("id")
    stack.output("compartment_id", compartment, "The pool's compartment (pooled tenants' resources live here).")
    log_group = data.emit_log_group(stack, ctx, compartment)
    stack.output("log_group_id", log_group, "Log group of the pool.")
    # The pool's own key encrypts every shared store; offering 'keys' also hosts pooled tenants' keys.
    vault, endpoint = security.emit_vault(stack, ctx, compartment)
    key = security.emit_key(stack, ctx, compartment, endpoint)
    service_policy = security.emit_service_policy(stack, ctx, compartment)
    stack.output("vault_id", vault, "The pool's vault.")
    stack.output("vault_management_endpoint", endpoint, "Its management endpoint (to create tenant keys).")
    stack.output("data_key_id", key, "The pool's master encryption key.")

    network = None
    if "network" in layers:
        network = emit_network(stack, ctx, ctx.network_cidr, compartment, log_group)
        stack.output("vcn_id", network.vcn_id, "Shared VCN.")
        for role in SUBNETS:
            stack.output(f"{role}_subnet_id", network.subnets[role], f"Shared private {role} subnet.")
        stack.output("app_nsg_id", network.app_nsg_id, "NSG of application workloads.")
        stack.output("db_nsg_id", network.db_nsg_id, "NSG of PostgreSQL endpoints.")
    if "database" in layers and network is not None:
        secret = security.emit_secret(stack, ctx, "db_admin", compartment, vault, key, "PostgreSQL admin password")
        psql = data.emit_psql(stack, ctx, ctx.sizing.database, compartment=compartment, network=network,
                              secret=secret, offboarding=False)
        stack.output("psql_db_system_id", psql.id, "Shared OCI Database with PostgreSQL system.")
        stack.output("psql_endpoint", psql.endpoint, "Its private primary endpoint.")
    if "storage" in layers:
        stack.output("objectstorage_namespace", namespace(stack, ctx),
                     "Object Storage namespace; pooled tenants get their own bucket in the pool compartment.")
    if "compute" in layers and network is not None:
        cluster = compute.emit_cluster(stack, ctx, compartment=compartment, network=network, key=key,
                                       node_count=SIZES[ctx.sizing.compute].nodes, depends_on=[service_policy])
        stack.output("cluster_id", cluster, "Shared OKE cluster (enhanced).")
    stack.output("tenants", ctx.tenants, "Live tenants placed in this pool (documentation only).")
