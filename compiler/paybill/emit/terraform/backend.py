"""Terraform state backends and remote-state reads, from a Cloud spec.

State keys are a pure function of the stack address (``tenant/acme-corp``), so a stack's state
never moves when other specs change, and tenant stacks can find their pool's state.
"""

from __future__ import annotations

from typing import Any

from paybill.models.cloud import AzurermBackend, GcsBackend, OciBackend, S3Backend


def _s3_config(backend: S3Backend, address: str) -> dict[str, Any]:
    config: dict[str, Any] = {
        "bucket": backend.bucket,
        "key": f"{backend.key_prefix}/{address}/terraform.tfstate",
        "region": backend.region,
        "encrypt": True,
        "use_lockfile": True,
    }
    if backend.endpoint is not None:
        # IBM Cloud Object Storage through its S3-compatible API.
        config.update(
            {
                "endpoints": {"s3": backend.endpoint},
                "skip_credentials_validation": True,
                "skip_region_validation": True,
                "skip_requesting_account_id": True,
                "skip_metadata_api_check": True,
                "skip_s3_checksum": True,
                "use_path_style": True,
            }
        )
    return config


def backend_config(backend: Any, address: str) -> tuple[str, dict[str, Any]]:
    """(backend type, its configuration) for the stack at ``address``."""
    if isinstance(backend, S3Backend):
        return "s3", _s3_config(backend, address)
    if isinstance(backend, AzurermBackend):
        return "azurerm", {
            "resource_group_name": backend.resource_group_name,
            "storage_account_name": backend.storage_account_name,
            "container_name": backend.container_name,
            "key": f"paybill/{address}.tfstate",
            "use_azuread_auth": True,
        }
    if isinstance(backend, GcsBackend):
        return "gcs", {"bucket": backend.bucket, "prefix": f"{backend.prefix}/{address}"}
    if isinstance(backend, OciBackend):
        return "oci", {
            "bucket": backend.bucket,
            "namespace": backend.namespace,
            "region": backend.region,
            "key": f"paybill/{address}/terraform.tfstate",
        }
    raise TypeError(f"unsupported backend {type(backend).__name__}")  # pragma: no cover - models are closed


def backend_block(backend: Any, address: str) -> dict[str, Any]:
    """The ``terraform.backend`` block."""
    kind, config = backend_config(backend, address)
    return {kind: config}


def remote_state_body(backend: Any, address: str) -> dict[str, Any]:
    """The body of a ``terraform_remote_state`` data source reading the stack at ``address``."""
    kind, config = backend_config(backend, address)
    return {"backend": kind, "config": config}
