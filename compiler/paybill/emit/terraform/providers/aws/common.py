"""What every AWS layer module shares: the provider pin, name rules, the sizing table, the stack scope.

The :class:`Scope` is one stack being built (a pool's or a tenant's) plus the facts layers hand to
each other (the VPC a database goes into, the key a bucket is encrypted with, the IAM statements the
tenant role needs). Layers run in a fixed order and only read facts set by earlier layers, so the
data flow between layers is explicit instead of guessed from resource names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from paybill.clouds.names import NameRule
from paybill.emit.terraform.context import PoolContext, TenantContext, cloud_spec
from paybill.emit.terraform.expr import Expr, ref
from paybill.emit.terraform.postgres_versions import postgres_major
from paybill.emit.terraform.remote import pool_output as pool_output  # re-exported for the layer modules
from paybill.emit.terraform.stack import Stack
from paybill.models.cloud import spec_model
from paybill.models.plan import Sizing
from paybill.providers.aws import AWS, PROFILE

AwsCloudSpec = spec_model("aws")
"""This cloud's spec model, built from its profile."""

AWS_PROVIDER = AWS.required()
"""The pin, from the AWS profile (:mod:`paybill.providers.aws`)."""

POSTGRES_MAJOR = str(postgres_major("aws"))
"""RDS ``engine_version``: the major only, so RDS picks its newest minor (and upgrades minors itself)."""
POSTGRES_FAMILY = f"postgres{POSTGRES_MAJOR}"
"""The DB parameter group family of that major."""
KUBERNETES_VERSION = "1.35"
LOG_RETENTION_DAYS = 365

# --- names (AWS limits) -------------------------------------------------------------------------
# declared (with their limits) by the AWS profile
BUCKET = PROFILE.name_rule("s3-bucket")
ACCESS_POINT = PROFILE.name_rule("s3-access-point")
DB_IDENTIFIER = PROFILE.name_rule("rds-identifier")
IAM_ROLE = PROFILE.name_rule("iam-role")
IAM_POLICY = PROFILE.name_rule("iam-policy")
KMS_ALIAS = PROFILE.name_rule("kms-alias")
EKS_CLUSTER = PROFILE.name_rule("eks-cluster")
NODE_GROUP = PROFILE.name_rule("eks-node-group")
KMS_GRANT = PROFILE.name_rule("kms-grant")
GENERIC = PROFILE.name_rule("aws-name")


@dataclass(frozen=True, slots=True)
class AwsSize:
    """One row of the sizing table."""

    db_instance_class: str
    node_instance_type: str
    nodes: tuple[int, int, int]
    """EKS managed node group (min, desired, max)."""
    performance_insights: bool
    """Performance Insights is not offered on the smallest burstable classes."""


# The ONE table mapping abstract sizes to AWS SKUs (Graviton throughout: same price/performance
# story for database and nodes; node groups use the matching AL2023 ARM AMI type).
SIZES: dict[str, AwsSize] = {
    "xsmall": AwsSize("db.t4g.micro", "t4g.medium", (1, 1, 2), False),
    "small": AwsSize("db.t4g.medium", "m7g.large", (1, 2, 3), True),
    "medium": AwsSize("db.m7g.large", "m7g.xlarge", (2, 2, 4), True),
    "large": AwsSize("db.r7g.xlarge", "m7g.2xlarge", (2, 3, 6), True),
    "xlarge": AwsSize("db.r7g.2xlarge", "m7g.4xlarge", (3, 4, 10), True),
}
NODE_AMI_TYPE = "AL2023_ARM_64_STANDARD"


@dataclass(frozen=True, slots=True)
class Network:
    """Where a stack's networked resources go (its own VPC, or the pool's read from pool outputs)."""

    vpc_id: Expr
    cidr: Any
    """A literal CIDR (own VPC) or an expression (pool output)."""
    subnet_ids: Any
    """A list of expressions (own subnets) or one expression yielding a list (pool output)."""
    route_table_id: Expr
    own: bool


