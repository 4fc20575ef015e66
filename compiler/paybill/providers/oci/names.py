"""Oracle Cloud names: the rule per resource kind, and the names each pool and tenant stack claims.

:func:`claim_names` is the one declaration of which names a stack claims and from which parts: resolve
derives them (and reports collisions, PB0601) and the emitter
(:mod:`paybill.emit.terraform.providers.oci`) reads them by key. Every stack's names start with
its stem (``pb-pool-<pool>`` or ``pb-<tenant>``), so a pool and a tenant never share one.
"""

from __future__ import annotations

from paybill.clouds.names import NameClaims, NameOwner, NameRule

NAMES = (
    NameRule("oci-compartment", 100, alphabet="a-z0-9_.-"),
    # Unique among siblings in the parent compartment; kept forever after deletion (renamed by OCI).
    NameRule("oci-display-name", 100),
    NameRule("oci-dns-label", 15, min_len=1, alphabet="a-z0-9", separator=""),
    # VCN DNS labels: letters and digits, start with a letter, 1-15.
    NameRule("oci-bucket", 256, alphabet="a-z0-9_.-", scope="global"),
    # Unique in the tenancy's Object Storage namespace; letters, digits, '-', '_', '.'.
    NameRule("oci-policy", 100, alphabet="a-z0-9_.-"),
    # IAM names are unique across the whole tenancy.
    NameRule("oci-secret", 255, alphabet="a-z0-9_.-"),
    NameRule("oci-vault", 100),
    NameRule("oke-name", 63),
)

_RULES = {rule.label: rule for rule in NAMES}
COMPARTMENT, DISPLAY, DNS_LABEL = _RULES["oci-compartment"], _RULES["oci-display-name"], _RULES["oci-dns-label"]
BUCKET, POLICY, SECRET = _RULES["oci-bucket"], _RULES["oci-policy"], _RULES["oci-secret"]
VAULT, OKE = _RULES["oci-vault"], _RULES["oke-name"]
SUBNETS = ("nodes", "pods", "db", "api")
"""The subnets of every network, in the order the emitter builds them."""


def stem(kind: str, name: str) -> tuple[str, ...]:
    """Name parts identifying a stack's owner; pools say so, so a pool and a tenant never share names."""
    return ("pb", "pool", name) if kind == "pool" else ("pb", name)


def _add(claims: NameClaims, rule: NameRule, stem: tuple[str, ...], *suffix: str, purpose: str) -> None:
    claims.add(rule, (*stem, *suffix), *suffix, purpose=purpose)


def _network(claims: NameClaims, stem: tuple[str, ...]) -> None:
    _add(claims, DISPLAY, stem, purpose="VCN")
    _add(claims, DNS_LABEL, stem, purpose="VCN DNS label")
    _add(claims, DISPLAY, stem, "nat", purpose="NAT gateway")
    _add(claims, DISPLAY, stem, "sgw", purpose="service gateway")
    _add(claims, DISPLAY, stem, "private", purpose="route table")
    _add(claims, DISPLAY, stem, "private", purpose="security list")
    for role in SUBNETS:
        _add(claims, DISPLAY, stem, role, purpose=f"{role} subnet")
        _add(claims, DISPLAY, stem, role, "flow", purpose="flow log")
    _add(claims, DISPLAY, stem, "app", purpose="application NSG")
    _add(claims, DISPLAY, stem, "db", purpose="database NSG")


def _cluster(claims: NameClaims, stem: tuple[str, ...]) -> None:
    _add(claims, OKE, stem, purpose="OKE cluster")
    _add(claims, OKE, stem, "nodes", purpose="OKE node pool")


def _pool(owner: NameOwner, claims: NameClaims) -> None:
    offered, base = owner.layers, stem("pool", owner.name)
    _add(claims, COMPARTMENT, base, purpose="pool compartment")
    _add(claims, DISPLAY, base, "logs", purpose="log group")
    _add(claims, VAULT, base, purpose="vault")
    _add(claims, DISPLAY, base, "data", purpose="master encryption key")
    _add(claims, POLICY, base, "services", purpose="service policy")
    network = offered.silo("network")
    if network:
        _network(claims, base)
    if network and offered.silo("database"):
        _add(claims, SECRET, base, "db-admin", purpose="PostgreSQL admin password")
        _add(claims, DISPLAY, base, "postgres", purpose="PostgreSQL DB system")
    if network and offered.silo("compute"):
        _cluster(claims, base)


def _tenant(owner: NameOwner, claims: NameClaims) -> None:
    layers, base = owner.layers, stem("tenant", owner.name)
    own_compartment = bool(layers.silo_layers)
    if own_compartment:
        _add(claims, COMPARTMENT, base, purpose="tenant compartment")
        _add(claims, DISPLAY, base, "logs", purpose="log group")
    if layers.silo("network"):
        _network(claims, base)
    if layers.silo("keys"):
        _add(claims, VAULT, base, purpose="vault")
    if layers.silo("keys") or own_compartment:
        _add(claims, POLICY, base, "services", purpose="service policy")
    _add(claims, DISPLAY, base, "data", purpose="master encryption key")
    if layers.silo("compute"):
        _cluster(claims, base)
    elif not owner.suspended:
        _add(claims, DISPLAY, base, "vnodes", purpose="virtual node pool")
    _add(claims, SECRET, base, "db-password", purpose="PostgreSQL password of the tenant's role")
    if layers.silo("database"):
        _add(claims, DISPLAY, base, "postgres", purpose="PostgreSQL DB system")
    _add(claims, BUCKET, base, "data", purpose="bucket")
    _add(claims, DISPLAY, base, "data", "read", purpose="bucket log")
    _add(claims, DISPLAY, base, "data", "write", purpose="bucket log")
    if not owner.suspended:
        _add(claims, POLICY, base, "workload", purpose="tenant workload policy")


def claim_names(owner: NameOwner, claims: NameClaims) -> None:
    """The names an OCI pool or tenant stack claims, in the order its emitter builds them."""
    (_pool if owner.kind == "pool" else _tenant)(owner, claims)
