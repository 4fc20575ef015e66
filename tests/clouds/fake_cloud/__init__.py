"""A minimal sixth cloud, "fake", declared in this one package: its profile and its emitter.

Nothing outside this package knows about it; a test fixture registers :data:`PROFILE` with
:func:`paybill.clouds.registry.register` and unregisters it afterwards. The Terraform provider
``example/fakecloud`` does not exist: the test checks what paybill emits for it (the process boundary
is the written configuration), not what Terraform would do with it.
"""

from __future__ import annotations

from paybill.clouds.checks import MinimumNetwork
from paybill.clouds.names import NameClaims, NameOwner, NameRule
from paybill.clouds.profile import (
    AccountField,
    CloudProfile,
    PostgresService,
    ProviderScope,
    StateBackendUse,
    TerraformProvider,
)

FAKECLOUD = TerraformProvider(
    name="fakecloud",
    source="example/fakecloud",
    version="~> 1.0",
    checked_major=1,
    force_new={"fakecloud_network": ("cidr",), "fakecloud_database": ("name", "engine_version"),
               "fakecloud_bucket": ("name",)},
    data_stores=frozenset({"fakecloud_database", "fakecloud_bucket"}),
    scope=ProviderScope(("account",), ("region",)),
)

NAME, BUCKET = NameRule("fake-name", 20), NameRule("fake-bucket", 24, scope="global")


def claim_names(owner: NameOwner, claims: NameClaims) -> None:
    """A tenant stack claims its database and bucket names (pools claim none)."""
    if owner.kind == "tenant":
        claims.add(NAME, ("pb", owner.name), purpose="database")
        claims.add(BUCKET, ("pb", owner.name, "data"), purpose="bucket")


PROFILE = CloudProfile(
    provider="fake",
    title="Fake Cloud",
    account=(AccountField("account_key", r"^fk-[a-z0-9]{6}$", "The fake account's key."),),
    state_backends=(StateBackendUse("gcs"),),
    names=(NAME, BUCKET),
    claims=claim_names,
    postgres=PostgresService("Fake Managed PostgreSQL", 17),
    terraform=(FAKECLOUD,),
    emitter=f"{__name__}.emitter:FAKE_EMITTER",
    checks=(MinimumNetwork(22, "Fake Cloud", "its databases need a /23 of their own"),),
)
