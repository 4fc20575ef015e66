"""AWS compute layer: EKS. A shared cluster per pool, a dedicated cluster per silo-compute tenant.

Why EKS for both: the application is deployed the same way whatever the isolation model (the
GitOps deployer applies the same manifests to a pool cluster namespace or to a dedicated cluster),
and tenant credentials come from one mechanism, EKS Pod Identity, in both. A silo tenant's
dedicated cluster is the isolation boundary enterprise plans sell ("dedicated infrastructure"); an
ECS service would need a container image and task definition that specs do not carry.

Clusters have a private API endpoint only, secrets envelope-encrypted with the owner's KMS key,
all control-plane log types in a KMS-encrypted log group kept a year, API-only access entries, and
a managed Graviton node group in the private subnets sized from the plan. Suspending a silo tenant
scales its node group to zero (the control plane and every byte of data stay, so resuming is one
apply). A pooled tenant gets a namespace on the pool cluster (:mod:`..kubernetes_tenancy`) and an
EKS Pod Identity association binding its service account to its IAM role.
"""

from __future__ import annotations

from paybill.emit.terraform.expr import Expr, raw, ref
from paybill.emit.terraform.providers.aws.common import (
    EKS_CLUSTER,
    KUBERNETES_VERSION,
    LOG_RETENTION_DAYS,
    NODE_AMI_TYPE,
    NODE_GROUP,
    SIZES,
    Scope,
    policy_document,
    pool_output,
    pool_output_inner,
    statement,
)
from paybill.emit.terraform.providers.aws.identity import service_role
from paybill.emit.terraform.providers.kubernetes_tenancy import (
    APP_SERVICE_ACCOUNT,
    SILO_APP_NAMESPACE,
    emit_tenant_namespace,
)

MANAGED = "arn:aws:iam::aws:policy/"
SERVICE_CIDR = "172.20.0.0/16"
LOG_TYPES = ["api", "audit", "authenticator", "controllerManager", "scheduler"]


def cluster_name(scope: Scope) -> str:
    return scope.claimed(EKS_CLUSTER)


def own_cluster(scope: Scope) -> None:
    assert scope.network is not None and scope.key_arn is not None
    stack = scope.stack
    name = cluster_name(scope)
    cluster_role = service_role(scope, "eks_cluster", "eks.amazonaws.com", [MANAGED + "AmazonEKSClusterPolicy"])
    stack.resource("aws_iam_role_policy", "eks_cluster_kms", {
        "name": "paybill-secrets-encryption",
        "role": cluster_role.attr("name"),
        "policy": policy_document(stack, "eks_cluster_kms", [statement(
            "SecretsEnvelopeEncryption", "Allow",
            ["kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:ListGrants"], [scope.key_arn],
        )]),
    })
    node_role = service_role(scope, "eks_nodes", "ec2.amazonaws.com", [
        MANAGED + "AmazonEKSWorkerNodePolicy",
        MANAGED + "AmazonEKS_CNI_Policy",
        MANAGED + "AmazonEC2ContainerRegistryPullOnly",
    ])
    log_group = stack.resource("aws_cloudwatch_log_group", "eks", {
        "name": f"/aws/eks/{name}/cluster",
        "retention_in_days": LOG_RETENTION_DAYS,
        "kms_key_id": scope.key_arn,
    })
    cluster = stack.resource("aws_eks_cluster", "main", {
        "name": name,
        "role_arn": cluster_role.attr("arn"),
        "version": KUBERNETES_VERSION,
        "vpc_config": {
            "subnet_ids": scope.network.subnet_ids,
            "endpoint_private_access": True,
            "endpoint_public_access": False,
        },
        # Services get addresses outside the cloud's 10.0.0.0/8-style address space and outside every
        # peered VPC (EKS would otherwise pick 10.100.0.0/16 or 172.20.0.0/16 on its own).
        "kubernetes_network_config": {"service_ipv4_cidr": SERVICE_CIDR},
        "encryption_config": {"provider": {"key_arn": scope.key_arn}, "resources": ["secrets"]},
        "enabled_cluster_log_types": LOG_TYPES,
        "access_config": {"authentication_mode": "API", "bootstrap_cluster_creator_admin_permissions": True},
        "upgrade_policy": {"support_type": "STANDARD"},
        "depends_on": [log_group.address, "aws_iam_role_policy_attachment.eks_cluster_0",
                       "aws_iam_role_policy.eks_cluster_kms"],
    })
    stack.resource("aws_eks_addon", "pod_identity_agent", {
        "cluster_name": cluster.attr("name"),
        "addon_name": "eks-pod-identity-agent",
    })
    low, desired, high = SIZES[scope.sizing.compute].nodes
    tenant = scope.tenant
    if tenant is not None and tenant.suspended:
        low, desired = 0, 0  # scaled to zero; the cluster and all data remain
    stack.resource("aws_eks_node_group", "main", {
        "cluster_name": cluster.attr("name"),
        "node_group_name": scope.claimed(NODE_GROUP),
        "node_role_arn": node_role.attr("arn"),
        "subnet_ids": scope.network.subnet_ids,
        "ami_type": NODE_AMI_TYPE,
        "capacity_type": "ON_DEMAND",
        "instance_types": [SIZES[scope.sizing.compute].node_instance_type],
        "disk_size": 50,
        "scaling_config": {"min_size": low, "desired_size": desired, "max_size": high},
        "update_config": {"max_unavailable": 1},
        "depends_on": [f"aws_iam_role_policy_attachment.eks_nodes_{i}" for i in range(3)],
    })
    scope.cluster_name = cluster.attr("name")


