"""Isolation migrations: a tenant layer changing place (pooled <-> silo, another pool, another region).

Moving a layer is never just a Terraform apply: the data has to follow. For every tenant whose
layers move, the plan carries a runbook ordered the only safe way: provision the target, copy the
data, cut over, and only then decommission the old place. The runbook names the stacks involved and
is generated from the specs, so it is specific to this change rather than a generic checklist.

A move of a data-holding layer (keys, database, storage) from pooled to silo is executed as reviewed
commits with ``spec.isolation.migration`` (phases provision -> copy -> cutover -> decommission): the
compiler keeps the pooled access beside the new dedicated resources until ``decommission``, and this
module checks that phases advance one commit at a time and says, for each runbook step, which commit
does it. Changing such a layer directly, without the stanza, is refused (PB0946) on clouds that can
execute the stanza: one apply would remove the pooled access while the silo is still being created.
The opposite move, silo to pooled, cannot be staged; :mod:`paybill.plan.pooling` refuses it until the
commit records the copy (PB0948), and its runbook replaces the generic one in the PB0920 warning.
"""

from __future__ import annotations

from dataclasses import dataclass

from paybill.changes.isolation_moves import (
    DATA_LAYERS,
    isolation_text,
    moves_region,
    pooled_data_layers,
    record_text,
    relocated_data_layers,
    silo_relocation,
)
from paybill.changes.model import Finding
from paybill.clouds import registry
from paybill.load import SpecDocument
from paybill.models.base import LAYERS
from paybill.models.tenant import MIGRATION_PHASES, Tenant, isolation_placements
from paybill.plan.pooling import pooling_runbook
from paybill.validate.index import SpecIndex

CODE_MIGRATION = "PB0920"
CODE_PHASE = "PB0945"
"""Phases skipped, taken backwards, started late, or the stanza dropped before decommission."""
CODE_NEEDS_STANZA = "PB0946"
"""A data-holding layer moves from pooled to silo without ``spec.isolation.migration``."""
CODE_STANZA_CHANGED = "PB0947"
"""``migration.from`` is not the isolation the tenant had, or the target changed mid-migration."""
FOUNDATION_LAYERS = ("network", "keys", "identity")


@dataclass(frozen=True, slots=True)
class Place:
    """Where one layer of one tenant lives."""

    placement: str  # silo | pooled
    cloud: str
    region: str
    pool: str | None

    def describe(self, tenant: str) -> str:
        if self.placement == "silo":
            return f"dedicated in stack tenant/{tenant} ({self.cloud}, {self.region})"
        return f"shared in stack pool/{self.pool} ({self.cloud}, {self.region})"

    def short(self) -> str:
        return "silo" if self.placement == "silo" else f"pooled ({self.pool})"


def places(tenant: Tenant) -> dict[str, Place]:
    placement = tenant.spec.placement
    result = {}
    for layer in LAYERS:
        kind = tenant.layer_placement(layer)
        result[layer] = Place(kind, placement.cloud, placement.region, placement.pool if kind == "pooled" else None)
    return result


_COPY = {
    "database": "copy the tenant's database: replicate its rows from {old} to {new} (logical replication, or "
                "pg_dump/pg_restore of the rows with tenant_id = '{tenant}' for a pooled source); keep the source "
                "writable until cut-over and compare row counts and checksums per table",
    "storage": "copy the tenant's objects from {old} to {new} (server-side copy, preserving versions; the target "
               "encrypts with its own key); compare object counts and total bytes",
    "keys": "re-encrypt the tenant's data keys and snapshots under the new key ({new}); keep the old key "
            "({old}) enabled until nothing encrypted with it remains",
}
_PROVISION = {
    "silo": "apply stack tenant/{tenant} to create the dedicated {layers} layer{s}",
    "pooled": "check that pool {pool} offers the {layers} layer{s} and has room, then apply stack tenant/{tenant} "
              "to create the tenant's scoped resources inside it",
}
_DECOMMISSION = {
    "silo": "remove the old dedicated {layers} layer{s} of tenant {tenant} (deletion protection must be lifted "
            "deliberately; take a final snapshot first)",
    "pooled": "remove the tenant's share of the {layers} layer{s} of pool {pool} (its rows, prefix, role, namespace "
              "or key grant)",
}


