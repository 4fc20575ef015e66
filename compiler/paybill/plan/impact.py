"""What a change reaches: from each changed spec to the tenants, stacks and agent bundles it affects.

This is the "blast radius" a reviewer needs: a one-line change to a pool or a plan can reach hundreds
of tenants. Edges follow the spec references (tenant -> plan, cloud, pool; agent -> workflows,
tables, tenants in scope), looked up on both sides so a removal is as visible as an addition.
"""

from __future__ import annotations

from paybill.changes.model import Finding, Impact, ImpactEdge, SpecChange
from paybill.plan.permissions import scope_tenants
from paybill.validate.index import SpecIndex

CODE_REACH = "PB0951"


def _tenants(index: SpecIndex, predicate) -> set[str]:
    return {d.name for d in index.of_kind("Tenant") if d.model.spec.lifecycle != "deleted" and predicate(d.model)}


def _uses_pool(pool: str):
    def check(tenant) -> bool:
        placement = tenant.spec.placement
        return placement.pool == pool and any(
            tenant.layer_placement(layer) == "pooled"
            for layer in ("network", "keys", "identity", "database", "storage", "compute"))
    return check


def _agents(index: SpecIndex, predicate) -> set[str]:
    return {d.name for d in index.of_kind("Agent") if predicate(d.model)}


class _Scopes:
    """Agent -> tenants in scope on one side, computed once (a tenant change asks for every agent)."""

    def __init__(self, side: SpecIndex) -> None:
        self.side = side
        self._scopes: dict[str, set[str]] | None = None

    def agents_reaching(self, tenant: str) -> list[str]:
        if self._scopes is None:
            self._scopes = {d.name: scope_tenants(d.model, self.side) for d in self.side.of_kind("Agent")}
        return [agent for agent, tenants in self._scopes.items() if tenant in tenants]


def _reach(change: SpecChange, side: SpecIndex, scopes: _Scopes) -> list[str]:
    """Nodes one changed spec affects on one side."""
    kind, name = change.kind, change.name
    out: list[str] = []
    if kind == "Plan":
        out += [f"Tenant/{t}" for t in _tenants(side, lambda t: t.spec.plan == name)]
    elif kind == "Cloud":
        out += [f"Pool/{d.name}" for d in side.of_kind("Pool") if d.model.spec.cloud == name]
        out += [f"Tenant/{t}" for t in _tenants(side, lambda t: t.spec.placement.cloud == name)]
    elif kind == "Pool":
        out.append(f"stack:pool/{name}")
        out += [f"Tenant/{t}" for t in _tenants(side, _uses_pool(name))]
    elif kind == "Tenant":
        out.append(f"stack:tenant/{name}")
        out += [f"bundle:{a}" for a in scopes.agents_reaching(name)]
    elif kind == "Agent":
        out.append(f"bundle:{name}")
    elif kind == "Workflow":
        out += [f"bundle:{a}" for a in _agents(side, lambda a: name in a.spec.workflows)]
    elif kind == "DataModel":
        doc = side.get("DataModel", name)
        tables = {t.name for t in doc.model.spec.tables} if doc is not None else set()
        out += [f"bundle:{a}" for a in _agents(
            side, lambda a: any(g.table in tables for g in a.spec.permissions.tables))]
    return out


def compute_impact(changes: list[SpecChange], base: SpecIndex, head: SpecIndex) -> tuple[Impact, list[Finding]]:
    changed = sorted({c.ref for c in changes if c.op != "moved"})
    edges: set[ImpactEdge] = set()
    findings: list[Finding] = []
    head_scopes, base_scopes = _Scopes(head), _Scopes(base)
    for change in changes:
        if change.op == "moved":
            continue
        reached = set(_reach(change, head, head_scopes)) | set(_reach(change, base, base_scopes))
        for node in reached:
            edges.add(ImpactEdge(change.ref, node))
        # Second hop: a tenant reached through its plan, pool or cloud rebuilds its own stack.
        for node in sorted(reached):
            if node.startswith("Tenant/") and node not in changed:
                edges.add(ImpactEdge(node, f"stack:tenant/{node.split('/', 1)[1]}"))
        tenants = sorted(n for n in reached if n.startswith("Tenant/"))
        if change.kind in ("Pool", "Plan", "Cloud") and change.op == "modified" and tenants:
            findings.append(Finding(
                CODE_REACH, "notice", "reach", change.ref,
                f"{change.kind.lower()} '{change.name}' changes; it reaches {len(tenants)} live "
                f"tenant{'s' if len(tenants) != 1 else ''}",
                change.file, change.position))
    affected = sorted({e.target for e in edges} - set(changed))
    ordered = tuple(sorted(edges, key=lambda e: (e.source, e.target)))
    return Impact(tuple(changed), tuple(affected), ordered), findings
