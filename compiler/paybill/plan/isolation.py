"""Isolation migrations: a tenant layer changing place (pooled <-> silo, another pool, another region).

Moving a layer is never just a Terraform apply: the data has to follow. For every tenant whose
layers move, the plan carries a runbook ordered the only safe way: provision the target, copy the
data, cut over, and only then decommission the old place. The runbook names the stacks involved and
is generated from the specs, so it is specific to this change rather than a generic checklist.
"""

from __future__ import annotations

from dataclasses import dataclass

from paybill.models.base import LAYERS
from paybill.models.tenant import Tenant
from paybill.plan.model import Finding
from paybill.validate.index import SpecIndex

CODE_MIGRATION = "PB0920"
DATA_LAYERS = ("keys", "database", "storage")
"""Layers whose contents must be carried over (keys: ciphertext must be re-encrypted)."""
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
        steps.append("decommission: after verification" + window + ", "
                     + _fill(_DECOMMISSION[place.placement], name, place, layers))
    return tuple(f"{i}. {step}" for i, step in enumerate(steps, 1))


def detect_migrations(base: SpecIndex, head: SpecIndex) -> list[Finding]:
    """One warning per tenant whose layers change place between the two sides."""
    findings: list[Finding] = []
    for doc in head.of_kind("Tenant"):
        old_doc = base.get("Tenant", doc.name)
        if old_doc is None:
            continue
        old, new = old_doc.model, doc.model
        if new.spec.lifecycle == "deleted" or old.spec.lifecycle == "deleted":
            continue
        before, after = places(old), places(new)
        moves = {layer: (before[layer], after[layer]) for layer in LAYERS if before[layer] != after[layer]}
        if not moves:
            continue
        plan = head.model("Plan", new.spec.plan)
        retention = plan.spec.sizing.database.backup_retention_days if plan is not None else None
        by_move: dict[tuple[str, str], list[str]] = {}
        for layer, (a, b) in moves.items():
            by_move.setdefault((a.short(), b.short()), []).append(layer)
        summary = "; ".join(f"{', '.join(layers)} {a} -> {b}" for (a, b), layers in by_move.items())
        region_move = old.spec.placement.cloud != new.spec.placement.cloud or \
            old.spec.placement.region != new.spec.placement.region
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
        findings.append(Finding(
            CODE_MIGRATION, "warning", "isolation", f"Tenant/{doc.name}",
            f"{headline}: {summary}",
            doc.path, doc.position(*loc),
            "follow the runbook: provision the target, copy data, cut over, then decommission",
            runbook(doc.name, moves, retention)))
    return findings
