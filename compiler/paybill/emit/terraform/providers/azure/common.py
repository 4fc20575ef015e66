"""What every Azure layer module shares: the provider pin, name rules, the sizing table, the scope.

The :class:`Scope` is one stack being built plus the facts layers hand to each other (resource
group, subnets, private DNS zones, the customer managed key and the identity that unwraps it, the
workspace diagnostics go to, the role assignments the tenant identity gets). Layers run in a fixed
order (see ``__init__``) and only read facts set by earlier ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from paybill.clouds.names import NameRule
from paybill.emit.terraform.context import PoolContext, TenantContext, cloud_spec
from paybill.emit.terraform.expr import Expr, ref
from paybill.emit.terraform.postgres_versions import postgres_major
from paybill.emit.terraform.remote import pool_output as pool_output  # re-exported for the layer modules
from paybill.emit.terraform.stack import ResourceHandle, Stack
from paybill.models.cloud import spec_model
from paybill.models.plan import Sizing
from paybill.providers.azure import AZURERM, PROFILE

AzureCloudSpec = spec_model("azure")
"""This cloud's spec model, built from its profile."""

AZURERM_PROVIDER = AZURERM.required()
"""The pin, from the Azure profile (:mod:`paybill.providers.azure`)."""

POSTGRES_VERSION = str(postgres_major("azure"))
"""Flexible server ``version`` (the major from :mod:`paybill.emit.terraform.postgres_versions`)."""
KUBERNETES_VERSION = "1.35"
LOG_RETENTION_DAYS = 365
AKS_SERVER_APP_ID = "6dae42f8-4368-4678-94ff-3960e28e3630"
"""The Entra ID application every AKS cluster with Entra integration accepts tokens for."""

# --- names (Azure limits) -----------------------------------------------------------------------
# declared (with their limits) by the Azure profile
RESOURCE_GROUP = PROFILE.name_rule("resource-group")
VNET = PROFILE.name_rule("virtual-network")
KEY_VAULT = PROFILE.name_rule("key-vault")
STORAGE_ACCOUNT = PROFILE.name_rule("storage-account")
POSTGRES_SERVER = PROFILE.name_rule("postgres-flexible-server")
AKS_CLUSTER = PROFILE.name_rule("aks-cluster")
IDENTITY = PROFILE.name_rule("user-assigned-identity")
DISK_ENCRYPTION_SET = PROFILE.name_rule("disk-encryption-set")
WORKSPACE = PROFILE.name_rule("log-analytics-workspace")
KEY = PROFILE.name_rule("key-vault-key")
CONTAINER = PROFILE.name_rule("storage-container")


@dataclass(frozen=True, slots=True)
class AzureSize:
    """One row of the sizing table."""

    postgres_sku: str
    postgres_ha_sku: str
    """Zone-redundant HA is not offered on Burstable SKUs; HA plans get this General Purpose SKU."""
    node_vm_size: str
    """Workload nodes: Ddsv5 sizes, which have a local temp disk to hold an ephemeral OS disk."""
    node_os_disk_gb: int
    """Ephemeral OS disk of a workload node; must fit the size's temp disk (:data:`NODE_TEMP_DISK_GB`)."""
    nodes: tuple[int, int, int]
    """Workload node pool (min, desired, max)."""


