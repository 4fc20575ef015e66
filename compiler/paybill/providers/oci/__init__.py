"""The Oracle Cloud profile: Cloud spec block, state backend, name rules, PostgreSQL major, the oci pin.

PostgreSQL: OCI Database with PostgreSQL runs **16**; the service does not (as far as its
documentation shows) offer 18. Its documentation (docs.oracle.com/iaas/Content/postgresql: overview,
supported extensions, major version upgrade guide) names no major beyond 16 that could be confirmed,
so the newest confirmed major stays. Revisit when Oracle announces 17 or 18 for the service.

Capabilities: database and compute must share a network when the tenant has its own (PB0651; OCI
would need local peering paybill does not generate), and a pool's database and cluster need its
network (PB0652).

Emitter: :mod:`paybill.emit.terraform.providers.oci`.
"""

from __future__ import annotations

from paybill.clouds.checks import ColocatedDatabaseAndCompute, PoolNeedsNetwork
from paybill.clouds.profile import (
    AccountField,
    CloudProfile,
    PostgresService,
    ProviderScope,
    StateBackendUse,
    TerraformProvider,
)
from paybill.providers.oci.force_new import FORCE_NEW
from paybill.providers.oci.names import NAMES, claim_names
from paybill.providers.oci.usage import QUOTA_PLAN

_OCID = r"^ocid1\.[a-z0-9]+\.[a-z0-9-]*\.[a-z0-9-]*\.[a-z0-9]+$"

OCI = TerraformProvider(
    name="oci",
    source="oracle/oci",
    version="~> 8.0",
    checked_major=8,
    force_new=FORCE_NEW,
    data_stores=frozenset({"oci_psql_db_system", "oci_objectstorage_bucket", "oci_kms_key", "oci_kms_vault"}),
    checked="every entry re-read in the 8.x resource schemas (ForceNew in internal/service/<service>/*_resource.go, "
            "plus the cluster's endpoint_config.subnet_id CustomizeDiff) at oracle/terraform-provider-oci v8.28.0 "
            "(8de3c480b4bf); see force_new.py for what changed",
    # OCI: identity (compartments, policies) lives in the home region and is the same from every region.
    scope=ProviderScope(("tenancy_ocid",), ("region",), (),
                        frozenset(t for t in FORCE_NEW if t.startswith("oci_identity_"))),
)
"""oracle/oci 8.x is the current major (8.0.0 was released on 2026-02-04)."""

PROFILE = CloudProfile(
    provider="oci",
    title="Oracle Cloud",
    account=(AccountField("tenancy_ocid", _OCID), AccountField("compartment_ocid", _OCID)),
    state_backends=(StateBackendUse("oci"),),
    names=NAMES,
    claims=claim_names,
    quota_usage=QUOTA_PLAN,
    postgres=PostgresService("OCI Database with PostgreSQL", 16),
    terraform=(OCI,),
    emitter="paybill.emit.terraform.providers.oci:OCI_EMITTER",
    checks=(PoolNeedsNetwork(), ColocatedDatabaseAndCompute()),
    # Object Storage policies name buckets, not prefixes: the tenant stack holds a bucket of its own in
    # the pool's compartment, which the provider cannot empty.
    pooled_storage_on_delete=(
        "its bucket in the pool's compartment is not emptied by the apply: once its retainUntil has passed "
        "the destroy fails, and the stack stays pending, until someone empties that bucket"),
)
