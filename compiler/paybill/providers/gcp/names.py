"""Google Cloud names: the rule per resource kind, and the names each pool and tenant stack claims.

:func:`claim_names` is the one declaration of which names a stack claims and from which parts: resolve
derives them (and reports collisions, PB0601) and the emitter
(:mod:`paybill.emit.terraform.providers.gcp`) reads them by key. Every stack's names start with its
stem (``pb-pool-<pool>`` or ``pb-<tenant>``), so a pool and a tenant never share one; bucket names
also carry the project id, since they are unique across Google Cloud.
"""

from __future__ import annotations

from paybill.clouds.names import NameClaims, NameOwner, NameRule

NAMES = (
    NameRule("gcp-compute", 63),
    # Networks, subnetworks, firewalls, routers, addresses: RFC 1035, 1-63.
    NameRule("gcp-kms-key-ring", 63, alphabet="a-z0-9_-"),
    # Key rings are permanent in Cloud KMS (never deleted), so their names can never be reused.
    NameRule("gcp-kms-crypto-key", 63, alphabet="a-z0-9_-"),
    NameRule("gcp-sql-instance", 63),
    # Lower case, digits, hyphens; ``project:instance`` <= 98 holds for any 30-character project id.
    NameRule("gcp-sql-database", 63, alphabet="a-z0-9_", separator="_"),
    NameRule("gcs-bucket", 63, scope="global"),
    # Globally unique across Google Cloud, 3-63; the project id is part of every derived name.
    NameRule("gcp-service-account", 30, min_len=6),
    NameRule("gke", 40),
    # Clusters and node pools: 1-40.
    NameRule("k8s-namespace", 63),
    # Fleet scopes, namespaces and membership bindings: RFC 1123 labels.
    NameRule("cloud-run-service", 49),
)

_RULES = {rule.label: rule for rule in NAMES}
COMPUTE, KEY_RING, CRYPTO_KEY = _RULES["gcp-compute"], _RULES["gcp-kms-key-ring"], _RULES["gcp-kms-crypto-key"]
SQL_INSTANCE, SQL_DATABASE, BUCKET = _RULES["gcp-sql-instance"], _RULES["gcp-sql-database"], _RULES["gcs-bucket"]
SERVICE_ACCOUNT, GKE, K8S, RUN = (_RULES["gcp-service-account"], _RULES["gke"], _RULES["k8s-namespace"],
                                  _RULES["cloud-run-service"])


def stem(kind: str, name: str) -> tuple[str, ...]:
    """Name parts identifying a stack's owner; pools say so, so a pool and a tenant never share names."""
    return ("pb", "pool", name) if kind == "pool" else ("pb", name)


def _network(claims: NameClaims, stem: tuple[str, ...], region: str, *, gke: bool) -> None:
    claims.add(COMPUTE, stem, purpose="VPC network")
    claims.add(COMPUTE, (*stem, region), region, purpose="subnetwork")
    firewalls = ("allow-internal", "allow-hc", "deny-ingress") if gke else ("allow-internal", "deny-ingress")
    for suffix in firewalls:
        claims.add(COMPUTE, (*stem, suffix), suffix, purpose="firewall")
    claims.add(COMPUTE, (*stem, "router"), "router", purpose="Cloud Router")
    claims.add(COMPUTE, (*stem, "nat"), "nat", purpose="Cloud NAT")
    claims.add(COMPUTE, (*stem, "psa"), "psa", purpose="private services range")


def _buckets(claims: NameClaims, project: str, stem: tuple[str, ...]) -> None:
    claims.add(BUCKET, (project, *stem, "logs"), "logs", purpose="access-log bucket")
    claims.add(BUCKET, (project, *stem, "data"), "data", purpose="data bucket")


def _pool(owner: NameOwner, claims: NameClaims) -> None:
    offered, base, project = owner.layers, stem("pool", owner.name), owner.account["project_id"]
    network = offered.silo("network")
    if network:
        _network(claims, base, owner.region, gke=offered.silo("compute"))
    claims.add(KEY_RING, base, purpose="KMS key ring")
    claims.add(CRYPTO_KEY, (*base, "data"), "data", purpose="KMS key")
    if network and offered.silo("database"):
        claims.add(SQL_INSTANCE, base, purpose="Cloud SQL instance")
    if offered.silo("storage"):
        _buckets(claims, project, base)
    if network and offered.silo("compute"):
        claims.add(SERVICE_ACCOUNT, (*base, "nodes"), "nodes", purpose="GKE node service account")
        claims.add(GKE, base, purpose="GKE cluster")


def _tenant(owner: NameOwner, claims: NameClaims) -> None:
    layers, base, project = owner.layers, stem("tenant", owner.name), owner.account["project_id"]
    if layers.silo("network"):
        _network(claims, base, owner.region, gke=False)
    if layers.silo("keys"):
        claims.add(KEY_RING, base, purpose="KMS key ring")
    claims.add(CRYPTO_KEY, (*base, "data"), "data", purpose="KMS key")
    claims.add(SERVICE_ACCOUNT, base, purpose="tenant service account")
    if layers.silo("database"):
        claims.add(SQL_INSTANCE, base, purpose="Cloud SQL instance")
        claims.add(SQL_DATABASE, ("tenant", owner.name), purpose="tenant database")
    if layers.silo("storage"):
        _buckets(claims, project, base)
    if layers.silo("compute"):
        claims.add(RUN, base, purpose="Cloud Run service")
    if layers.holds_pooled("compute"):
        claims.add(K8S, ("tenant", owner.name), "namespace", purpose="Kubernetes namespace")
        claims.add(K8S, base, purpose="fleet scope")
        if not owner.suspended:
            claims.add(K8S, (*base, "pool"), "pool", purpose="fleet membership binding")


def claim_names(owner: NameOwner, claims: NameClaims) -> None:
    """The names a Google Cloud pool or tenant stack claims, in the order its emitter builds them."""
    (_pool if owner.kind == "pool" else _tenant)(owner, claims)