def emit_pool_compute(scope: Scope) -> None:
    own_cluster(scope)
    cluster = "aws_eks_cluster"
    scope.output("eks_cluster_name", ref(cluster, "main", "name"), "The pool's EKS cluster")
    scope.output("eks_cluster_arn", ref(cluster, "main", "arn"), "ARN of the pool's EKS cluster")
    scope.output("eks_cluster_endpoint", ref(cluster, "main", "endpoint"), "Private API endpoint of the cluster")
    scope.output("eks_cluster_ca", raw(f"{cluster}.main.certificate_authority[0].data"),
                 "Base64 CA certificate of the cluster API")


def tenant_cluster_arn(scope: Scope) -> Expr:
    tenant = scope.tenant
    assert tenant is not None
    if tenant.layers.active_silo("compute"):
        return ref("aws_eks_cluster", "main", "arn")
    return pool_output("eks_cluster_arn")


def emit_tenant_compute(scope: Scope, namespace: str) -> None:
    tenant = scope.tenant
    assert tenant is not None and scope.role_arn is not None
    stack = scope.stack
    layers = tenant.layers
    if layers.silo("compute"):
        own_cluster(scope)
        if layers.active_silo("compute"):
            stack.resource("aws_eks_pod_identity_association", "app", {
                "cluster_name": scope.cluster_name,
                "namespace": SILO_APP_NAMESPACE,
                "service_account": APP_SERVICE_ACCOUNT,
                "role_arn": scope.role_arn,
            })
        scope.output("eks_cluster_name", scope.cluster_name, "The tenant's dedicated EKS cluster")
        if not layers.keeps_pooled("compute"):
            return
    # Pooled, or the old namespace kept during a migration until decommission. The role is bound to
    # one cluster at a time (one association, one trust policy): the pool's until cut-over.
    auth = stack.data_source("aws_eks_cluster_auth", "pool", {"name": pool_output("eks_cluster_name")})
    ns = emit_tenant_namespace(stack, tenant, {
        "host": pool_output("eks_cluster_endpoint"),
        "cluster_ca_certificate": raw(f"base64decode({pool_output_inner('eks_cluster_ca')})"),
        "token": auth.attr("token"),
    }, sa_annotations={})
    scope.output("namespace", ns.name, "The tenant's namespace on the pool cluster")
    if layers.active_silo("compute"):
        return
    assert ns.name == namespace
    stack.resource("aws_eks_pod_identity_association", "app", {
        "cluster_name": pool_output("eks_cluster_name"),
        "namespace": ns.namespace_ref,
        "service_account": ns.service_account,
        "role_arn": scope.role_arn,
    })