def _group(layers: list[str], place_of) -> list[tuple[object, list[str]]]:
    """Consecutive layers (in order) that share a place become one step."""
    groups: list[tuple[object, list[str]]] = []
    for layer in layers:
        place = place_of(layer)
        if groups and groups[-1][0] == place:
            groups[-1][1].append(layer)
        else:
            groups.append((place, [layer]))
    return groups


def _fill(template: str, tenant: str, place: Place, layers: list[str]) -> str:
    return template.format(tenant=tenant, pool=place.pool, layers=", ".join(layers), s="s" if len(layers) > 1 else "")


def runbook(name: str, moves: dict[str, tuple[Place, Place]], retention_days: int | None) -> tuple[str, ...]:
    """Ordered steps: provision (foundation layers first), copy, cut over, decommission (reverse order)."""
    steps: list[str] = []
    ordered = [layer for layer in LAYERS if layer in moves]
    provision_order = sorted(ordered, key=lambda layer: layer not in FOUNDATION_LAYERS)
    for place, layers in _group(provision_order, lambda layer: moves[layer][1]):
        assert isinstance(place, Place)
        steps.append("provision: " + _fill(_PROVISION[place.placement], name, place, layers))
    for layer in ordered:
        if layer in DATA_LAYERS:
            old, new = moves[layer]
            steps.append("copy: " + _COPY[layer].format(tenant=name, old=old.describe(name), new=new.describe(name)))
    steps.append(
        f"cut over: freeze writes for tenant {name}, run a final sync, point "
        f"{'compute and ' if 'compute' in moves else ''}connection settings at the new place, verify with the "
        "tenant's smoke tests, then re-enable writes")
    window = f" and at least {retention_days} days (the plan's backup retention)" if retention_days else ""
    for place, layers in _group(list(reversed(ordered)), lambda layer: moves[layer][0]):
        assert isinstance(place, Place)
        step = _fill(_DECOMMISSION[place.placement], name, place, layers)
        if place.placement == "pooled" and "database" in layers:
            # Nothing else removes the rows: the apply cannot, and erase takes them once the pool's
            # folder no longer stores the tenant (the decommission commit, merged and migrated).
            step += (f"; its rows go with 'paybill db erase --tenant {name}' on the pool's database once the "
                     "decommission commit is merged and migrated (export them first)")
        steps.append("decommission: after verification" + window + ", " + step)
    return tuple(f"{i}. {step}" for i, step in enumerate(steps, 1))


def detect_migrations(base: SpecIndex, head: SpecIndex) -> list[Finding]:
    """Per tenant whose layers change place: a warning with its runbook, or the phase of a staged
    migration with the commit that does each step, and errors for moves that cannot be applied."""
    findings: list[Finding] = []
    for doc in head.of_kind("Tenant"):
        old_doc = base.get("Tenant", doc.name)
        new = doc.model
        if old_doc is None:
            if new.migration is not None:
                findings.append(_error(CODE_PHASE, doc, ("spec", "isolation", "migration"),
                                       f"tenant '{doc.name}' is new: it has no earlier isolation to migrate from",
                                       "remove the 'migration' stanza; a new tenant starts in its target isolation"))
            continue
        old = old_doc.model
        if new.spec.lifecycle == "deleted" or old.spec.lifecycle == "deleted":
            continue
        if old.migration is None and new.migration is None:
            if old is not new:  # one document shared by both sides (an unchanged file) moves nothing
                findings.extend(_direct_move(doc, old, new, head))
        else:
            findings.extend(_staged_move(doc, old, new, head))
    return findings


def _error(code: str, doc: SpecDocument, loc: tuple[str | int, ...], message: str, hint: str) -> Finding:
    return Finding(code, "error", "isolation", f"Tenant/{doc.name}", message, doc.path, doc.position(*loc), hint)


def _retention(head: SpecIndex, tenant: Tenant) -> int | None:
    plan = head.model("Plan", tenant.spec.plan)
    return plan.spec.sizing.database.backup_retention_days if plan is not None else None


def _summary(moves: dict[str, tuple[Place, Place]]) -> str:
    by_move: dict[tuple[str, str], list[str]] = {}
    for layer, (a, b) in moves.items():
        by_move.setdefault((a.short(), b.short()), []).append(layer)
    return "; ".join(f"{', '.join(layers)} {a} -> {b}" for (a, b), layers in by_move.items())


