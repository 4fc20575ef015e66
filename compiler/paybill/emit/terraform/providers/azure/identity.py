"""Azure identity layer: one user-assigned managed identity per tenant, federated to its pods.

Every tenant's workloads run as their own identity; AKS workload identity exchanges the pod's
service-account token for it through a federated credential that names exactly one issuer (the
cluster its compute runs on) and one subject (``system:serviceaccount:<namespace>:paybill-app``).
Its data-plane rights are role assignments collected from the layers (:attr:`Scope.grants`),
each scoped to the tenant's own key, container or server, never to a whole pool resource.

* identity **silo**: the identity lives in the tenant's resource group.
* identity **pooled**: it lives in the pool's resource group, next to the other tenants' identities
  the pool operator manages; its grants are just as narrow.
* **suspended**: Azure RBAC has no user-defined deny assignment, so denial is by removal: the
  federated credential (no pod can obtain a token) and every role assignment are left out, while
  the identity itself and all data stay.
"""

from __future__ import annotations

from paybill.emit.terraform.expr import ref
from paybill.emit.terraform.providers.azure.common import IDENTITY, Scope, pool_output, role_assignment
from paybill.emit.terraform.providers.kubernetes_tenancy import APP_SERVICE_ACCOUNT


def declare_workload_identity(scope: Scope) -> None:
    tenant = scope.tenant
    assert tenant is not None
    # During a migration the identity stays where the application runs until cut-over (moving it
    # to another resource group replaces it, with a new principal).
    group = scope.resource_group if tenant.layers.active_silo("identity") else pool_output("resource_group_name")
    scope.stack.resource("azurerm_user_assigned_identity", "workload", scope.located({
        "name": scope.claimed(IDENTITY),
    }, resource_group=group))
    scope.workload_identity = {
        attr: ref("azurerm_user_assigned_identity", "workload", attr) for attr in ("id", "principal_id", "client_id")
    }


def finish_tenant_identity(scope: Scope, namespace: str) -> None:
    tenant = scope.tenant
    assert tenant is not None
    if not tenant.suspended:
        scope.stack.resource("azurerm_federated_identity_credential", "app", {
            "name": "paybill-app",
            "user_assigned_identity_id": scope.workload_identity["id"],
            "audience": ["api://AzureADTokenExchange"],
            "issuer": scope.oidc_issuer,
            "subject": f"system:serviceaccount:{namespace}:{APP_SERVICE_ACCOUNT}",
        })
        for local, target, role in _grants(scope):
            role_assignment(scope, local, target, role, scope.workload_identity["principal_id"])
    scope.output("workload_identity_client_id", scope.workload_identity["client_id"],
                 "Client id of the tenant's workload identity (service account annotation)")


def _grants(scope: Scope) -> list[tuple[str, object, str]]:
    """The layers' grants; during a migration also the kept pooled ones, where a kept and a new grant
    share a Terraform address the one of the layer's active placement wins."""
    tenant = scope.tenant
    assert tenant is not None
    grants = {local: (local, target, role) for local, target, role in scope.grants}
    for layer, local, target, role in scope.kept_grants:
        if local not in grants or not tenant.layers.active_silo(layer):
            grants[local] = (local, target, role)
    return list(grants.values())
