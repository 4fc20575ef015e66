"""Google Cloud keys layer: Cloud KMS key rings and rotating symmetric keys, and the grants that let
Google's service agents encrypt with them (Cloud SQL, Cloud Storage, GKE, Compute Engine, Cloud Run
refuse a customer-managed key they cannot use)."""

from __future__ import annotations

from paybill.emit.terraform.expr import Expr
from paybill.emit.terraform.providers.gcp.common import Ctx, declare_project, name, service_agent
from paybill.emit.terraform.providers.gcp.sizing import (
    CRYPTO_KEY_NAME,
    KEY_DESTROY_DELAY,
    KEY_RING_NAME,
    KEY_ROTATION,
)
from paybill.emit.terraform.stack import Stack

ENCRYPTER = "roles/cloudkms.cryptoKeyEncrypterDecrypter"


def emit_key_ring(stack: Stack, ctx: Ctx) -> Expr:
    ring = stack.resource("google_kms_key_ring", "main", {
        "name": name(ctx, KEY_RING_NAME),
        "location": ctx.region,
    })
    return ring.attr("id")


def emit_crypto_key(stack: Stack, ctx: Ctx, local: str, key_ring: Expr, *, hsm: bool) -> Expr:
    """A symmetric key rotated every 90 days; ``hsm`` keeps its versions in Cloud HSM.

    ``prevent_destroy`` like the data stores' deletion protection: erasing a tenant's key (crypto
    shredding) is a deliberate step after offboarding, never a side effect of a plan.
    """
    key = stack.resource("google_kms_crypto_key", local, {
        "name": name(ctx, CRYPTO_KEY_NAME, local),
        "key_ring": key_ring,
        "purpose": "ENCRYPT_DECRYPT",
        "rotation_period": KEY_ROTATION,
        "destroy_scheduled_duration": KEY_DESTROY_DELAY,
        "version_template": {
            "algorithm": "GOOGLE_SYMMETRIC_ENCRYPTION",
            "protection_level": "HSM" if hsm else "SOFTWARE",
        },
        "labels": dict(ctx.tags),
        # Destroying a key makes every backup and object it encrypted unreadable: only deliberately.
        "lifecycle": {"prevent_destroy": True},
    })
    return key.attr("id")


def grant_service_agents(stack: Stack, ctx: Ctx, key: Expr, agents: list[str]) -> dict[str, str]:
    """Let each service agent use ``key``; returns agent -> resource address (for ``depends_on``)."""
    declare_project(stack, ctx)
    addresses = {}
    for agent in agents:
        handle = stack.resource("google_kms_crypto_key_iam_member", f"{agent}_agent", {
            "crypto_key_id": key,
            "role": ENCRYPTER,
            "member": service_agent(agent),
        })
        addresses[agent] = handle.address
    return addresses
