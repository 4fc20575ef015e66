"""Spec-level data-store danger: changes that destroy a database, a bucket or a table.

The Terraform comparison (:mod:`paybill.plan.terraform`) flags destroyed or replaced data-store
resources exactly; these spec-level flags work without compiling and say *why* in spec terms.
"""

from __future__ import annotations

from paybill.changes.model import Finding
from paybill.clouds import registry
from paybill.load import SpecDocument
from paybill.validate.index import SpecIndex

CODE_DATA_STORE = "PB0940"


def _pooled_storage(name: str, provider: str | None) -> str:
    """What becomes of a deleted tenant's objects in its pool's storage, as its cloud's emitter builds
    pooled storage (:attr:`paybill.clouds.profile.CloudProfile.pooled_storage_on_delete`). Saying
    "removed" for every cloud was wrong on AWS and Google Cloud (the prefix stays in the pool bucket,
    and nothing deletes it) and on OCI (the destroy fails until the bucket is emptied)."""
    profile = registry.find(provider) if provider else None
    if profile is not None and profile.pooled_storage_on_delete:
        return profile.pooled_storage_on_delete.format(tenant=name)
    return ("what the apply does to its data in the pool's shared storage depends on the cloud: read its "
            f"decommission configuration, generated/terraform/removed/tenant/{name}/main.tf.json")


def _tenant_stores(tenant, provider: str | None = None) -> str:
    silo = [layer for layer in ("database", "storage") if tenant.layer_placement(layer) == "silo"]
    pooled = [layer for layer in ("database", "storage") if tenant.layer_placement(layer) == "pooled"]
    parts = []
    if silo:
        parts.append(f"its dedicated {' and '.join(silo)} {'are' if len(silo) > 1 else 'is'} destroyed by the apply "
                     "once its retainUntil has passed")
    if "database" in pooled:
        # Nothing in the merge or the apply deletes pooled rows: `paybill db erase` does, later, on
        # purpose (after retainUntil, from an export). Saying "removed" here had reviewers believe
        # the merge deleted them, and operators believe there was nothing left to erase.
        parts.append("its rows in the pool's shared database stay until 'paybill db erase' deletes them "
                     "(after retainUntil, from an export)")
    if "storage" in pooled:
        parts.append(_pooled_storage(tenant.metadata.name, provider))
    return "; ".join(parts)


def detect_data_store_loss(base: SpecIndex, head: SpecIndex, base_docs: dict, head_docs: dict) -> list[Finding]:
    findings: list[Finding] = []
    for doc in head.of_kind("Tenant"):
        old = base.get("Tenant", doc.name)
        if old is None or old.model.spec.lifecycle == "deleted" or doc.model.spec.lifecycle != "deleted":
            continue
        cloud = head.get("Cloud", doc.model.spec.placement.cloud)
        provider = cloud.model.spec.provider if cloud is not None else None
        findings.append(Finding(
            CODE_DATA_STORE, "warning", "data-store", f"Tenant/{doc.name}",
            f"tenant '{doc.name}' is deleted: {_tenant_stores(doc.model, provider)}",
            doc.path, doc.position("spec", "lifecycle"),
            "make sure the offboarding export and final snapshots exist before merging"))
    for doc in base.of_kind("Pool"):
        if head.get("Pool", doc.name) is not None or ("Pool", doc.name) in head_docs:
            continue
        users = sorted(d.name for d in base.of_kind("Tenant")
                       if d.model.spec.placement.pool == doc.name and d.model.spec.lifecycle != "deleted")
        findings.append(Finding(
            CODE_DATA_STORE, "warning", "data-store", f"Pool/{doc.name}",
            f"pool '{doc.name}' is removed: its shared database and storage are destroyed"
            + (f" ({len(users)} tenants used it)" if users else ""),
            doc.path, doc.position("metadata", "name"),
            "move every tenant out of the pool and verify it is empty before removing it"))
    for doc in head.of_kind("DataModel"):
        old = base.get("DataModel", doc.name)
        if old is None:
            continue
        findings.extend(_table_losses(old, doc))
    for doc in base.of_kind("DataModel"):
        if ("DataModel", doc.name) not in head_docs:
            tables = ", ".join(t.name for t in doc.model.spec.tables)
            findings.append(Finding(
                CODE_DATA_STORE, "warning", "data-store", f"DataModel/{doc.name}",
                f"data model '{doc.name}' is removed: tables {tables} are dropped from every tenant database",
                doc.path, doc.position("metadata", "name"), "export the data first"))
    return findings


def _table_losses(old: SpecDocument, new: SpecDocument) -> list[Finding]:
    findings = []
    new_tables = {t.name: t for t in new.model.spec.tables}
    for table in old.model.spec.tables:
        current = new_tables.get(table.name)
        if current is None:
            findings.append(Finding(
                CODE_DATA_STORE, "warning", "data-store", f"DataModel/{new.name}",
                f"table '{table.name}' is removed: it is dropped from every tenant database",
                new.path, new.position("spec", "tables"), "export the data first"))
            continue
        kept = {c.name for c in current.columns}
        lost = [c.name for c in table.columns if c.name not in kept]
        if lost:
            index = next(i for i, t in enumerate(new.model.spec.tables) if t.name == table.name)
            findings.append(Finding(
                CODE_DATA_STORE, "warning", "data-store", f"DataModel/{new.name}",
                f"table '{table.name}' loses column{'s' if len(lost) > 1 else ''} {', '.join(lost)}: "
                f"the data in {'them' if len(lost) > 1 else 'it'} is dropped",
                new.path, new.position("spec", "tables", index, "columns"), "export the data first"))
    return findings
