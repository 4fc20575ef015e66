"""IBM Cloud names: the rule per resource kind, and the names each pool and tenant stack claims.

:func:`claim_names` is the one declaration of which names a stack claims and from which parts: resolve
derives them (and reports collisions, PB0601) and the emitter
(:mod:`paybill.emit.terraform.providers.ibm`) reads them by key. Every stack's names start with its
stem (``pb-pool-<pool>`` or ``pb-<tenant>``), so a pool and a tenant never share one.
"""

from __future__ import annotations

from paybill.clouds.names import NameClaims, NameOwner, NameRule

NAMES = (
    NameRule("ibm-resource-group", 40),
    NameRule("ibm-vpc", 63),
    # VPC infrastructure names (VPCs, subnets, security groups, flow logs): lower case, digits, hyphens.
    NameRule("ibm-resource-instance", 180),
    NameRule("ibm-cluster", 32),
    NameRule("ibm-worker-pool", 32),
    NameRule("ibm-kms-key", 90),
    NameRule("ibm-cos-bucket", 63, scope="global", must_start_with_letter=False),
    # Globally unique across IBM Cloud, 3-63: the account id's prefix is part of every derived name.
    NameRule("ibm-iam", 100),
)

_RULES = {rule.label: rule for rule in NAMES}
RESOURCE_GROUP, VPC, INSTANCE = _RULES["ibm-resource-group"], _RULES["ibm-vpc"], _RULES["ibm-resource-instance"]
CLUSTER, WORKER_POOL, KEY = _RULES["ibm-cluster"], _RULES["ibm-worker-pool"], _RULES["ibm-kms-key"]
BUCKET, IAM = _RULES["ibm-cos-bucket"], _RULES["ibm-iam"]
ZONES = 3
"""Zones every network spans (``<region>-1`` ... ``<region>-3``)."""


def stem(kind: str, name: str) -> tuple[str, ...]:
    """Name parts identifying a stack's owner; pools say so, so a pool and a tenant never share names."""
    return ("pb", "pool", name) if kind == "pool" else ("pb", name)


def _add(claims: NameClaims, rule: NameRule, stem: tuple[str, ...], *suffix: str, purpose: str) -> None:
    claims.add(rule, (*stem, *suffix), *suffix, purpose=purpose)


def _bucket(claims: NameClaims, owner: NameOwner, stem: tuple[str, ...], local: str) -> None:
    """A COS bucket: unique across IBM Cloud, so its name ends with the account id's first 8 characters."""
    claims.add(BUCKET, (*stem, local, owner.account["account_id"][:8]), local, purpose="COS bucket")


def _network(claims: NameClaims, owner: NameOwner, stem: tuple[str, ...], *, flow_logs: bool) -> None:
    _add(claims, VPC, stem, purpose="VPC")
    _add(claims, VPC, stem, "default-sg", purpose="default security group")
    _add(claims, VPC, stem, "default-acl", purpose="default ACL")
    _add(claims, VPC, stem, "default-rt", purpose="default routing table")
    for zone in (f"{owner.region}-{i}" for i in range(1, ZONES + 1)):
        _add(claims, VPC, stem, zone, purpose="address prefix")
        _add(claims, VPC, stem, zone, purpose="subnet")
    _add(claims, VPC, stem, "app", purpose="security group")
    if flow_logs:
        _add(claims, VPC, stem, "flow", purpose="flow log")


def _pool(owner: NameOwner, claims: NameClaims) -> None:
    offered, base = owner.layers, stem("pool", owner.name)
    network = offered.silo("network")
    _add(claims, RESOURCE_GROUP, base, purpose="pool resource group")
    _add(claims, INSTANCE, base, "kms", purpose="Key Protect instance")
    _add(claims, KEY, base, "data", purpose="root key")
    if offered.silo("storage") or network:
        _add(claims, INSTANCE, base, "cos", purpose="Cloud Object Storage instance")
    if network:
        _bucket(claims, owner, base, "flowlogs")
        _network(claims, owner, base, flow_logs=True)
    if network and offered.silo("database"):
        _add(claims, INSTANCE, base, "postgres", purpose="Databases for PostgreSQL")
    if network and offered.silo("compute"):
        _add(claims, CLUSTER, base, purpose="Kubernetes cluster")


def _tenant(owner: NameOwner, claims: NameClaims) -> None:
    layers, base = owner.layers, stem("tenant", owner.name)
    if layers.silo_layers:
        _add(claims, RESOURCE_GROUP, base, purpose="tenant resource group")
        _add(claims, IAM, base, "operators", purpose="operators access group")
    if layers.silo("keys"):
        _add(claims, INSTANCE, base, "kms", purpose="Key Protect instance")
    _add(claims, KEY, base, "data", purpose="root key")
    _add(claims, IAM, base, "workload", purpose="tenant service ID")
    own_storage = layers.silo("storage")
    if own_storage:
        _add(claims, INSTANCE, base, "cos", purpose="Cloud Object Storage instance")
    if layers.silo("network"):
        if own_storage:
            _bucket(claims, owner, base, "flowlogs")
        _network(claims, owner, base, flow_logs=own_storage or "network" in owner.pool_offers)
    if layers.silo("database"):
        _add(claims, INSTANCE, base, "postgres", purpose="Databases for PostgreSQL")
    _bucket(claims, owner, base, "data")
    if layers.silo("compute"):
        _add(claims, CLUSTER, base, purpose="Kubernetes cluster")
    if not owner.suspended:
        _add(claims, WORKER_POOL, base, purpose="tenant worker pool")


def claim_names(owner: NameOwner, claims: NameClaims) -> None:
    """The names an IBM Cloud pool or tenant stack claims, in the order its emitter builds them."""
    (_pool if owner.kind == "pool" else _tenant)(owner, claims)