@dataclass
class Scope:
    """One AWS stack under construction and the facts its layers share."""

    stack: Stack
    owner: PoolContext | TenantContext
    kind: str  # "pool" | "tenant"
    sizing: Sizing
    network: Network | None = None
    key_arn: Expr | None = None
    """The customer managed key encrypting this stack's data (own key, or the pool's)."""
    log_bucket: Expr | None = None
    """Bucket id receiving S3 access logs and VPC flow logs (created with the stack's own VPC/bucket)."""
    log_bucket_arn: Expr | None = None
    compute_cidrs: list[Any] = field(default_factory=list)
    """CIDRs the application pods run in; databases admit PostgreSQL from these only."""
    compute_vpc_id: Expr | None = None
    statements: list[dict[str, Any]] = field(default_factory=list)
    """IAM statements the tenant's role gets (tenant stacks)."""
    cluster_name: Any = None
    role_name: Expr | None = None
    role_arn: Expr | None = None

    @property
    def name(self) -> str:
        return self.owner.name

    @property
    def account_id(self) -> str:
        return cloud_spec(self.owner.cloud, AwsCloudSpec).aws.account_id

    @property
    def region(self) -> str:
        return self.owner.region

    @property
    def tenant(self) -> TenantContext | None:
        return self.owner if isinstance(self.owner, TenantContext) else None

    def silo(self, layer: str) -> bool:
        """Whether this stack owns ``layer``'s dedicated resources (pools own all their layers)."""
        tenant = self.tenant
        return tenant is None or tenant.layers.silo(layer)

    def claimed(self, rule: NameRule, *key: str) -> str:
        """The name the stack claimed under ``(rule, *key)`` (declared by :mod:`paybill.providers.aws.names`)."""
        return self.owner.claimed(rule, *key)

    def add_statement(self, body: dict[str, Any]) -> None:
        """Add a statement to the tenant role's policy. During a migration the kept (pooled) access
        and the new (silo) access can grant under the same sid; IAM requires unique sids, so a
        repeated one gets a number (only migrating tenants ever have one)."""
        sids = {existing["sid"] for existing in self.statements}
        sid, n = body["sid"], 2
        while sid in sids:
            sid, n = f"{body['sid']}{n}", n + 1
        self.statements.append({**body, "sid": sid})

    def base_parts(self) -> tuple[str, str]:
        """``("pool"|"tenant", name)``: the stem of every derived name."""
        return (self.kind, self.name)

    def output(self, name: str, value: Any, description: str, *, sensitive: bool = False) -> None:
        self.stack.output(name, value, description, sensitive=sensitive)


def statement(sid: str, effect: str, actions: list[str], resources: list[Any] | None, *,
              principals: list[dict[str, Any]] | None = None,
              conditions: list[tuple[str, str, list[Any]]] | None = None) -> dict[str, Any]:
    """One ``statement`` block of an ``aws_iam_policy_document`` data source (``resources=None`` for
    trust policies, which name no resource)."""
    body: dict[str, Any] = {"sid": sid, "effect": effect, "actions": actions}
    if resources is not None:
        body["resources"] = resources
    if principals:
        body["principals"] = principals
    if conditions:
        body["condition"] = [{"test": t, "variable": v, "values": vals} for t, v, vals in conditions]
    return body


def policy_document(stack: Stack, name: str, statements: list[dict[str, Any]]) -> Expr:
    """Declare an ``aws_iam_policy_document`` and return its rendered JSON.

    Building policies with the data source (instead of hand-made JSON strings) lets statements mix
    literal text and resource references; IAM policy variables such as
    ``${aws:PrincipalTag/x}`` stay literal because the stack escapes every non-expression string.
    """
    handle = stack.data_source("aws_iam_policy_document", name, {"statement": statements})
    return handle.attr("json")


def service_principal(service: str) -> dict[str, Any]:
    return {"type": "Service", "identifiers": [service]}


def account_root(account_id: str) -> dict[str, Any]:
    return {"type": "AWS", "identifiers": [f"arn:aws:iam::{account_id}:root"]}


def pool_output_inner(name: str) -> str:
    """The bare expression of :func:`pool_output`, to wrap in a function call with ``raw()``."""
    return pool_output(name)[2:-1]


def data_ref(type_: str, name: str, *attrs: str) -> Expr:
    return ref("data", type_, name, *attrs)
