"""Decommission configurations: what ``terraform destroy`` runs on a deleted tenant's stack.

A live stack protects its data stores (``deletion_protection``, ``lifecycle.prevent_destroy``), so
destroying it from its own configuration is refused, by design. When a tenant becomes ``deleted``
its stack leaves ``terraform/tenant/<t>/`` and compile writes instead
``terraform/removed/tenant/<t>/main.tf.json``:

* the stack the tenant last had while live (it is rebuilt as ``offboarding``, the only state that
  may precede ``deleted``), so every resource address, the state backend and key, the provider
  configuration and the tags are the ones in the state that ``terraform destroy`` reads;
* every ``prevent_destroy`` dropped, every ``deletion_protection`` lifted, and per cloud what keeps
  a copy: an RDS final snapshot with automated backups kept (``skip_final_snapshot = false``,
  ``final_snapshot_identifier``, ``delete_automated_backups = false``), Cloud SQL
  ``retain_backups_on_delete``; Azure's ``CanNotDelete`` locks are resources of the stack, which a
  destroy deletes before the store they scope (Terraform destroys dependents first);
* buckets made deletable with their content (``force_destroy`` on S3 and Cloud Storage,
  ``force_delete`` on IBM COS; Azure deletes a storage account with its data; the OCI provider has
  no such argument and refuses a non-empty bucket, so the destroy fails loudly there and the stack
  stays pending until the bucket is emptied).

Buckets have no snapshot, so when their content may go is a date question: ``retainUntil`` is the
tenant's ``lifecycleSince`` plus the plan's ``backupRetentionDays``. Compile never reads the clock;
the manifest carries ``retainUntil`` and ``paybill apply plan`` (:mod:`paybill.apply.schedule`, which
may read the clock) destroys the stack only on or after that day. Until then nothing of the stack is
destroyed and its protections stay on in the cloud. Deleting part of a stack instead (``removed``
blocks keeping the buckets) was rejected: a bucket's policies, logging and key are shared with the
rest of the stack, so any partial cut either leaves dangling references in the configuration or
destroys the key the kept data is encrypted with.

Some protections live in the cloud, not only in the configuration (RDS and Cloud SQL deletion
protection, and the provider reads ``force_destroy`` and the final-snapshot arguments from state at
delete time), so the apply workflow first applies the decommission configuration to exactly the
resources listed under ``unprotect`` in the manifest, then destroys it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from paybill.load.document import SpecDocument
from paybill.resolve.units import last_live

REMOVED_ROOT = "terraform/removed"


def removed_path(address: str) -> str:
    """``tenant/acme`` -> ``terraform/removed/tenant/acme/main.tf.json`` (output-relative)."""
    return f"{REMOVED_ROOT}/{address}/main.tf.json"


Body = dict[str, Any]


def _settings(body: Body) -> list[Body]:
    settings = body.get("settings")
    if isinstance(settings, dict):
        return [settings]
    return [s for s in settings or [] if isinstance(s, dict)]


def _aws_db_instance(body: Body) -> None:
    body["deletion_protection"] = False
    body["skip_final_snapshot"] = False
    body["delete_automated_backups"] = False
    if not body.get("final_snapshot_identifier"):  # pragma: no cover - the AWS emitter always names it
        raise ValueError("aws_db_instance without final_snapshot_identifier")


def _google_sql(body: Body) -> None:
    body["deletion_protection"] = False
    for settings in _settings(body):
        settings["deletion_protection_enabled"] = False
        settings["retain_backups_on_delete"] = True


def _force(argument: str) -> Callable[[Body], None]:
    def lift(body: Body) -> None:
        body[argument] = True
    return lift


UNPROTECT: dict[str, Callable[[Body], None]] = {
    "aws_db_instance": _aws_db_instance,
    "aws_s3_bucket": _force("force_destroy"),
    "google_sql_database_instance": _google_sql,
    "google_storage_bucket": _force("force_destroy"),
    "ibm_cos_bucket": _force("force_delete"),
    "ibm_kms_key": _force("force_delete"),
}
"""Resource types whose protection is an argument; the change must be applied before the destroy."""


@dataclass
class Decommissioned:
    """What :func:`lift_protections` changed in one stack (for the manifest and the apply workflow)."""

    unprotect: list[str] = field(default_factory=list)
    """Resource addresses whose arguments changed: applied (``-target``) before the destroy."""
    unlocked: list[str] = field(default_factory=list)
    """Resource addresses that only lost ``prevent_destroy`` (a configuration-only guard)."""


def lift_protections(resources: dict[str, dict[str, Body]]) -> Decommissioned:
    """Turn a live stack's resources into their decommission form, in place."""
    result = Decommissioned()
    for type_name in sorted(resources):
        for name in sorted(resources[type_name]):
            body = resources[type_name][name]
            address = f"{type_name}.{name}"
            lifecycle = body.get("lifecycle")
            if isinstance(lifecycle, dict) and "prevent_destroy" in lifecycle:
                del lifecycle["prevent_destroy"]
                if not lifecycle:
                    del body["lifecycle"]
                result.unlocked.append(address)
            changed = False
            lift = UNPROTECT.get(type_name)
            if lift is not None:
                lift(body)
                changed = True
            if body.get("deletion_protection") is True:  # any other resource with the argument (GKE...)
                body["deletion_protection"] = False
                changed = True
            if changed:
                result.unprotect.append(address)
    return result


def as_last_live(document: SpecDocument) -> SpecDocument:
    """The deleted tenant's document as it was while offboarding: the state its stack was last applied in."""
    return dataclasses.replace(document, model=last_live(document.model))