def _direct_move(doc: SpecDocument, old: Tenant, new: Tenant, head: SpecIndex) -> list[Finding]:
    """A move in one commit (no stanza): the runbook warning, and PB0946 where data would be cut off."""
    before, after = places(old), places(new)
    moves = {layer: (before[layer], after[layer]) for layer in LAYERS if before[layer] != after[layer]}
    if not moves:
        return []
    findings: list[Finding] = []
    summary = _summary(moves)
    region_move = moves_region(old, new)
    journey = (f"from {old.spec.placement.cloud}/{old.spec.placement.region} to "
               f"{new.spec.placement.cloud}/{new.spec.placement.region}")
    isolation_moved = old.spec.isolation != new.spec.isolation
    if isolation_moved and region_move:
        headline = f"isolation migration for tenant '{doc.name}', which also moves {journey}"
    elif isolation_moved:
        headline = f"isolation migration for tenant '{doc.name}'"
    else:
        headline = f"tenant '{doc.name}' moves {journey}"
    loc = ("spec", "isolation") if isolation_moved and not region_move else ("spec", "placement")
    pooled = pooled_data_layers(old, new)
    relocated = relocated_data_layers(old, new)
    refused = silo_relocation(doc, old, new)  # PB0949: the check `paybill apply plan` makes again on main
    if refused is not None:
        hint = "move the tenant as a new one (the steps below): its stack cannot hold two places at once"
        steps = relocation_runbook(doc.name, old, new, relocated, _retention(head, old))
        findings.append(refused)
    elif pooled and not region_move and new.spec.placement.pool:
        hint = "follow the runbook: copy the data into the pool and record it before merging, then apply"
        steps = pooling_runbook(doc.name, new.spec.placement.pool, pooled, record_text(old), _retention(head, new))
    else:
        hint = "follow the runbook: provision the target, copy data, cut over, then decommission"
        steps = runbook(doc.name, moves, _retention(head, new))
    findings.append(Finding(
        CODE_MIGRATION, "warning", "isolation", f"Tenant/{doc.name}",
        f"{headline}: {summary}",
        doc.path, doc.position(*loc), hint, steps))
    cut_off = [layer for layer in DATA_LAYERS
               if old.layer_placement(layer) == "pooled" and new.layer_placement(layer) == "silo"]
    cloud = head.model("Cloud", new.spec.placement.cloud)
    profile = registry.find(cloud.spec.provider) if cloud is not None else None
    # PB0442: layers a staged migration cannot move on this cloud (a Google Cloud tenant's key)
    fixed = {f.layer for f in profile.fixed_in_migration} if profile is not None else set()
    staged = [layer for layer in cut_off if layer not in fixed]
    if staged and not region_move and profile is not None and profile.staged_migrations:
        hint = ("stage the move with spec.isolation.migration: keep this target isolation and add "
                f"'migration: {{from: {isolation_text(old.spec.isolation)}, phase: provision}}', then advance the "
                "phase one commit at a time (provision, copy, cutover, decommission)")
        kept = [layer for layer in cut_off if layer in fixed]
        if kept:
            hint = hint.replace("keep this target isolation", "keep this target isolation but with "
                                + ", ".join(f"{layer}: pooled" for layer in kept))
        findings.append(_error(
            CODE_NEEDS_STANZA, doc, ("spec", "isolation"),
            f"tenant '{doc.name}' moves {', '.join(cut_off)} from pooled to silo in one commit: one apply would "
            "remove its pooled access while the silo is still being created", hint))
    return findings


