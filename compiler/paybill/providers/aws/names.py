"""AWS names: the rule per resource kind, and the names each pool and tenant stack claims.

:func:`claim_names` is the one declaration of which names a stack claims and from which parts: resolve
derives them (and reports collisions, PB0601) and the emitter
(:mod:`paybill.emit.terraform.providers.aws`) reads them by key. Every stack's names start with
``paybill-pool-<pool>`` or ``paybill-tenant-<tenant>`` (KMS aliases with ``alias/``).
"""

from __future__ import annotations

from paybill.clouds.names import NameClaims, NameOwner, NameRule
from paybill.providers.kubernetes import NAMESPACE, claim_namespace

NAMES = (
    NameRule("s3-bucket", 63, scope="global"),
    # 3-63 lower-case letters, digits, hyphens; globally unique, so the account id is part of it.
    NameRule("s3-access-point", 50),
    NameRule("rds-identifier", 63),
    # RDS identifiers: 1-63 letters, digits, hyphens, starting with a letter (also used for groups).
    NameRule("iam-role", 64),
    NameRule("iam-policy", 128),
    NameRule("kms-alias", 200, alphabet="a-z0-9/_-", separator="/"),
    NameRule("eks-cluster", 100),
    NameRule("eks-node-group", 63),
    NameRule("kms-grant", 256),
    NameRule("aws-name", 255),
    # Security groups, subnet groups and other names only unique within the account and region.
    NAMESPACE,
)

_RULES = {rule.label: rule for rule in NAMES}
BUCKET, ACCESS_POINT, DB_IDENTIFIER = _RULES["s3-bucket"], _RULES["s3-access-point"], _RULES["rds-identifier"]
IAM_ROLE, IAM_POLICY, KMS_ALIAS = _RULES["iam-role"], _RULES["iam-policy"], _RULES["kms-alias"]
EKS_CLUSTER, NODE_GROUP, KMS_GRANT = _RULES["eks-cluster"], _RULES["eks-node-group"], _RULES["kms-grant"]
GENERIC = _RULES["aws-name"]


def _buckets(claims: NameClaims, owner: NameOwner, base: tuple[str, ...], local: str, purpose: str) -> None:
    """S3 bucket names are unique across AWS, so they carry the account id."""
    claims.add(BUCKET, ("paybill", *base, owner.account["account_id"], local), local, purpose=purpose)


def _database(claims: NameClaims, base: tuple[str, ...]) -> None:
    claims.add(DB_IDENTIFIER, ("paybill", *base), purpose="RDS instance")
    claims.add(GENERIC, ("paybill", *base, "database"), "database", purpose="database security group")
    claims.add(IAM_ROLE, ("paybill", *base, "rds-monitoring"), "rds-monitoring", purpose="RDS enhanced monitoring role")


def _cluster(claims: NameClaims, base: tuple[str, ...]) -> None:
    claims.add(EKS_CLUSTER, ("paybill", *base), purpose="EKS cluster")
    claims.add(IAM_ROLE, ("paybill", *base, "eks-cluster"), "eks-cluster", purpose="EKS cluster role")
    claims.add(IAM_ROLE, ("paybill", *base, "eks-nodes"), "eks-nodes", purpose="EKS node role")
    claims.add(NODE_GROUP, ("paybill", *base), purpose="EKS node group")


def _endpoints(claims: NameClaims, base: tuple[str, ...]) -> None:
    claims.add(GENERIC, ("paybill", *base, "endpoints"), "endpoints", purpose="VPC endpoint security group")


def _key(claims: NameClaims, base: tuple[str, ...]) -> None:
    claims.add(KMS_ALIAS, ("alias", "paybill", *base), purpose="KMS alias")


def _pool(owner: NameOwner, claims: NameClaims) -> None:
    """A pool stack builds every layer (log bucket, network, key, boundary, database, bucket, EKS)."""
    base = ("pool", owner.name)
    _buckets(claims, owner, base, "logs", "log bucket")
    _endpoints(claims, base)
    _key(claims, base)
    claims.add(IAM_POLICY, ("paybill", "pool", owner.name, "tenant-boundary"), purpose="tenant permissions boundary")
    _database(claims, base)
    _buckets(claims, owner, base, "data", "data bucket")
    _cluster(claims, base)


def _tenant(owner: NameOwner, claims: NameClaims) -> None:
    layers, base, grant = owner.layers, ("tenant", owner.name), not owner.suspended
    if layers.silo("network") or layers.silo("storage"):
        _buckets(claims, owner, base, "logs", "log bucket")
    if layers.silo("network") and layers.silo("compute"):
        _endpoints(claims, base)
    if not layers.active_silo("compute") or layers.holds_pooled("compute"):
        claim_namespace(claims, owner.name)
    claims.add(IAM_ROLE, ("paybill", "tenant", owner.name), purpose="tenant IAM role")
    if layers.silo("keys"):
        _key(claims, base)
        grant = grant and layers.keeps_pooled("keys")
    if grant:
        claims.add(KMS_GRANT, ("paybill", "tenant", owner.name), purpose="KMS grant")
    if layers.silo("database"):
        _database(claims, base)
    if layers.silo("storage"):
        _buckets(claims, owner, base, "data", "data bucket")
    if layers.holds_pooled("storage"):
        claims.add(ACCESS_POINT, ("paybill", owner.name), purpose="S3 access point")
    if layers.silo("compute"):
        _cluster(claims, base)


def claim_names(owner: NameOwner, claims: NameClaims) -> None:
    """The names an AWS pool or tenant stack claims, in the order its emitter builds them."""
    (_pool if owner.kind == "pool" else _tenant)(owner, claims)
