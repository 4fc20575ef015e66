"""PB0440: an isolation migration must move something, and only towards more isolation.

``spec.isolation.migration.from`` is the isolation the tenant had; the stanza keeps it beside the
target until ``decommission``. A ``from`` with the same placement on every layer as the target moves
nothing (the stanza is a leftover or a typo). Keeping a *silo* layer beside a pooled target is not
executable yet (the tenant stack would have to keep a dedicated database or bucket it no longer
declares), so a layer may only move pooled -> silo under the stanza; the other direction is one
commit carrying ``spec.isolation.pooling``, the record that the data was copied first (PB0948).
"""

from paybill.models.base import LAYERS
from paybill.models.tenant import isolation_placements
from paybill.validate.index import SpecIndex
from paybill.validate.rules.base import Reporter, Rule


def check(index: SpecIndex, report: Reporter) -> None:
    for doc in index.of_kind("Tenant"):
        tenant = doc.model
        migration = tenant.migration
        if migration is None:
            continue
        before = isolation_placements(migration.from_)
        moved = [layer for layer in LAYERS if before[layer] != tenant.placements[layer]]
        loc = ("spec", "isolation", "migration", "from")
        if not moved:
            report(doc, loc, "isolation migration.from places every layer where the target does: nothing moves",
                   "set 'from' to the isolation the tenant had before, or remove the 'migration' stanza")
            continue
        backwards = [layer for layer in moved if before[layer] == "silo"]
        if backwards:
            report(doc, loc,
                   f"layers {', '.join(backwards)} move from silo to pooled: a migration can keep pooled "
                   "access beside new dedicated resources, not the other way round",
                   "migrate towards more isolation only; to pool a silo layer, copy its data into the pool "
                   "first, then change the isolation without the stanza and record the copy with "
                   "'pooling: {from: ..., copiedAt: ...}' (PB0948; runbook: 'paybill plan')")


RULE = Rule("PB0440", "ill-formed isolation migration", check)