def relocation_runbook(name: str, old: Tenant, new: Tenant, layers: list[str],
                       retention_days: int | None) -> tuple[str, ...]:
    """The steps that move a live tenant's dedicated stores to another cloud or region: a second tenant
    (its own stack and stores) in the target place, the data copied while both exist, then the first
    one offboarded. The only order that never leaves the data without a copy, until a tenant's stack
    can hold two placements at once."""
    target = f"{new.spec.placement.cloud}/{new.spec.placement.region}"
    stores = ", ".join(layers)
    keep = f" (at least {retention_days} days, the plan's backup retention)" if retention_days else ""
    steps = [
        f"this pull request: keep tenant {name} in {old.spec.placement.cloud}/{old.spec.placement.region}; add a "
        f"tenant under a new name (say {name}-2) in {target} with the same plan and isolation, lifecycle "
        "onboarding and a placeholder billing.customerId (two tenants of one billing customer stop the billing "
        "proposals for it); merge: the apply creates its own stack with empty dedicated stores",
        f"copy: {stores} from stack tenant/{name} to the new tenant's stack (re-encrypt under its key; "
        "pg_dump/pg_restore or logical replication of the database; server-side copy of the objects, versions "
        "kept); keep the source writable and compare row counts, checksums, object counts and bytes",
        f"cut over: freeze writes for {name}, run a final sync, point the application at the new tenant, "
        f"move billing.customerId from {name} to it in one commit, run its smoke tests, set it active and "
        "re-enable writes",
        f"offboard: set {name} offboarding, then deleted after the retention{keep}; its stack is destroyed from "
        "its decommission configuration (take a final snapshot, lift deletion protection deliberately)",
    ]
    return tuple(f"{i}. {step}" for i, step in enumerate(steps, 1))


def _phase_index(tenant: Tenant) -> int:
    migration = tenant.migration
    return -1 if migration is None else MIGRATION_PHASES.index(migration.phase)


def _staged_move(doc: SpecDocument, old: Tenant, new: Tenant, head: SpecIndex) -> list[Finding]:
    """A commit of a staged migration: check it advances one phase, then say what this commit does."""
    stanza = ("spec", "isolation", "migration")
    old_mig, new_mig = old.migration, new.migration
    before_at, after_at = old.spec.placement, new.spec.placement
    pool_dropped = after_at.pool is None and (new_mig is None or new_mig.phase == "decommission")
    moved = (before_at.cloud, before_at.region) != (after_at.cloud, after_at.region) or \
        (before_at.pool != after_at.pool and not pool_dropped)
    if moved and (new_mig is not None or (old_mig is not None and old_mig.phase != "decommission")):
        return [_error(
            CODE_STANZA_CHANGED, doc, ("spec", "placement"),
            f"tenant '{doc.name}' changes its placement during an isolation migration: the kept pooled access "
            "and the new resources must stay in one cloud, region and pool",
            "finish the migration (decommission, then drop the stanza) before moving the tenant")]
    if new_mig is None:
        assert old_mig is not None
        if old_mig.phase == "decommission" and new.placements == old.placements:
            return []  # the stanza is dropped after decommission: nothing left to do
        aborted = new.placements == isolation_placements(old_mig.from_)
        if aborted and old_mig.phase in ("provision", "copy"):
            return [Finding(
                CODE_MIGRATION, "warning", "isolation", f"Tenant/{doc.name}",
                f"isolation migration for tenant '{doc.name}' is aborted in phase {old_mig.phase}: it stays "
                f"{isolation_text(new.spec.isolation)} and the resources provisioned for the target are destroyed",
                doc.path, doc.position("spec", "isolation"),
                "make sure nothing was written to the new resources yet (the application still used the old ones)")]
        hint = ("finish the migration first: advance the phase one commit at a time up to 'decommission', "
                "then drop the stanza")
        if old_mig.phase in ("provision", "copy"):
            hint += f", or abort by setting the isolation back to {isolation_text(old_mig.from_)} without the stanza"
        return [_error(CODE_PHASE, doc, ("spec", "isolation"),
                       f"tenant '{doc.name}' drops its isolation migration in phase {old_mig.phase}: the old "
                       "access would be removed before the migration is done", hint)]
    new_before = isolation_placements(new_mig.from_)
    if old_mig is None:
        findings: list[Finding] = []
        if new_before != old.placements:
            findings.append(_error(
                CODE_STANZA_CHANGED, doc, (*stanza, "from"),
                f"migration.from must be the isolation tenant '{doc.name}' has now "
                f"({isolation_text(old.spec.isolation)})",
                f"set 'from: {isolation_text(old.spec.isolation)}'"))
        if new_mig.phase != "provision":
            findings.append(_error(
                CODE_PHASE, doc, (*stanza, "phase"),
                f"isolation migration for tenant '{doc.name}' starts at phase {new_mig.phase}: every migration "
                "starts with provision",
                "set 'phase: provision'; each later phase is its own commit"))
        if findings:
            return findings
    else:
        if isolation_placements(old_mig.from_) != new_before or old.placements != new.placements:
            what = "from" if isolation_placements(old_mig.from_) != new_before else "target isolation"
            return [_error(
                CODE_STANZA_CHANGED, doc, (*stanza, "from") if what == "from" else ("spec", "isolation"),
                f"tenant '{doc.name}' changes the {what} of its isolation migration in phase {old_mig.phase}",
                "finish or abort the running migration first; change one thing per migration")]
        step = _phase_index(new) - _phase_index(old)
        if step == 0:
            return []  # same phase, other edits: nothing to review about the migration
        if step != 1:
            expected = MIGRATION_PHASES[_phase_index(old) + 1] if old_mig.phase != "decommission" else None
            direction = "goes back" if step < 0 else "skips a phase"
            hint = (f"set 'phase: {expected}' in this commit" if expected
                    else "after decommission, drop the migration stanza")
            if step < 0 and old_mig.phase in ("provision", "copy"):
                hint += f"; to abort, set the isolation back to {isolation_text(old_mig.from_)} without the stanza"
            return [_error(CODE_PHASE, doc, (*stanza, "phase"),
                           f"isolation migration for tenant '{doc.name}' {direction}: {old_mig.phase} -> "
                           f"{new_mig.phase} (phases go provision, copy, cutover, decommission, one commit each)",
                           hint)]
    return [_phase_finding(doc, new, head)]