# The ONE table mapping abstract sizes to Azure SKUs.
SIZES: dict[str, AzureSize] = {
    "xsmall": AzureSize("B_Standard_B1ms", "GP_Standard_D2ds_v5", "Standard_D2ds_v5", 64, (1, 1, 2)),
    "small": AzureSize("B_Standard_B2s", "GP_Standard_D2ds_v5", "Standard_D4ds_v5", 128, (1, 2, 3)),
    "medium": AzureSize("GP_Standard_D2ds_v5", "GP_Standard_D2ds_v5", "Standard_D8ds_v5", 128, (2, 2, 4)),
    "large": AzureSize("GP_Standard_D4ds_v5", "GP_Standard_D4ds_v5", "Standard_D16ds_v5", 128, (2, 3, 6)),
    "xlarge": AzureSize("MO_Standard_E8ds_v5", "MO_Standard_E8ds_v5", "Standard_D32ds_v5", 128, (3, 4, 10)),
}
SYSTEM_NODE_VM_SIZE = "Standard_D2ds_v5"
SYSTEM_NODE_OS_DISK_GB = 64
NODE_TEMP_DISK_GB: dict[str, int] = {
    "Standard_D2ds_v5": 75,
    "Standard_D4ds_v5": 150,
    "Standard_D8ds_v5": 300,
    "Standard_D16ds_v5": 600,
    "Standard_D32ds_v5": 1200,
}
"""Temp storage (SSD) of the node sizes, from the Ddv5/Ddsv5-series page (learn.microsoft.com/azure/
virtual-machines/ddv5-ddsv5-series). Ddsv5 has no cache disk, so AKS places an ephemeral OS disk on
this temp ("resource") disk, and the OS disk must not be larger than it. Nodes hold no state (pods
keep data in the databases and buckets), so a node's OS disk need not outlive its VM: ephemeral
disks cost nothing extra, reimage faster and never leave a copy of the node's disk in Azure Storage."""
POSTGRES_STORAGE_MB = (32768, 65536, 131072, 262144, 524288, 1048576, 2097152, 4194304, 8388608, 16777216,
                       33553408)
"""The storage sizes a flexible server accepts; the plan's GB are rounded up to the next one."""


def postgres_storage_mb(gb: int) -> int:
    wanted = gb * 1024
    return next((mb for mb in POSTGRES_STORAGE_MB if mb >= wanted), POSTGRES_STORAGE_MB[-1])


@dataclass(frozen=True, slots=True)
class Network:
    vnet_id: Any
    cidr: Any
    aks_subnet_id: Any
    postgres_subnet_id: Any
    endpoints_subnet_id: Any
    own: bool


@dataclass(frozen=True, slots=True)
class Zones:
    """Private DNS zones (ids) the stack's private endpoints and servers register in."""

    postgres: Any
    blob: Any
    vault: Any


@dataclass
class Scope:
    stack: Stack
    owner: PoolContext | TenantContext
    kind: str
    sizing: Sizing
    resource_group: Any = None
    """Name of the stack's own resource group (tenants: only when a layer is silo)."""
    network: Network | None = None
    zones: Zones | None = None
    workspace_id: Any = None
    cmk_key_id: Any = None
    """Versionless id (key URL) of the key encrypting this stack's own data stores and node disks."""
    cmk_key_resource_id: Any = None
    """Versionless ARM id of that key: the scope of role assignments on it."""
    cmk_identity_id: Any = None
    workload_identity: dict[str, Any] = field(default_factory=dict)
    """``id``, ``principal_id``, ``client_id`` of the tenant's workload identity."""
    grants: list[tuple[str, Any, str]] = field(default_factory=list)
    kept_grants: list[tuple[str, str, Any, str]] = field(default_factory=list)
    """(layer, local, target, role): grants of the pooled access kept during a migration. A role
    assignment has one Terraform address per ``local``; where the kept and the new grant share one,
    the grant follows the layer's active placement (the pool's until cut-over)."""
    """(local name, scope, role) the tenant workload identity gets; dropped while suspended."""
    oidc_issuer: Any = None

    @property
    def name(self) -> str:
        return self.owner.name

    @property
    def location(self) -> str:
        return self.owner.region

    @property
    def tags(self) -> dict[str, str]:
        return dict(self.owner.tags)

    @property
    def azure(self) -> Any:
        return cloud_spec(self.owner.cloud, AzureCloudSpec).azure

    @property
    def tenant(self) -> TenantContext | None:
        return self.owner if isinstance(self.owner, TenantContext) else None

    @property
    def short_kind(self) -> str:
        return "p" if self.kind == "pool" else "t"

    @property
    def discriminator(self) -> str:
        """Four characters of the subscription id: globally unique names stay unique per subscription."""
        return self.azure.subscription_id[:4]

    def silo(self, layer: str) -> bool:
        tenant = self.tenant
        return tenant is None or tenant.layers.silo(layer)

    def claimed(self, rule: NameRule, *key: str) -> str:
        """The name the stack claimed under ``(rule, *key)`` (declared by :mod:`paybill.providers.azure.names`)."""
        return self.owner.claimed(rule, *key)

    def located(self, body: dict[str, Any], resource_group: Any = None) -> dict[str, Any]:
        """``body`` with location, resource group and the paybill tags (every taggable resource)."""
        return {
            **body,
            "location": self.location,
            "resource_group_name": resource_group if resource_group is not None else self.resource_group,
            "tags": self.tags,
        }

    def output(self, name: str, value: Any, description: str, *, sensitive: bool = False) -> None:
        self.stack.output(name, value, description, sensitive=sensitive)


