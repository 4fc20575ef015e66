"""Azure quotas that a paybill fleet runs into. Per subscription = per Cloud spec ``azure.subscriptionId``.

The limits were read in the page's source: a rendering of MicrosoftDocs/azure-docs@4260367
``articles/azure-resource-manager/management/azure-subscription-service-limits.md`` with its includes
(subscription and resource group limits), ``includes/role-based-access-control/limits.md`` (RBAC);
``resources-without-resource-group-limit.md`` lists the types exempt from the 800-per-resource-group
limit, and neither ``Microsoft.ManagedIdentity/userAssignedIdentities`` nor ``Microsoft.KeyVault/vaults``
is among them.
"""

from paybill.quotas.model import Quota, Scope

LIMITS = "https://learn.microsoft.com/en-us/azure/azure-resource-manager/management/azure-subscription-service-limits"
PER_TYPE = "per resource group (800 resources of one type per resource group)"

QUOTAS = (
    # Azure resource group limits: "Resources per resource group, per resource type | 800 - Some
    # resource types can exceed the 800 limit" (user-assigned identities are not one of them).
    Quota("userAssignedIdentitiesPerResourceGroup", "azure", ("azurerm_user_assigned_identity",), Scope.REFERENCED,
          800, LIMITS + "#azure-resource-group-limits", True, "user-assigned managed identities",
          reference_attribute="resource_group_name", scope_label=PER_TYPE),
    # Azure RBAC limits: "Azure role assignments per Azure subscription | 4,000"; "The 4000 role
    # assignments limit per subscription is fixed and cannot be increased" (troubleshoot-limits).
    Quota("roleAssignments", "azure", ("azurerm_role_assignment",), Scope.ACCOUNT, 4_000,
          LIMITS + "#azure-rbac-limits", True, "Azure role assignments", scope_label="per subscription"),
    # Azure subscription limits: "Resource groups per subscription | 980".
    Quota("resourceGroups", "azure", ("azurerm_resource_group",), Scope.ACCOUNT, 980,
          LIMITS + "#azure-subscription-limits", True, "resource groups", scope_label="per subscription"),
    # No documented per-subscription or per-region count of key vaults; the limit that applies is the
    # resource group one above (Microsoft.KeyVault/vaults is not exempt), so it is counted per
    # resource group like identities (it was counted per subscription and region before).
    Quota("keyVaults", "azure", ("azurerm_key_vault",), Scope.REFERENCED, 800,
          LIMITS + "#azure-resource-group-limits", True, "key vaults",
          reference_attribute="resource_group_name", scope_label=PER_TYPE),
)
