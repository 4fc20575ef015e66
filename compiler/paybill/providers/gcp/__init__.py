"""The Google Cloud profile: Cloud spec block, state backend, name rules, Cloud SQL major, the google pin.

PostgreSQL: Cloud SQL for PostgreSQL runs **18**. The Cloud SQL Admin API's ``SqlDatabaseVersion``
(v1 and v1beta4, cloud.google.com/sql/docs/postgres/admin-api/rest/v1/SqlDatabaseVersion) has
``POSTGRES_18``; Cloud SQL supports a new major within 90 days of its community GA (db-versions
page). It is also the only PostgreSQL value checkov's CKV_GCP_79 accepts.

Capabilities: a dedicated network is split in two halves, one reserved for Cloud SQL private
services access (a /24 or larger), so it must be a /23 or larger (PB0650); peering is not transitive,
so database and compute share a network (PB0651) and a pool's database and cluster need its network
(PB0652).

Emitter: :mod:`paybill.emit.terraform.providers.gcp`.
"""

from __future__ import annotations

from paybill.clouds.checks import ColocatedDatabaseAndCompute, MinimumNetwork, PoolNeedsNetwork
from paybill.clouds.profile import (
    AccountField,
    CloudProfile,
    FixedInMigration,
    PostgresService,
    ProviderScope,
    StateBackendUse,
    TerraformProvider,
)
from paybill.providers.gcp.force_new import CONDITIONAL, FORCE_NEW
from paybill.providers.gcp.names import NAMES, claim_names
from paybill.providers.gcp.usage import QUOTA_PLAN

PSA_MIN_PREFIX = 24
"""Cloud SQL private services access needs a /24 or larger range."""

_LOCATION_ARGUMENTS = ("location", "region", "zone")

GOOGLE = TerraformProvider(
    name="google",
    source="hashicorp/google",
    version="~> 8.0",
    checked_major=8,
    force_new=FORCE_NEW,
    data_stores=frozenset({"google_sql_database_instance", "google_sql_database", "google_storage_bucket",
                           "google_kms_crypto_key"}),
    checked="every entry re-read in the 8.0 resource schemas (ForceNew in google/services/<service>/resource_*.go, "
            "node_config.go, tpgiamresource/resource_iam_member.go and the iam_*.go parent schemas) at "
            "hashicorp/terraform-provider-google e03b7622a26c (main right after the 8.0.0 feature-branch merge); "
            "see force_new.py for what changed; the conditional ForceNews (CustomizeDiff) in CONDITIONAL were read "
            "in the 8.x resource files named by each rule's source",
    # google: region and zone are only defaults for resources that take a location argument and leave it
    # unset; global resources (networks, service accounts, IAM members) and children of a located parent
    # (a key in a key ring, a database in an instance) have no location argument at all.
    scope=ProviderScope(("project",), ("region", "zone"), _LOCATION_ARGUMENTS,
                        frozenset(t for t, a in FORCE_NEW.items() if not set(_LOCATION_ARGUMENTS) & set(a))),
    conditional=CONDITIONAL,
)
"""hashicorp/google 8.x is the current major (8.0.0 was released on 2026-08-26)."""

PROFILE = CloudProfile(
    provider="gcp",
    title="Google Cloud",
    account=(AccountField("project_id", r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$"),),
    state_backends=(StateBackendUse("gcs"),),
    names=NAMES,
    postgres=PostgresService("Cloud SQL for PostgreSQL", 18),
    terraform=(GOOGLE,),
    emitter="paybill.emit.terraform.providers.gcp:GCP_EMITTER",
    checks=(
        PoolNeedsNetwork(),
        ColocatedDatabaseAndCompute(),
        MinimumNetwork(PSA_MIN_PREFIX - 1, "Google Cloud",
                       "half of it is reserved for Cloud SQL private services access, which needs a "
                       f"/{PSA_MIN_PREFIX} or larger"),
    ),
    claims=claim_names,
    quota_usage=QUOTA_PLAN,
    staged_migrations=True,
    # A Google Cloud tenant always has its own crypto key; ``keys: pooled`` only places it in the
    # pool's key ring. Moving it to a ring of its own replaces the key at the same Terraform address,
    # and Cloud KMS keys are never deleted, only their versions destroyed.
    fixed_in_migration=(FixedInMigration(
        "keys", "the tenant's crypto key would be replaced while data is still wrapped with it",
        "keep 'keys: pooled' in the target (model: bridge): the tenant's key in the pool's key ring is "
        "already its own key"),),
    # The tenant stack holds only an IAM member on the pool bucket, conditioned on the prefix.
    pooled_storage_on_delete=(
        "its objects under tenants/{tenant}/ in the pool's Cloud Storage bucket stay: the apply (once its "
        "retainUntil has passed) removes only its IAM grant on that prefix, and nothing deletes the prefix"),
)
