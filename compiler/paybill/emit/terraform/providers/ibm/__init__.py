"""IBM Cloud emitter (``IBM-Cloud/ibm``).

Per layer, what the pool stack holds / what a silo tenant gets / what a pooled tenant gets:

* (resource groups) the pool's / the tenant's own (any silo layer), with an operators access group /
  the pool's.
* network: VPC with manual address prefixes, a private subnet per zone, no public gateway, default
  security group and ACL emptied, an application security group, flow logs to COS / its own VPC
  (flow logs into the pool's flow-log bucket when the pool has a network) / the pool's VPC.
* keys: Key Protect instance (private endpoint), rotating root key, service-to-service
  authorizations / its own instance and key / its own root key in the pool's instance.
* identity: (none shared) / a service ID whose policies name the tenant's bucket and key / the same.
* database: Databases for PostgreSQL, private endpoint, key and backup encryption with the owner's
  key, deletion protection / its own deployment / the pool's deployment (database and role in SQL).
* storage: COS instance (+ flow-log bucket) / its own instance and bucket / a bucket of its own in
  the pool's instance; tenant buckets use the tenant's key.
* compute: private VPC Kubernetes cluster / its own cluster + tenant worker pool / a tenant worker
  pool on the shared cluster (why: :mod:`.compute`).

Where the names come from: no prebuilt schema package exists for IBM-Cloud/ibm (the CDK for
Terraform packages cover AWS, Azure, Google and, from the community, OCI), so every resource type and
argument emitted here was taken from the provider's own documentation, ``website/docs/r/<type>
.html.markdown`` of IBM-Cloud/terraform-provider-ibm at v2.5.0 (2026-08-05): is_vpc,
is_vpc_address_prefix, is_subnet, is_security_group, is_security_group_rule, is_flow_log,
resource_group, resource_instance, kms_key, kms_key_policies, iam_authorization_policy,
iam_service_id, iam_service_policy, iam_access_group, iam_access_group_policy, database, cos_bucket,
container_vpc_cluster, container_vpc_worker_pool. The conformance test checks every emitted argument
against ``tests/fixtures/provider_schemas/ibm.json`` (read from the same tag's Go schemas).
Deprecated arguments were avoided (``ibm_kms_key.policies`` -> ``ibm_kms_key_policies``). The
provider's current major is 2 (2.0.0, 2026-03-30, changed no configuration).
"""

from __future__ import annotations

from typing import Any

from paybill.emit.terraform.providers.base import StackEmitter
from paybill.emit.terraform.providers.ibm.pool import emit_pool
from paybill.emit.terraform.providers.ibm.tenant import emit_tenant
from paybill.emit.terraform.stack import Stack
from paybill.providers.ibm import IBM


def configure(stack: Stack, cloud: Any, region: str, tags: dict[str, str]) -> None:
    # The provider has no default tags: every taggable resource carries ``tags`` itself.
    stack.required_providers["ibm"] = IBM.required()
    stack.provider("ibm", {"region": region})


IBM_EMITTER = StackEmitter("ibm", configure, emit_pool, emit_tenant)
