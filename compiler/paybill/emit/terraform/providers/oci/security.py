"""OCI keys and identity layers.

Keys: a Vault (``DEFAULT``, HSM-protected keys) with an AES-256 master key, and the policy that lets
Object Storage, Block Volume and OKE use keys of the compartment (customer-managed encryption fails
without it). Pooled tenants get their own key in the pool's vault.

Identity: compartments are the OCI isolation boundary. A pool and every tenant with silo layers get
their own compartment under the cloud's compartment; policies grant the tenant's workloads (OKE
workload identity: ``request.principal.namespace``/``service_account``/``cluster_id``) access to the
tenant compartment when its identity layer is silo, and only to named targets (its bucket, secret and
key) inside the pool compartment when pooled. A suspended tenant has no policy: nothing can act as it.
"""

from __future__ import annotations

from paybill.emit.terraform.context import TenantContext
from paybill.emit.terraform.expr import Expr, raw
from paybill.emit.terraform.providers.oci.common import Ctx, inner, name, parent_compartment, tags
from paybill.emit.terraform.providers.oci.sizing import (
    DISPLAY_NAME,
    POLICY_NAME,
    SECRET_NAME,
    VAULT_NAME,
    WORKLOAD_KSA,
)
from paybill.emit.terraform.stack import Stack


def emit_vault(stack: Stack, ctx: Ctx, compartment: Expr) -> tuple[Expr, Expr]:
    """(vault id, management endpoint)."""
    vault = stack.resource("oci_kms_vault", "main", {
        "compartment_id": compartment,
        "display_name": name(ctx, VAULT_NAME),
        "vault_type": "DEFAULT",
        "freeform_tags": tags(ctx),
    })
    return vault.attr("id"), vault.attr("management_endpoint")


def emit_key(stack: Stack, ctx: Ctx, compartment: Expr, endpoint: Expr) -> Expr:
    key = stack.resource("oci_kms_key", "data", {
        "compartment_id": compartment,
        "display_name": name(ctx, DISPLAY_NAME, "data"),
        "management_endpoint": endpoint,
        "protection_mode": "HSM",
        "key_shape": {"algorithm": "AES", "length": 32},
        "freeform_tags": tags(ctx),
        # Destroying a key makes everything it encrypted unreadable: only deliberately.
        "lifecycle": {"prevent_destroy": True},
    })
    return key.attr("id")


def emit_service_policy(stack: Stack, ctx: Ctx, compartment: Expr) -> str:
    """Let OCI services encrypt with this compartment's keys and run bucket lifecycle rules."""
    services = (
        f"Allow service objectstorage-{ctx.region} to use keys in compartment id %s",
        f"Allow service objectstorage-{ctx.region} to manage object-family in compartment id %s",
        "Allow service blockstorage, oke to use keys in compartment id %s",
        "Allow any-user to use keys in compartment id %s where request.principal.type = 'cluster'",
    )
    policy = stack.resource("oci_identity_policy", "services", {
        "compartment_id": compartment,
        "name": name(ctx, POLICY_NAME, "services"),
        "description": "Object Storage, Block Volume and OKE may use this compartment's keys.",
        "statements": [raw(f'format("{statement}", {inner(compartment)})') for statement in services],
        "freeform_tags": tags(ctx),
    })
    return policy.address


def emit_secret(stack: Stack, ctx: Ctx, local: str, compartment: Expr, vault: Expr, key: Expr,
                purpose: str) -> tuple[Expr, Expr]:
    """A generated database password kept in the vault: (secret id, current version number)."""
    secret = stack.resource("oci_vault_secret", local, {
        "compartment_id": compartment,
        "vault_id": vault,
        "key_id": key,
        "secret_name": name(ctx, SECRET_NAME, local.replace("_", "-")),
        "description": f"paybill {ctx.address}: {purpose} (generated, never in Terraform state).",
        "enable_auto_generation": True,
        "secret_generation_context": {
            "generation_type": "PASSPHRASE",
            "generation_template": "DBAAS_DEFAULT_PASSWORD",
            "passphrase_length": 32,
        },
        "freeform_tags": tags(ctx),
    })
    return secret.attr("id"), secret.attr("current_version_number")


def workload_condition(ctx: TenantContext, cluster: Expr) -> Expr:
    """Policy condition matching the tenant's workloads (OKE workload identity) on ``cluster``."""
    namespace = f"tenant-{ctx.name}"
    return raw(
        'format("request.principal.type = \'workload\', request.principal.namespace = \'%s\', '
        "request.principal.service_account = '%s', request.principal.cluster_id = '%s'\", "
        f'"{namespace}", "{WORKLOAD_KSA}", {inner(cluster)})'
    )


def emit_tenant_policy(stack: Stack, ctx: TenantContext, statements: list[Expr]) -> None:
    """The tenant's workload policy, attached to the cloud's compartment (the common parent of the pool
    and tenant compartments, so it may name both). Omitted while suspended: the identity is denied."""
    if ctx.suspended or not statements:
        return
    stack.resource("oci_identity_policy", "tenant", {
        "compartment_id": parent_compartment(ctx),
        "name": name(ctx, POLICY_NAME, "workload"),
        "description": f"What tenant {ctx.name}'s workloads may do ({ctx.isolation}).",
        "statements": statements,
        "freeform_tags": tags(ctx),
    })


def allow(verb_resource: str, compartment: Expr, who: Expr, target: tuple[str, Expr] | None = None) -> Expr:
    """``Allow any-user to <verb resource> in compartment id <c> where all {<who>[, <target>]}``.

    ``target`` is a condition with one ``%s`` and the expression filling it (``target.bucket.name``...):
    needed when the compartment is shared with other tenants, pointless in the tenant's own one.
    """
    if target is None:
        return raw(f'format("Allow any-user to {verb_resource} in compartment id %s where all {{%s}}", '
                   f"{inner(compartment)}, {inner(who)})")
    condition, value = target
    return raw(f'format("Allow any-user to {verb_resource} in compartment id %s where all {{%s, {condition}}}", '
               f"{inner(compartment)}, {inner(who)}, {inner(value)})")
