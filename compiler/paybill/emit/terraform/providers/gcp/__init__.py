"""Google Cloud emitter (``hashicorp/google``).

Per layer, what the pool stack holds / what a silo tenant gets / what a pooled tenant gets:

* network: custom VPC, private subnetwork (flow logs, private Google access, GKE secondary ranges),
  firewalls (internal allow, logged deny-all), Cloud NAT, private services access range + peering /
  the same, its own / the pool's subnetwork.
* keys: Cloud KMS key ring + HSM data key, service-agent grants / its own key ring and key (HSM with
  the ``customer-managed-keys`` feature) / its own key in the pool's key ring.
* identity: the project's Workload Identity pool / a service account / a service account whose grants
  on pooled resources carry IAM conditions (see :mod:`.identity`).
* database: Cloud SQL for PostgreSQL, private IP only, TLS with client certificates, IAM database
  authentication, PITR, CMEK, deletion protection / its own instance and database / a database in
  the pool instance, its IAM user limited to that instance.
* storage: data bucket + access-log bucket (uniform access, public access prevention enforced,
  versioning, CMEK, soft delete) / its own buckets / the prefix ``tenants/<tenant>/`` of the pool
  bucket through an IAM condition.
* compute: private regional GKE cluster + node pool in the fleet / a Cloud Run service / a fleet
  namespace on the shared cluster + Workload Identity binding (why: :mod:`.compute`).

Names and arguments were checked against the provider documentation (``website/docs/r/*``) of the
current major (8.x; 8.0.0 was released on 2026-08-26) and against the google 6.50 schema the
conformance test uses: everything emitted exists in both.
"""

from __future__ import annotations

from typing import Any

from paybill.emit.terraform.providers.base import StackEmitter
from paybill.emit.terraform.providers.gcp.pool import emit_pool
from paybill.emit.terraform.providers.gcp.tenant import emit_tenant
from paybill.emit.terraform.stack import Stack
from paybill.providers.gcp import GOOGLE


def configure(stack: Stack, cloud: Any, region: str, tags: dict[str, str]) -> None:
    stack.required_providers["google"] = GOOGLE.required()
    stack.provider("google", {
        "project": cloud.spec.gcp.project_id,
        "region": region,
        # Labels on every resource that takes them, on top of the explicit ones.
        "default_labels": dict(tags),
        "add_terraform_attribution_label": True,
    })


GCP_EMITTER = StackEmitter("gcp", configure, emit_pool, emit_tenant)
