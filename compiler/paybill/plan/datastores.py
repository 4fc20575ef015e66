"""Spec-level data-store danger: changes that destroy a database or a bucket, or leave a table's data
behind, and data model changes ``paybill db migrate`` cannot make by itself.

The Terraform comparison (:mod:`paybill.plan.terraform`) flags destroyed or replaced data-store
resources exactly; these spec-level flags work without compiling and say *why* in spec terms.

What they say of tables and columns follows the SQL emitter (:mod:`paybill.emit.sql.tables`): paybill
never drops a table or a column (it revokes them, and the data stays), never converts a column's type
(0003 stops on one that differs), sets nullability (SET NOT NULL fails while a NULL is left), and cannot
give a global table's rows a tenant. The findings said a removed column or table "is dropped", so a
reviewer believed the data (personal data, often) was gone when it stayed, and said nothing of the
changes that make the migration fail after the merge.
"""

from __future__ import annotations

from paybill.changes.model import Finding
from paybill.clouds import registry
from paybill.load import SpecDocument
from paybill.validate.index import SpecIndex

CODE_DATA_STORE = "PB0940"
CODE_HAND_STEP = "PB0993"
"""A data model change the migration cannot make by itself: it fails until a human acts (or data is filled)."""


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
                f"data model '{doc.name}' is removed: paybill revokes its tables ({tables}) from agents and the "
                "application but never drops them, so they stay with their data in every database that has them "
                "(paybill db drift reports them) until someone drops them by hand",
                doc.path, doc.position("metadata", "name"), LEFT_BEHIND_HINT))
    return findings


def _left_behind_hint(drop: str, rename: str) -> str:
    return (f"export the data, then drop it by hand once this is migrated ({drop}); for a rename, rename it by hand "
            f"({rename}) before migrating this commit, or the new name starts empty")


LEFT_BEHIND_HINT = _left_behind_hint("DROP TABLE ...", "ALTER TABLE ... RENAME TO ...")
COLUMN_LEFT_BEHIND_HINT = _left_behind_hint("ALTER TABLE ... DROP COLUMN ...", "ALTER TABLE ... RENAME COLUMN ...")


def _table_losses(old: SpecDocument, new: SpecDocument) -> list[Finding]:
    findings = []
    new_tables = {t.name: t for t in new.model.spec.tables}
    for table in old.model.spec.tables:
        current = new_tables.get(table.name)
        if current is None:
            findings.append(Finding(
                CODE_DATA_STORE, "warning", "data-store", f"DataModel/{new.name}",
                f"table '{table.name}' is removed: paybill revokes it from agents and the application but never "
                "drops it, so it stays with its data in every database that has it (paybill db drift reports it) "
                "until someone drops it by hand",
                new.path, new.position("spec", "tables"), LEFT_BEHIND_HINT))
            continue
        kept = {c.name for c in current.columns}
        lost = [c for c in table.columns if c.name not in kept]
        if lost:
            index = next(i for i, t in enumerate(new.model.spec.tables) if t.name == table.name)
            names = ", ".join(c.name for c in lost)
            required = [c.name for c in lost if not c.nullable]
            plural = len(lost) > 1
            message = (f"table '{table.name}' loses column{'s' if plural else ''} {names}: paybill revokes "
                       f"{'them' if plural else 'it'} from agents but never drops a column, so the data in "
                       f"{'them' if plural else 'it'} stays in every database of the table (paybill db drift "
                       "reports it) until someone drops it by hand")
            if required:
                message += (f"; {', '.join(required)} {'is' if len(required) == 1 else 'are'} NOT NULL, so every "
                            "insert that does not set it fails until it is dropped or made nullable by hand")
            findings.append(Finding(
                CODE_DATA_STORE, "warning", "data-store", f"DataModel/{new.name}", message,
                new.path, new.position("spec", "tables", index, "columns"), COLUMN_LEFT_BEHIND_HINT))
        findings += _hand_steps(new, table, current)
    return findings


def _hand_steps(doc: SpecDocument, old, new) -> list[Finding]:
    """PB0993 for each change of a kept table that makes ``paybill db migrate`` fail until someone acts."""
    index = next(i for i, t in enumerate(doc.model.spec.tables) if t.name == new.name)
    before = {c.name: c for c in old.columns}
    subject = f"DataModel/{doc.name}"
    findings = []
    for j, column in enumerate(new.columns):
        where = doc.position("spec", "tables", index, "columns", j)
        was = before.get(column.name)
        label = f"column '{new.name}.{column.name}'"
        if was is None:
            if not column.nullable:
                findings.append(Finding(
                    CODE_HAND_STEP, "warning", "data-store", subject,
                    f"{label} is added NOT NULL without a default: 'paybill db migrate' fails on every database "
                    "where the table already has rows (PostgreSQL needs a value for them)", doc.path, where,
                    "add it nullable, fill it, then set nullable: false in a later commit"))
            continue
        if was.type != column.type:
            findings.append(Finding(
                CODE_HAND_STEP, "warning", "data-store", subject,
                f"{label} changes type {was.type} -> {column.type}: paybill never converts a column, so "
                "'paybill db migrate' stops (PB1105) on every database of the table until it is converted by hand",
                doc.path, where, "convert it by hand after checking its data (ALTER TABLE ... ALTER COLUMN ... "
                "TYPE ... USING ...) right before migrating this commit"))
        if was.nullable and not column.nullable:
            findings.append(Finding(
                CODE_HAND_STEP, "warning", "data-store", subject,
                f"{label} becomes NOT NULL: 'paybill db migrate' fails, changing nothing, on every database "
                "where a row still has NULL in it", doc.path, where, "fill its NULLs before migrating this commit"))
    if list(old.primary_key) != list(new.primary_key):
        findings.append(Finding(
            CODE_HAND_STEP, "warning", "data-store", subject,
            f"table '{new.name}' changes primary key ({', '.join(old.primary_key)}) -> ({', '.join(new.primary_key)}):"
            " paybill never changes a primary key, so 'paybill db migrate' stops (PB1105) on every database of the "
            "table until it is changed by hand", doc.path, doc.position("spec", "tables", index, "primaryKey"),
            "change it by hand after checking the rows are unique under it (ALTER TABLE ... DROP CONSTRAINT ..., "
            "ADD PRIMARY KEY (...)) right before migrating this commit"))
    if old.scope == "tenant" and new.scope == "global":
        findings.append(Finding(
            CODE_HAND_STEP, "warning", "data-store", subject,
            f"table '{new.name}' becomes global: in every pooled database that has it, its rows keep their "
            "tenant_id, so 'paybill db migrate' stops (PB1105) there until someone decides, by hand, which rows "
            "every tenant may share", doc.path, doc.position("spec", "tables", index),
            "remove the rows that must not be shared, drop tenant_id (the primary key becoming the spec's) by hand "
            "before migrating, or keep scope: tenant"))
    if old.scope == "global" and new.scope == "tenant":
        findings.append(Finding(
            CODE_HAND_STEP, "warning", "data-store", subject,
            f"table '{new.name}' becomes tenant-scoped: in every pooled database that has it, its rows name no "
            "tenant, so 'paybill db migrate' stops (PB1105) there until tenant_id is added by hand",
            doc.path, doc.position("spec", "tables", index),
            "add tenant_id by hand (text NOT NULL, each row given its tenant, leading the primary key) before "
            "migrating, or keep scope: global"))
    return findings