def pool_output_inner(name: str) -> str:
    return pool_output(name)[2:-1]


def role_assignment(scope: Scope, local: str, target: Any, role: str, principal_id: Any,
                    principal_type: str = "ServicePrincipal") -> None:
    scope.stack.resource("azurerm_role_assignment", local, {
        "scope": target,
        "role_definition_name": role,
        "principal_id": principal_id,
        "principal_type": principal_type,
    })


def diagnostics(scope: Scope, local: str, target: Any, *, log_groups: list[str] | None = None,
                log_categories: list[str] | None = None, metrics: bool = True) -> None:
    """Send a resource's logs (and metrics) to the stack's Log Analytics workspace."""
    if scope.workspace_id is None:
        return
    body: dict[str, Any] = {
        "name": "paybill-diagnostics",
        "target_resource_id": target,
        "log_analytics_workspace_id": scope.workspace_id,
    }
    logs = [{"category_group": g} for g in (log_groups or [])] + [{"category": c} for c in (log_categories or [])]
    if logs:
        body["enabled_log"] = logs
    if metrics:
        body["enabled_metric"] = [{"category": "AllMetrics"}]
    scope.stack.resource("azurerm_monitor_diagnostic_setting", local, body)


def delete_lock(scope: Scope, local: str, store: ResourceHandle, what: str) -> None:
    """Azure's deletion protection for a data store: a ``CanNotDelete`` management lock, and
    ``prevent_destroy`` on the store itself.

    Why both: the lock refuses deletes from outside Terraform (portal, CLI, another tool), but when
    Terraform *replaces* the store (a ForceNew change, or the Flexible Server whose auto-grown storage
    now exceeds ``storage_mb``: azurerm then plans a replacement without any spec change) it destroys
    the lock first, as a dependent of the store, and then the data. ``prevent_destroy`` makes that
    plan fail instead, like the other clouds' ``deletion_protection``. Decommission configurations
    drop it (:mod:`paybill.emit.terraform.decommission`)."""
    body = scope.stack.resources[store.type][store.name]
    body["lifecycle"] = {**body.get("lifecycle", {}), "prevent_destroy": True}
    scope.stack.resource("azurerm_management_lock", local, {
        "name": "paybill-do-not-delete",
        "scope": store.attr("id"),
        "lock_level": "CanNotDelete",
        "notes": f"paybill: {what} holds tenant data; remove the lock only after export (offboarding).",
    })


def client_config(scope: Scope) -> Expr:
    """Object id of the principal running Terraform (it needs data-plane roles it grants itself)."""
    stack = scope.stack
    if "azurerm_client_config" not in stack.data:
        stack.data_source("azurerm_client_config", "current", {})
    return ref("data", "azurerm_client_config", "current", "object_id")
