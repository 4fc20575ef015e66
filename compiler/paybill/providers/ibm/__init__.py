"""The IBM Cloud profile: Cloud spec block, state backend, name rules, PostgreSQL major, the ibm pin.

PostgreSQL: IBM Cloud Databases for PostgreSQL runs **17**; the service does not offer 18. The Cloud
Databases versioning policy (cloud.ibm.com/docs/cloud-databases?topic=cloud-databases-versioning-policy,
classic and Gen 2) names v17 as the preferred major (v16 and "v17 (Preview)" in 2025-03); 18 is not
listed.

State: Terraform's ``s3`` backend against Cloud Object Storage's S3-compatible endpoint.

Capabilities: database and compute must share a network when the tenant has its own (PB0651; IBM
Cloud would need virtual private endpoints paybill does not generate), and a pool's database and
cluster need its network (PB0652).

Emitter: :mod:`paybill.emit.terraform.providers.ibm`.
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
from paybill.providers.ibm.force_new import CONDITIONAL, FORCE_NEW
from paybill.providers.ibm.names import NAMES, claim_names
from paybill.providers.ibm.usage import QUOTA_PLAN

IBM = TerraformProvider(
    name="ibm",
    source="IBM-Cloud/ibm",
    version="~> 2.0",
    checked_major=2,
    force_new=FORCE_NEW,
    conditional=CONDITIONAL,
    data_stores=frozenset({"ibm_database", "ibm_cos_bucket", "ibm_kms_key"}),
    checked="every entry re-read in the 2.x resource schemas (ForceNew in ibm/service/<service>/resource_ibm_*.go, "
            "schema keys resolved through the package constants) at IBM-Cloud/terraform-provider-ibm v2.5.0 "
            "(9f9b7ecfc432); see force_new.py for what changed",
    # IBM: the account comes from the API key (not in the configuration); VPC and cluster resources are
    # regional, IAM and resource groups are account-wide, and service instances, databases, COS buckets
    # and Key Protect keys carry their own location or belong to a located service instance.
    scope=ProviderScope((), ("region",), ("location", "region_location", "cross_region_location",
                                          "single_site_location"),
                        frozenset(t for t in FORCE_NEW if not t.startswith(("ibm_is_", "ibm_container_")))),
)
"""IBM-Cloud/ibm 2.x is the current major (2.0.0, 2026-03-30, changed no configuration)."""

PROFILE = CloudProfile(
    provider="ibm",
    title="IBM Cloud",
    account=(AccountField("account_id", r"^[0-9a-f]{32}$"), AccountField("resource_group_id", r"^[0-9a-f]{32}$")),
    state_backends=(StateBackendUse(
        "s3", "required", "IBM Cloud state lives in Cloud Object Storage: the s3 backend needs 'endpoint'",
        "e.g. endpoint: https://s3.us-south.cloud-object-storage.appdomain.cloud"),),
    names=NAMES,
    claims=claim_names,
    quota_usage=QUOTA_PLAN,
    postgres=PostgresService("IBM Cloud Databases for PostgreSQL", 17),
    terraform=(IBM,),
    emitter="paybill.emit.terraform.providers.ibm:IBM_EMITTER",
    checks=(PoolNeedsNetwork(), ColocatedDatabaseAndCompute()),
    # COS policies name buckets: the tenant stack holds a bucket of its own in the pool's instance,
    # made deletable with its objects (force_delete) by the decommission configuration.
    pooled_storage_on_delete=(
        "its bucket in the pool's Object Storage instance is deleted with its objects (force_delete) by the "
        "apply once its retainUntil has passed"),
)
