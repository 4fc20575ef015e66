"""The Azure profile: Cloud spec block, state backend, name rules, flexible server major, the azurerm pin.

PostgreSQL: Azure Database for PostgreSQL flexible server runs **18**. 18 started as a preview
(version policy page, learn.microsoft.com/azure/postgresql/configure-maintain/concepts-version-policy:
"25-Sep-2025 (Preview)"); the 2025-08-01 flexible server API adds 17 and 18, Azure Verified Modules
allow 18 since 2025-11, and 18 is reported GA in 2026 (Azure/azure-rest-api-specs#36817).
``azurerm_postgresql_flexible_server.version`` is validated against the enum of the go-azure-sdk API
version the provider release uses, which the schema fixtures do not record: if an azurerm 5.x
release still rejects "18", this is the line to change.

Emitter: :mod:`paybill.emit.terraform.providers.azure`.
"""

from __future__ import annotations

from paybill.clouds.profile import (
    AccountField,
    CloudProfile,
    PostgresService,
    ProviderScope,
    StateBackendUse,
    TerraformProvider,
)
from paybill.providers.azure.force_new import CONDITIONAL, FORCE_NEW
from paybill.providers.azure.names import NAMES, claim_names
from paybill.providers.azure.usage import QUOTA_PLAN
from paybill.providers.kubernetes import KUBERNETES

_UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"

AZURERM = TerraformProvider(
    name="azurerm",
    source="hashicorp/azurerm",
    version="~> 5.0",
    checked_major=5,
    force_new=FORCE_NEW,
    conditional=CONDITIONAL,
    data_stores=frozenset({
        "azurerm_postgresql_flexible_server", "azurerm_postgresql_flexible_server_database",
        "azurerm_storage_account", "azurerm_storage_container", "azurerm_key_vault", "azurerm_key_vault_key",
    }),
    checked="4.x entries checked against the 5.0 upgrade guide (see force_new.py); 5.x resource pages not re-read",
    # azurerm has no provider region: `location` is a resource argument (and forces replacement there).
    scope=ProviderScope(("subscription_id", "tenant_id")),
)
"""hashicorp/azurerm 5.x is the current major (5.0.0 on 2026-07-27; 5.2.0 on 2026-08-20). Three
arguments used here differ from 4.x: ``private_dns_zone_virtual_network_link.private_dns_zone_id``,
``federated_identity_credential.user_assigned_identity_id`` and the now required
``kubernetes_cluster.node_provisioning_profile``."""

PROFILE = CloudProfile(
    provider="azure",
    title="Azure",
    account=(AccountField("subscription_id", _UUID),
             AccountField("tenant_id", _UUID, "Entra ID (Azure AD) directory id.")),
    state_backends=(StateBackendUse("azurerm"),),
    names=NAMES,
    claims=claim_names,
    quota_usage=QUOTA_PLAN,
    postgres=PostgresService("Azure Database for PostgreSQL flexible server", 18),
    terraform=(AZURERM, KUBERNETES),
    emitter="paybill.emit.terraform.providers.azure:AZURE_EMITTER",
    staged_migrations=True,
    # The tenant stack holds its container in the pool's storage account; the pool account (never
    # offboarding) keeps deleted containers 30 days (container_delete_retention_policy).
    pooled_storage_on_delete=(
        "its container in the pool's storage account is deleted with its blobs by the apply once its "
        "retainUntil has passed (restorable for the 30 days the pool account keeps deleted containers)"),
)
