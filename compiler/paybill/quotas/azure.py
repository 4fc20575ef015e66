"""Azure quotas that a paybill fleet runs into. Per subscription = per Cloud spec ``azure.subscriptionId``."""

from paybill.quotas.model import Quota, Scope

LIMITS = "https://learn.microsoft.com/en-us/azure/azure-resource-manager/management/azure-subscription-service-limits"

QUOTAS = (
    Quota("userAssignedIdentitiesPerResourceGroup", "azure", ("azurerm_user_assigned_identity",), Scope.REFERENCED,
          800, LIMITS + "#resource-group-limits", False, "user-assigned managed identities",
          reference_attribute="resource_group_name",
          scope_label="per resource group (800 resources of one type per resource group)"),
    Quota("roleAssignments", "azure", ("azurerm_role_assignment",), Scope.ACCOUNT, 4_000,
          LIMITS + "#azure-rbac-limits", False, "Azure role assignments", scope_label="per subscription"),
    Quota("resourceGroups", "azure", ("azurerm_resource_group",), Scope.ACCOUNT, 980,
          LIMITS + "#subscription-limits", False, "resource groups", scope_label="per subscription"),
    Quota("keyVaults", "azure", ("azurerm_key_vault",), Scope.REGION, 800,
          LIMITS + "#resource-group-limits", False, "key vaults",
          scope_label="per subscription and region (counted like resources of one type)"),
)
