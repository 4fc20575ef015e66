"""Oracle Cloud Infrastructure emitter (``oracle/oci``).

Per layer, what the pool stack holds / what a silo tenant gets / what a pooled tenant gets:

* (compartments) the pool's compartment / the tenant's own compartment (also for a bridge tenant's
  silo layers) / resources in the pool's compartment.
* network: VCN with private subnets (nodes, pods, database, cluster API; public IPs prohibited), a
  restrictive security list, NSGs, NAT + service gateways, flow logs / its own VCN / the pool's.
* keys: a Vault with an HSM AES-256 key and the service policy for customer-managed encryption / its
  own vault and key / its own key in the pool's vault.
* identity: OKE workload identity policies (:mod:`.security`) / compartment-wide grants in its own
  compartment / grants naming its own key, secret and bucket in the pool compartment.
* database: OCI Database with PostgreSQL in the private database subnet, Vault-generated admin
  password / its own DB system / its role's password as a Vault secret (the role itself is SQL).
* storage: (the pool's namespace) / its own bucket / a bucket of its own in the pool compartment
  (OCI policies cannot scope object prefixes); tenant buckets use the tenant's key.
* compute: enhanced private OKE cluster + node pool / its own cluster / a virtual node pool on the
  shared cluster (why: :mod:`.compute`).

Names and arguments were checked against the provider documentation (``website/docs/r/*``) of the
current major (8.x; 8.0.0 was released on 2026-02-04) and against the oracle/oci 7.19 schema the
conformance test uses: everything emitted exists in both. Identity resources are created through the
stack's region; OCI requires IAM changes in the tenancy's home region, which must therefore be the
region of the stack or be reachable by the provider configuration of the apply tooling.
"""

from __future__ import annotations

from typing import Any

from paybill.emit.terraform.providers.base import StackEmitter
from paybill.emit.terraform.providers.oci.pool import emit_pool
from paybill.emit.terraform.providers.oci.tenant import emit_tenant
from paybill.emit.terraform.stack import Stack
from paybill.providers.oci import OCI


def configure(stack: Stack, cloud: Any, region: str, tags: dict[str, str]) -> None:
    # OCI has no provider-level default tags: every resource carries freeform_tags itself.
    stack.required_providers["oci"] = OCI.required()
    stack.provider("oci", {"region": region, "tenancy_ocid": cloud.spec.oci.tenancy_ocid})


OCI_EMITTER = StackEmitter("oci", configure, emit_pool, emit_tenant)
