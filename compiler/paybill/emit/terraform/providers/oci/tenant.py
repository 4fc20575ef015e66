"""OCI tenant stack: the tenant's compartment and silo layers, and its isolation inside pooled ones.

Tenant-owned resources live in the tenant's own compartment when the tenant has any silo layer, in
the pool's compartment otherwise. Every tenant-owned store is encrypted with the tenant's key: in its
own vault when keys are silo, in the pool's vault when pooled (so a tenant's data can be crypto-shredded
on its own). Object Storage policies can only name buckets (not object prefixes), so a pooled tenant's
storage is a bucket of its own in the pool compartment, and its policy names that bucket.
"""

from __future__ import annotations

from paybill.emit.terraform.context import TenantContext
from paybill.emit.terraform.expr import Expr
from paybill.emit.terraform.providers.oci import compute, data, security
from paybill.emit.terraform.providers.oci.common import name, parent_compartment, tags
from paybill.emit.terraform.providers.oci.network import SUBNETS, OciNetwork, emit_network
from paybill.emit.terraform.providers.oci.sizing import COMPARTMENT_NAME, SIZES
from paybill.emit.terraform.remote import pool_output
from paybill.emit.terraform.stack import Stack


def _compartment(stack: Stack, ctx: TenantContext) -> Expr:
    if not ctx.layers.silo_layers:
        return pool_output("compartment_id")
    compartment = stack.resource("oci_identity_compartment", "tenant", {
        "compartment_id": parent_compartment(ctx),
        "name": name(ctx, COMPARTMENT_NAME),
        "description": f"paybill tenant {ctx.name}: its dedicated ({', '.join(ctx.layers.silo_layers)}) layers.",
        "enable_delete": False,
        "freeform_tags": tags(ctx),
    }).attr("id")
    stack.output("compartment_id", compartment, "The tenant's own compartment.")
    return compartment


def emit_tenant(ctx: TenantContext, stack: Stack) -> None:
    """Validation ran the profile's capability checks (PB0651): the layout is buildable."""
    layers = ctx.layers
    compartment = _compartment(stack, ctx)
    own_compartment = bool(layers.silo_layers)
    log_group = data.emit_log_group(stack, ctx, compartment) if own_compartment else pool_output("log_group_id")

    if layers.silo("network"):
        assert ctx.network_cidr is not None
        network = emit_network(stack, ctx, ctx.network_cidr, compartment, log_group)
        stack.output("vcn_id", network.vcn_id, "The tenant's own VCN.")
    else:
        network = OciNetwork(pool_output("vcn_id"), {role: pool_output(f"{role}_subnet_id") for role in SUBNETS},
                             pool_output("app_nsg_id"), pool_output("db_nsg_id"))

    waits: list[str] = []
    if layers.silo("keys"):
        vault, endpoint = security.emit_vault(stack, ctx, compartment)
        key_compartment = compartment
        waits.append(security.emit_service_policy(stack, ctx, compartment))
    else:
        vault, endpoint = pool_output("vault_id"), pool_output("vault_management_endpoint")
        key_compartment = pool_output("compartment_id")
        if own_compartment:
            # Silo stores in the tenant compartment still need the services to use keys there.
            waits.append(security.emit_service_policy(stack, ctx, compartment))
    key = security.emit_key(stack, ctx, key_compartment, endpoint)
    stack.output("data_key_id", key, "The tenant's master encryption key.")

    cluster = pool_output("cluster_id") if layers.pooled("compute") else None
    if layers.silo("compute"):
        count = 0 if ctx.suspended else SIZES[ctx.sizing.compute].nodes
        cluster = compute.emit_cluster(stack, ctx, compartment=compartment, network=network, key=key,
                                       node_count=count, depends_on=waits)
        stack.output("cluster_id", cluster, "The tenant's dedicated OKE cluster.")
    else:
        compute.emit_virtual_node_pool(stack, ctx, network)
    assert cluster is not None
    who = security.workload_condition(ctx, cluster)

    def scoped(verb: str, where: Expr, condition: str, value: Expr) -> Expr:
        """A grant: compartment-wide in the tenant's own compartment, target-scoped in the pool's."""
        own = own_compartment and where == compartment
        return security.allow(verb, where, who, None if own else (condition, value))

    statements = [scoped("use keys", key_compartment, "target.key.id = '%s'", key)]
    secret_compartment = compartment if layers.silo("database") else pool_output("compartment_id")
    secret = security.emit_secret(stack, ctx, "db_password", secret_compartment, vault, key,
                                  "PostgreSQL password of the tenant's role")
    statements.append(scoped("read secret-bundles", secret_compartment, "target.secret.id = '%s'", secret[0]))
    if layers.silo("database"):
        psql = data.emit_psql(stack, ctx, ctx.sizing.database, compartment=compartment, network=network,
                              secret=secret, offboarding=ctx.offboarding)
        stack.output("psql_db_system_id", psql.id, "The tenant's own PostgreSQL system.")
        stack.output("psql_endpoint", psql.endpoint, "Its private primary endpoint.")
    else:
        stack.output("psql_endpoint", pool_output("psql_endpoint"), "The pool's PostgreSQL endpoint.")
    stack.output("db_secret_id", secret[0], "Vault secret with the tenant's database password.")

    silo_storage = layers.silo("storage")
    bucket_compartment = compartment if silo_storage else pool_output("compartment_id")
    bucket = data.emit_bucket(stack, ctx, "data", compartment=bucket_compartment, key=key,
                              log_group=log_group if silo_storage else pool_output("log_group_id"),
                              offboarding=ctx.offboarding, depends_on=waits)
    stack.output("bucket_name", bucket, "The tenant's bucket.")
    statements.append(scoped("read buckets", bucket_compartment, "target.bucket.name = '%s'", bucket))
    statements.append(scoped("manage objects", bucket_compartment, "target.bucket.name = '%s'", bucket))
    security.emit_tenant_policy(stack, ctx, statements)
