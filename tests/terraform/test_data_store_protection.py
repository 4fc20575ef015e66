"""Every data store in a live stack is protected against being destroyed by Terraform itself.

Why a test across clouds: a replacement (a ForceNew change, or a provider's own diff, such as
azurerm replacing a Flexible Server whose auto-grown storage exceeds ``storage_mb``) destroys and
re-creates a store with no spec change a reviewer could catch. Each store type must therefore carry
a protection that makes that destroy fail or keeps the data recoverable. Each cloud protects
differently, so the table below names, per data-store type of the profiles, how; a new data-store
type without an entry fails here. Decommission configurations lift these protections
(``test_decommission.py``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from paybill.clouds import registry

ROOT = Path(__file__).resolve().parents[2]
LIVE = sorted((ROOT / "generated" / "terraform").glob("*/*/main.tf.json"))

Body = dict[str, Any]


def prevent_destroy(body: Body) -> bool:
    return (body.get("lifecycle") or {}).get("prevent_destroy") is True


PROTECTION: dict[str, tuple[str, Callable[[Body], bool]]] = {
    "aws_db_instance": ("deletion_protection", lambda b: b.get("deletion_protection") is True),
    "aws_kms_key": ("a deletion window: a destroyed key is recoverable for 7-30 days",
                    lambda b: 7 <= int(b.get("deletion_window_in_days", 0)) <= 30),
    "aws_s3_bucket": ("no force_destroy: deleting a non-empty bucket fails",
                      lambda b: b.get("force_destroy") is not True),
    "azurerm_postgresql_flexible_server": ("prevent_destroy (Terraform deletes the lock first when replacing)",
                                           prevent_destroy),
    "azurerm_storage_account": ("prevent_destroy", prevent_destroy),
    "azurerm_key_vault": ("prevent_destroy, and purge protection", lambda b: prevent_destroy(b)
                          and b.get("purge_protection_enabled") is True),
    "azurerm_key_vault_key": ("its vault's purge protection: a deleted key is recoverable", lambda b: True),
    "azurerm_postgresql_flexible_server_database": ("the server's CanNotDelete lock, inherited by child resources",
                                                    lambda b: True),
    "azurerm_storage_container": ("the storage account's CanNotDelete lock, inherited", lambda b: True),
    "google_sql_database_instance": ("deletion_protection (Terraform) and deletion_protection_enabled (API)",
                                     lambda b: b.get("deletion_protection") is True
                                     and (b.get("settings") or {}).get("deletion_protection_enabled") is True),
    "google_sql_database": ("deletion_policy ABANDON: destroying it never drops the database",
                            lambda b: b.get("deletion_policy") == "ABANDON"),
    "google_storage_bucket": ("no force_destroy: deleting a non-empty bucket fails",
                              lambda b: b.get("force_destroy") is not True),
    "google_kms_crypto_key": ("prevent_destroy", prevent_destroy),
    "ibm_database": ("deletion_protection", lambda b: b.get("deletion_protection") is True),
    "ibm_cos_bucket": ("prevent_destroy", prevent_destroy),
    "ibm_kms_key": ("prevent_destroy", prevent_destroy),
    "oci_psql_db_system": ("prevent_destroy", prevent_destroy),
    "oci_objectstorage_bucket": ("prevent_destroy", prevent_destroy),
    "oci_kms_key": ("prevent_destroy", prevent_destroy),
    "oci_kms_vault": ("OCI schedules a vault's deletion (7-30 days pending), recoverable", lambda b: True),
}


def data_store_types() -> set[str]:
    return {t for provider in registry.terraform_providers().values() for t in provider.data_stores}


def test_every_data_store_type_has_a_protection_rule() -> None:
    assert data_store_types() - set(PROTECTION) == set(), "say how a new data-store type is protected"


def test_every_data_store_in_a_live_stack_is_protected() -> None:
    stores = data_store_types()
    unprotected, seen = [], set()
    for path in LIVE:
        resources = json.loads(path.read_text(encoding="utf-8")).get("resource", {})
        for type_, block in resources.items():
            if type_ not in stores:
                continue
            seen.add(type_)
            how, check = PROTECTION[type_]
            unprotected += [f"{path.parent.relative_to(ROOT)}: {type_}.{name} lacks {how}"
                            for name, body in block.items() if not check(body)]
    assert unprotected == []
    assert {"azurerm_postgresql_flexible_server", "aws_db_instance", "google_sql_database_instance",
            "ibm_database", "oci_psql_db_system"} <= seen, "the example specs emit every cloud's database"
