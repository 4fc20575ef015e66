"""Pooling a silo tenant: refused until the commit records that its data was copied into the pool.

The opposite of a staged pooled -> silo migration (:mod:`paybill.plan.isolation`) cannot be staged:
a tenant stack cannot keep its dedicated database, bucket or key beside a pooled target (PB0440), so
the apply of the commit that moves a data-holding layer (keys, database, storage) from silo to
pooled destroys the dedicated store, and with it the only copy of the tenant's data unless someone
copied it into the pool first. With deletion protection on, the same apply stops half-way (it
destroys what does not depend on the database, then the database refuses to be deleted) and leaves
the stack stuck between the two isolations.

So the commit is refused (PB0948) unless it carries ``spec.isolation.pooling`` (the record that the
copy was done and verified, with ``from`` naming the isolation the tenant had). The runbook (README,
"Moving a tenant to less isolation") copies the data into the pool while the silo still exists,
takes a final snapshot and lifts deletion protection; the PB0920 warning lists the steps for this
tenant. A tenant being deleted is the offboarding flow's concern, not this one.
"""

from __future__ import annotations

from paybill.changes.isolation_moves import compared, unrecorded_pooling
from paybill.changes.model import Finding
from paybill.validate.index import SpecIndex

_COPY = {
    "keys": "re-encrypt the tenant's data keys and exports under a key that outlives this change (the pool's): "
            "the apply schedules the dedicated key for deletion",
    "database": "copy the tenant's rows into the pooled database of pool {pool} (generated/sql/pool-{pool}/), "
                "each with tenant_id = '{tenant}' (pg_dump --data-only of the dedicated database, loaded by a role "
                "that bypasses row-level security, setting tenant_id); compare row counts and checksums per table",
    "storage": "export the tenant's objects (server-side copy, versions kept) where they outlive this change: "
               "straight into the tenant's prefix where pool {pool}'s storage takes prefixes, otherwise to a "
               "staging location restored into its container after the apply; compare object counts and bytes",
}


def pooling_runbook(name: str, pool: str, layers: list[str], record: str,
                    retention_days: int | None) -> tuple[str, ...]:
    """The steps of a silo -> pooled move, in the only safe order for one apply that destroys the silo:
    everything that needs the dedicated stores happens before the merge, while they still exist."""
    plural = "s" if len(layers) > 1 else ""
    steps = [f"before merging: check that pool {pool} offers the {', '.join(layers)} layer{plural} and has room",
             f"before merging: freeze writes for tenant {name} (the application's maintenance mode for it)"]
    steps += ["before merging: " + _COPY[layer].format(tenant=name, pool=pool) for layer in layers]
    keep = f" for at least {retention_days} days (the plan's backup retention)" if retention_days else ""
    key = (", encrypted under a key that outlives this change (copy it under the pool's key: the dedicated key is "
           "scheduled for deletion)") if "keys" in layers else ""
    steps.append(f"before merging: take a final snapshot of the dedicated stores and keep it{keep}{key}")
    blockers = [what for layer, what in (("database", "lift the deletion protection of the dedicated database"),
                                         ("storage", "empty the dedicated bucket")) if layer in layers]
    if blockers:
        steps.append(f"before merging: {' and '.join(blockers)} (otherwise the apply destroys what does "
                     "not depend on them, then fails there, leaving the stack half-destroyed)")
    steps.append(f"this commit: record the copy under spec.isolation: '{record}', then merge; the apply creates "
                 f"the tenant's share of pool {pool} and destroys its dedicated {', '.join(layers)}")
    restore = "restore staged objects into its share of the pool's storage, " if "storage" in layers else ""
    steps.append(f"after the apply: {restore}point the application at pool {pool}, run the tenant's smoke tests, "
                 "re-enable writes")
    return tuple(f"{i}. {step}" for i, step in enumerate(steps, 1))


def detect_unrecorded_pooling(base: SpecIndex, head: SpecIndex) -> list[Finding]:
    """PB0948 per live tenant whose data layers move from silo to pooled without the copy recorded (the
    check itself is :func:`paybill.changes.isolation_moves.unrecorded_pooling`, which ``paybill apply
    plan`` runs again on main)."""
    findings: list[Finding] = []
    for doc in head.of_kind("Tenant"):
        old_doc = base.get("Tenant", doc.name)
        if old_doc is None or old_doc.model is doc.model:
            continue
        if not compared(old_doc.model, doc.model):
            continue  # deletion is offboarding's flow; a running migration is PB0440/PB0945's
        finding = unrecorded_pooling(doc, old_doc.model, doc.model)
        if finding is not None:
            findings.append(finding)
    return findings
