"""Google Cloud tenant stack: the tenant's silo layers, and its isolation inside the pooled ones.

During an isolation migration the pooled namespace is kept until ``decommission``; the database login
and the bucket grant (one address each) follow the application, to the target at ``cutover``. The
tenant's key cannot change key ring in a migration (validation, PB0442).

Every tenant-owned store is encrypted with the tenant's own key: in its own key ring when the keys
layer is silo, in the pool's key ring when it is pooled. Pooled stores stay encrypted with the pool
key; the tenant key then serves application-level envelope encryption.
"""

from __future__ import annotations

from paybill.emit.terraform.context import TenantContext
from paybill.emit.terraform.providers.gcp import compute, data, identity, keys
from paybill.emit.terraform.providers.gcp.network import GcpNetwork, emit_network
from paybill.emit.terraform.providers.gcp.sizing import SQL_DATABASE_NAME
from paybill.emit.terraform.remote import pool_output
from paybill.emit.terraform.stack import Stack

CMK_FEATURE = "customer-managed-keys"
"""Plans with this feature keep silo keys in Cloud HSM."""


def _network(stack: Stack, ctx: TenantContext) -> GcpNetwork:
    if ctx.layers.silo("network"):
        assert ctx.network_cidr is not None
        network = emit_network(stack, ctx, ctx.network_cidr, gke=False)
        stack.output("network_id", network.network_id, "The tenant's own VPC network (id).")
        return network
    return GcpNetwork(pool_output("network_id"), pool_output("subnetwork_id"), pool_output("private_services_range"))


def emit_tenant(ctx: TenantContext, stack: Stack) -> None:
    """Validation ran the profile's capability checks (PB0650, PB0651): the layout is buildable."""
    network = _network(stack, ctx)
    layers = ctx.layers
    if layers.silo("keys"):
        ring = keys.emit_key_ring(stack, ctx)
        key = keys.emit_crypto_key(stack, ctx, "data", ring, hsm=CMK_FEATURE in ctx.plan.spec.features)
    else:
        key = keys.emit_crypto_key(stack, ctx, "data", pool_output("key_ring_id"), hsm=True)
    agents = [agent for layer, agent in (("database", "sql"), ("storage", "storage"), ("compute", "run"))
              if layers.silo(layer)]
    grants = keys.grant_service_agents(stack, ctx, key, agents) if agents else {}
    stack.output("data_key_id", key, "The tenant's own key.")

    tenant = identity.emit_service_account(stack, ctx)
    identity.grant_key(stack, tenant, key)
    stack.output("service_account_email", tenant.email, "The tenant's workload identity.")

    if layers.silo("database"):
        waits = [grants["sql"]] + ([network.psa_dependency] if network.psa_dependency else [])
        sql = data.emit_sql_instance(stack, ctx, ctx.sizing.database, key=key, network=network,
                                     depends_on=waits, offboarding=ctx.offboarding)
        instance, connection = sql.name, sql.connection_name
        database = stack.resource("google_sql_database", "tenant", {
            "name": ctx.claimed(SQL_DATABASE_NAME),
            "instance": instance,
            "charset": "UTF8",
            "collation": "en_US.UTF8",
            # Terraform never drops a tenant's data: a destroy leaves the database for export and purge.
            "deletion_policy": "ABANDON",
        })
        stack.output("database_name", database.attr("name"), "The tenant's PostgreSQL database.")
    else:
        # Pooled: the tenant's rows live in the pool's shared database (generated/sql/pool-<pool>/),
        # separated by row-level security, as on every other cloud.
        instance, connection = pool_output("sql_instance_name"), pool_output("sql_connection_name")
        stack.output("database_name", pool_output("database_name"),
                     "The pool's shared PostgreSQL database holding the tenant's rows (row-level security).")
    # During a migration the login and its IAM grant stay on the pool's instance until cut-over (its
    # database user is abandoned, not dropped, when it moves: the old login keeps working in the pool).
    active = instance if layers.active_silo("database") else pool_output("sql_instance_name")
    identity.grant_sql(stack, ctx, tenant, active)
    stack.output("sql_connection_name", connection, "Connection name of the instance holding it.")

    if layers.silo("storage"):
        bucket = data.emit_buckets(stack, ctx, key=key, depends_on=[grants["storage"]], offboarding=ctx.offboarding)
        if layers.active_silo("storage"):
            identity.grant_bucket(stack, ctx, tenant, bucket, pooled=False)
        else:  # migrating: the tenant keeps its prefix of the pool bucket until cut-over
            identity.grant_bucket(stack, ctx, tenant, pool_output("bucket_name"), pooled=True)
        stack.output("bucket_name", bucket, "The tenant's own bucket.")
    else:
        identity.grant_bucket(stack, ctx, tenant, pool_output("bucket_name"), pooled=True)
        stack.output("bucket_prefix", identity.TENANT_PREFIX.format(tenant=ctx.name),
                     "The tenant's prefix in the pool bucket.")

    if layers.silo("compute"):
        compute.emit_tenant_service(stack, ctx, tenant, network, key, grants)
    if layers.holds_pooled("compute"):  # pooled, or kept during a migration until decommission
        compute.emit_tenant_namespace(stack, ctx, tenant)
