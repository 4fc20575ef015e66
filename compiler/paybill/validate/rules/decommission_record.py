"""PB0430: a destroy record (``spec.decommission``) must belong to a deleted tenant and follow its retention.

The record ends a removed stack's listing in ``manifest.json``: written on a tenant that is not
``deleted`` it would describe a destroy that never ran, and dated before ``retainUntil`` it
contradicts the apply workflow, which destroys a deleted tenant's stack only from that day on.
"""

from datetime import date

from paybill.validate.index import SpecIndex
from paybill.validate.rules.base import Reporter, Rule


def check(index: SpecIndex, report: Reporter) -> None:
    for doc in index.of_kind("Tenant"):
        tenant = doc.model
        record = tenant.spec.decommission
        if record is None:
            continue
        if tenant.spec.lifecycle != "deleted":
            report(doc, ("spec", "decommission"),
                   f"destroy record on a tenant whose lifecycle is '{tenant.spec.lifecycle}'",
                   "spec.decommission records the destroy of a deleted tenant's stack; remove it, "
                   "or set lifecycle: deleted")
            continue
        plan = index.model("Plan", tenant.spec.plan)
        if plan is None:
            continue  # PB0302 reports the unknown plan
        until = tenant.retain_until(plan.spec.sizing.database.backup_retention_days)
        if until is None:
            report(doc, ("spec", "decommission"),
                   "destroy recorded for a tenant without spec.lifecycleSince",
                   "set spec.lifecycleSince to the day the tenant was deleted; its stack is destroyed "
                   "only once the plan's backup retention has passed from that day")
        elif date.fromisoformat(tenant.spec.decommission.destroyed_at) < date.fromisoformat(until):
            report(doc, ("spec", "decommission", "destroyedAt"),
                   f"destroyedAt {record.destroyed_at} is before retainUntil {until} "
                   f"(lifecycleSince {tenant.spec.lifecycle_since} + {plan.spec.sizing.database.backup_retention_days}"
                   " days of backup retention)",
                   "the apply workflow destroys the stack on or after retainUntil; record the day it did")


RULE = Rule("PB0430", "destroy record inconsistent with the tenant's lifecycle", check)
