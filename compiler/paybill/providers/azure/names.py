"""Azure names: the rule per resource kind, and the names each pool and tenant stack claims.

:func:`claim_names` is the one declaration of which names a stack claims and from which parts: resolve
derives them (and reports collisions, PB0601) and the emitter
(:mod:`paybill.emit.terraform.providers.azure`) reads them by key. Names start with the resource
kind's abbreviation (``rg-``, ``kv-``, ``st``...) and say whose they are (``paybill-pool-<pool>``...).
"""

from __future__ import annotations

from paybill.clouds.names import NameClaims, NameOwner, NameRule
from paybill.providers.kubernetes import NAMESPACE, claim_namespace

NAMES = (
    NameRule("resource-group", 90),
    NameRule("virtual-network", 64),
    NameRule("key-vault", 24, scope="global"),
    # 3-24 letters, digits and hyphens, globally unique (a DNS name under vault.azure.net).
    NameRule("storage-account", 24, alphabet="a-z0-9", separator="", scope="global"),
    # 3-24 lower-case letters and digits only, globally unique.
    NameRule("postgres-flexible-server", 63, scope="global"),
    NameRule("aks-cluster", 63),
    NameRule("user-assigned-identity", 128),
    NameRule("disk-encryption-set", 80),
    NameRule("log-analytics-workspace", 63),
    NameRule("key-vault-key", 127),
    NameRule("storage-container", 63),
    NAMESPACE,
)

_RULES = {rule.label: rule for rule in NAMES}
RESOURCE_GROUP, VNET, KEY_VAULT = _RULES["resource-group"], _RULES["virtual-network"], _RULES["key-vault"]
STORAGE_ACCOUNT, POSTGRES_SERVER = _RULES["storage-account"], _RULES["postgres-flexible-server"]
AKS_CLUSTER, IDENTITY, DISK_ENCRYPTION_SET = (_RULES["aks-cluster"], _RULES["user-assigned-identity"],
                                              _RULES["disk-encryption-set"])
WORKSPACE, KEY, CONTAINER = _RULES["log-analytics-workspace"], _RULES["key-vault-key"], _RULES["storage-container"]
DATA_LAYERS = ("keys", "database", "storage", "compute")
"""A tenant with any of these silo has its own Log Analytics workspace."""


def _global(owner: NameOwner) -> tuple[str, str]:
    """``(p|t, first 4 characters of the subscription id)``: globally unique names (Key Vaults, storage
    accounts) are short, so the kind is one letter, and the subscription keeps them apart per subscription."""
    return ("p" if owner.kind == "pool" else "t"), owner.account["subscription_id"][:4]


def _vault(claims: NameClaims, owner: NameOwner) -> None:
    short, discriminator = _global(owner)
    claims.add(KEY_VAULT, ("kv", short, owner.name, discriminator), purpose="Key Vault")
    claims.add(KEY, ("cmk", owner.kind, owner.name), "cmk", purpose="Key Vault key")
    _encryption_identity(claims, owner)


def _encryption_identity(claims: NameClaims, owner: NameOwner) -> None:
    claims.add(IDENTITY, ("id", "paybill", owner.kind, owner.name, "encryption"), "encryption",
               purpose="encryption identity")


def _server(claims: NameClaims, owner: NameOwner) -> None:
    claims.add(IDENTITY, ("id", "paybill", owner.kind, owner.name, "db-admin"), "db-admin",
               purpose="database admin identity")
    claims.add(POSTGRES_SERVER, ("psql", "paybill", owner.kind, owner.name), purpose="PostgreSQL flexible server")


def _account(claims: NameClaims, owner: NameOwner) -> None:
    short, discriminator = _global(owner)
    claims.add(STORAGE_ACCOUNT, ("st", short, owner.name, discriminator), purpose="storage account")


def _cluster(claims: NameClaims, owner: NameOwner) -> None:
    claims.add(IDENTITY, ("id", "paybill", owner.kind, owner.name, "aks"), "aks", purpose="cluster identity")
    claims.add(DISK_ENCRYPTION_SET, ("des", "paybill", owner.kind, owner.name, "aks"),
               purpose="AKS disk encryption set")
    claims.add(AKS_CLUSTER, ("aks", "paybill", owner.kind, owner.name), purpose="AKS cluster")


def _group(claims: NameClaims, owner: NameOwner) -> None:
    claims.add(RESOURCE_GROUP, ("rg", "paybill", owner.kind, owner.name), purpose="resource group")


def _workspace(claims: NameClaims, owner: NameOwner) -> None:
    claims.add(WORKSPACE, ("log", "paybill", owner.kind, owner.name), purpose="Log Analytics workspace")


def _network(claims: NameClaims, owner: NameOwner) -> None:
    claims.add(VNET, ("vnet", "paybill", owner.kind, owner.name), purpose="virtual network")


def _pool(owner: NameOwner, claims: NameClaims) -> None:
    """A pool stack builds every layer (resource group, workspace, network, vault, server, account, AKS)."""
    _group(claims, owner)
    _workspace(claims, owner)
    _network(claims, owner)
    _vault(claims, owner)
    _server(claims, owner)
    _account(claims, owner)
    _cluster(claims, owner)


def _tenant(owner: NameOwner, claims: NameClaims) -> None:
    layers = owner.layers
    if layers.silo_layers:
        _group(claims, owner)
    if any(layers.silo(layer) for layer in DATA_LAYERS):
        _workspace(claims, owner)
    if layers.silo("network"):
        _network(claims, owner)
    claims.add(IDENTITY, ("id", "paybill", "tenant", owner.name), purpose="workload identity")
    pool_key = ("tenant", owner.name)
    if layers.silo("keys"):
        _vault(claims, owner)
        if layers.keeps_pooled("keys"):
            claims.add(KEY, pool_key, "tenant", purpose="tenant key in the pool vault")
    else:
        claims.add(KEY, pool_key, "tenant", purpose="tenant key in the pool vault")
        if layers.silo("database") or layers.silo("storage"):
            _encryption_identity(claims, owner)
    if layers.silo("database"):
        _server(claims, owner)
    if layers.silo("storage"):
        _account(claims, owner)
    if layers.holds_pooled("storage"):
        claims.add(CONTAINER, ("tenant", owner.name), purpose="storage container in the pool account")
    if layers.silo("compute"):
        _cluster(claims, owner)
    if layers.holds_pooled("compute"):
        claim_namespace(claims, owner.name)


def claim_names(owner: NameOwner, claims: NameClaims) -> None:
    """The names an Azure pool or tenant stack claims, in the order its emitter builds them."""
    (_pool if owner.kind == "pool" else _tenant)(owner, claims)
