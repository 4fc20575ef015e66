"""Google Cloud pool stack: the shared layers a pool offers, and the outputs its tenants read."""

from __future__ import annotations

from paybill.contract.sql_names import database_key, snake
from paybill.emit.terraform.context import PoolContext
from paybill.emit.terraform.providers.gcp import compute, data, keys
from paybill.emit.terraform.providers.gcp.common import declare_project
from paybill.emit.terraform.providers.gcp.compute import workload_pool
from paybill.emit.terraform.providers.gcp.network import emit_network
from paybill.emit.terraform.stack import Stack


def emit_pool(ctx: PoolContext, stack: Stack) -> None:
    """Validation ran the profile's capability checks (PB0650, PB0652): the layout is buildable."""
    layers = set(ctx.pool.spec.layers)
    declare_project(stack, ctx)
    network = None
    if "network" in layers:
        network = emit_network(stack, ctx, ctx.network_cidr, gke="compute" in layers)
        stack.output("network_id", network.network_id, "Shared VPC network (id).")
        stack.output("subnetwork_id", network.subnetwork_id, "Shared private subnetwork (id).")
        stack.output("private_services_range", network.psa_range_name,
                     "Range reserved for Cloud SQL private IPs in the shared network.")

    # The pool's own key encrypts every shared store; offering 'keys' also lets pooled tenants keep
    # their per-tenant key in this key ring.
    ring = keys.emit_key_ring(stack, ctx)
    key = keys.emit_crypto_key(stack, ctx, "data", ring, hsm=True)
    agents = [agent for layer, names in (("database", ["sql"]), ("storage", ["storage"]),
                                          ("compute", ["gke", "compute"])) if layer in layers for agent in names]
    grants = keys.grant_service_agents(stack, ctx, key, agents)
    stack.output("key_ring_id", ring, "Cloud KMS key ring of the pool (pooled tenants' keys live here).")
    stack.output("data_key_id", key, "The pool's data key (encrypts every shared store).")

    if "database" in layers and network is not None:
        waits = [grants["sql"]] + ([network.psa_dependency] if network.psa_dependency else [])
        sql = data.emit_sql_instance(stack, ctx, ctx.sizing.database, key=key, network=network,
                                     depends_on=waits, offboarding=False)
        stack.output("sql_instance_name", sql.name, "Shared Cloud SQL for PostgreSQL instance.")
        stack.output("sql_connection_name", sql.connection_name, "Its connection name (Cloud SQL connectors).")
        # One shared database, as on every other cloud: generated/sql/pool-<pool>/ migrates it, and
        # row-level security on tenant_id keeps pooled tenants apart inside it.
        database = stack.resource("google_sql_database", "pool", {
            "name": snake(database_key("pool", ctx.name)),
            "instance": sql.name,
            "charset": "UTF8",
            "collation": "en_US.UTF8",
            "deletion_policy": "ABANDON",
        })
        stack.output("database_name", database.attr("name"),
                     "The shared PostgreSQL database of pooled tenants (generated/sql/pool-<pool>/).")
    if "storage" in layers:
        bucket = data.emit_buckets(stack, ctx, key=key, depends_on=[grants["storage"]], offboarding=False)
        stack.output("bucket_name", bucket, "Shared bucket; each tenant owns the prefix tenants/<tenant>/.")
    if "identity" in layers:
        stack.output("workload_pool", workload_pool(ctx), "Workload Identity pool of the project.")
    if "compute" in layers and network is not None:
        compute.emit_pool_cluster(stack, ctx, network, ctx.network_cidr, key, grants)
    stack.output("tenants", ctx.tenants, "Live tenants placed in this pool (documentation only).")