def _phase_finding(doc: SpecDocument, tenant: Tenant, head: SpecIndex) -> Finding:
    migration = tenant.migration
    assert migration is not None
    now = places(tenant)
    before = {layer: Place(place, now[layer].cloud, now[layer].region,
                           tenant.spec.placement.pool if place == "pooled" else None)
              for layer, place in isolation_placements(migration.from_).items()}
    moves = {layer: (before[layer], now[layer]) for layer in LAYERS if before[layer] != now[layer]}
    kept = [layer for layer in LAYERS if layer in tenant.kept_placements]
    pool = tenant.spec.placement.pool
    what = {
        "provision": "the target's resources are created",
        "copy": "data is copied while both places exist",
        "cutover": "the application is pointed at the target",
        "decommission": "the old access is removed",
    }[migration.phase]
    kept_text = (f"; kept until decommission: the tenant's share of pool {pool} ({', '.join(kept)})"
                 if kept else "")
    return Finding(
        CODE_MIGRATION, "warning", "isolation", f"Tenant/{doc.name}",
        f"isolation migration for tenant '{doc.name}', phase {migration.phase} ({what}): {_summary(moves)}"
        f"{kept_text}",
        doc.path, doc.position("spec", "isolation", "migration", "phase"),
        _next_hint(migration.phase),
        staged_runbook(doc.name, moves, _retention(head, tenant), migration.phase))


def _next_hint(phase: str) -> str:
    if phase == "decommission":
        return "after this commit is applied, drop the migration stanza (no infrastructure change)"
    following = MIGRATION_PHASES[MIGRATION_PHASES.index(phase) + 1]
    return f"apply this commit and do its steps, then set 'phase: {following}' in the next commit"


def _commit_label(step_phase: str, current: str) -> str:
    here, there = MIGRATION_PHASES.index(current), MIGRATION_PHASES.index(step_phase)
    if there == here:
        return f"this commit: {step_phase}"
    if there < here:
        return f"done in the commit with phase: {step_phase}"
    if there == here + 1:
        return f"next commit: set phase: {step_phase}"
    return f"later commit: set phase: {step_phase}"


def staged_runbook(name: str, moves: dict[str, tuple[Place, Place]], retention_days: int | None,
                   phase: str) -> tuple[str, ...]:
    """The runbook of :func:`runbook`, each step naming its phase and the commit that does it."""
    labelled = []
    for step in runbook(name, moves, retention_days):
        text = step.split(". ", 1)[1]
        step_phase, _, rest = text.partition(": ")
        step_phase = "cutover" if step_phase == "cut over" else step_phase
        if step_phase == "provision":
            rest += "; the old access stays in place"
        elif step_phase == "cutover":
            rest += ("; the workload identity follows the application to the target, while the pooled key "
                     "grant, stores and namespace are kept (for a rollback) until decommission")
        labelled.append(f"{step_phase} ({_commit_label(step_phase, phase)}): {rest}")
    labelled.append("drop the migration stanza "
                    f"({'next commit' if phase == 'decommission' else 'after decommission'}): "
                    "no infrastructure change")
    return tuple(f"{i}. {step}" for i, step in enumerate(labelled, 1))
