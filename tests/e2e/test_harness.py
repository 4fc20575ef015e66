"""The story's own instruments: a check that cannot see a protection would pass any decommission."""

from __future__ import annotations

from e2e.harness import protections, stack_backend, walk

LIVE = {  # the shapes paybill emits for a silo tenant's data stores (AWS database, GCP key)
    "terraform": {"backend": {"s3": {"bucket": "b", "key": "paybill/tenant/t/terraform.tfstate"}}},
    "resource": {
        "aws_db_instance": {"main": {"deletion_protection": True, "skip_final_snapshot": False}},
        "google_kms_crypto_key": {"data": {"lifecycle": {"prevent_destroy": True}}},
        "google_sql_database_instance": {"main": {"settings": [{"deletion_protection_enabled": True}]}},
        "azurerm_key_vault": {"main": {"purge_protection_enabled": True}},
    },
}


def test_protections_finds_every_kind_of_destroy_guard() -> None:
    assert protections(LIVE) == [
        "resource.aws_db_instance.main.deletion_protection",
        "resource.google_kms_crypto_key.data.lifecycle.prevent_destroy",
        "resource.google_sql_database_instance.main.settings[0].deletion_protection_enabled",
    ]


def test_lifted_protections_are_not_reported() -> None:
    lifted = {"resource": {"aws_db_instance": {"main": {"deletion_protection": False}},
                           "google_kms_crypto_key": {"data": {"lifecycle": {"prevent_destroy": False}}}}}
    assert protections(lifted) == []


def test_walk_and_backend() -> None:
    assert ("terraform.backend.s3.bucket", "b") in list(walk(LIVE))
    assert stack_backend(LIVE) == {"s3": {"bucket": "b", "key": "paybill/tenant/t/terraform.tfstate"}}
