"""Render a dependency graph (or a focused part of it) as Mermaid, Graphviz dot, or JSON.

Every format lists nodes and edges in :func:`~paybill.graph.model.sort_key` order so the output is
stable enough to commit or diff. Edges point the way the graph does: from what must exist first to
what needs it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from paybill.graph.model import STACK, DependencyGraph

FORMATS = ("mermaid", "dot", "json")


@dataclass(frozen=True, slots=True)
class Focus:
    """A focus query: the node, and what it needs / what needs it, with distances."""

    node: str
    dependencies: dict[str, int]
    dependents: dict[str, int]

    @property
    def members(self) -> list[str]:
        return [self.node, *self.dependencies, *self.dependents]


def focus(graph: DependencyGraph, node: str, depth: int | None, direction: str = "both") -> Focus:
    """``direction``: ``dependents`` (impact), ``dependencies`` (needs), or ``both``."""
    up = graph.reach(node, downstream=False, depth=depth) if direction in ("both", "dependencies") else {}
    down = graph.reach(node, downstream=True, depth=depth) if direction in ("both", "dependents") else {}
    return Focus(node, up, down)


def _label(graph: DependencyGraph, identifier: str) -> str:
    info = graph.node(identifier)
    lifecycle = info.attrs.get("lifecycle")
    suffix = f" ({lifecycle})" if lifecycle in ("deleted", "suspended", "offboarding") else ""
    wave = graph.stack_waves().get(identifier) if info.kind == STACK else None
    if wave is not None:
        suffix += f" [wave {wave}]"
    return f"{identifier}{suffix}"


def render_mermaid(graph: DependencyGraph, highlight: str | None = None) -> str:
    nodes = graph.nodes()
    ids = {n: f"n{i}" for i, n in enumerate(nodes)}
    lines = ["flowchart LR"]
    for n in nodes:
        label = _label(graph, n).replace('"', "#quot;")
        shape = f'[["{label}"]]' if graph.node(n).kind == STACK else f'["{label}"]'
        lines.append(f"  {ids[n]}{shape}")
    for before, after in graph.edges():
        lines.append(f"  {ids[before]} --> {ids[after]}")
    if highlight is not None and highlight in ids:
        lines.append("  classDef focus stroke-width:3px")
        lines.append(f"  class {ids[highlight]} focus")
    return "\n".join(lines) + "\n"


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_dot(graph: DependencyGraph, highlight: str | None = None) -> str:
    lines = ["digraph paybill {", "  rankdir=LR;", "  node [shape=box];"]
    for n in graph.nodes():
        attrs = [f"label={_dot_quote(_label(graph, n))}"]
        if graph.node(n).kind == STACK:
            attrs.append("shape=box3d")
        if n == highlight:
            attrs.append("penwidth=3")
        lines.append(f"  {_dot_quote(n)} [{', '.join(attrs)}];")
    for before, after in graph.edges():
        reason = _dot_quote(graph.edge(before, after).reason)
        lines.append(f"  {_dot_quote(before)} -> {_dot_quote(after)} [label={reason}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _node_json(graph: DependencyGraph, identifier: str) -> dict[str, Any]:
    info = graph.node(identifier)
    entry: dict[str, Any] = {"id": identifier, "kind": info.kind, "name": info.name, "path": info.path}
    if info.document is not None and info.kind != STACK:
        position = info.document.position(*info.loc)
        entry.update(line=position.line, col=position.col)
    entry.update(info.attrs)
    wave = graph.stack_waves().get(identifier)
    if wave is not None:
        entry["wave"] = wave
    return entry


def graph_json(graph: DependencyGraph, query: Focus | None = None) -> dict[str, Any]:
    """The JSON document: nodes, edges, apply waves, and the focus answer when asked."""
    doc: dict[str, Any] = {
        "direction": "an edge from -> to means 'from' must exist before 'to'",
        "nodes": [_node_json(graph, n) for n in graph.nodes()],
        "edges": [{"from": b, "to": a, "reason": graph.edge(b, a).reason} for b, a in graph.edges()],
        "waves": graph.apply_waves(),
    }
    if query is not None:
        doc["focus"] = {
            "node": query.node,
            "dependencies": [{"id": n, "distance": d} for n, d in query.dependencies.items()],
            "dependents": [{"id": n, "distance": d} for n, d in query.dependents.items()],
            "impact": _impact_summary(query),
        }
    return doc


def _impact_summary(query: Focus) -> dict[str, list[str]]:
    """Dependents grouped by kind (``Tenant`` -> names): "which tenants does this change touch"."""
    grouped: dict[str, list[str]] = {}
    for identifier in query.dependents:
        kind, _, name = identifier.partition("/")
        grouped.setdefault(kind, []).append(name)
    return {kind: sorted(names) for kind, names in sorted(grouped.items())}


def render_json(graph: DependencyGraph, query: Focus | None = None) -> str:
    return orjson.dumps(graph_json(graph, query), option=orjson.OPT_INDENT_2).decode() + "\n"


def render(fmt: str, graph: DependencyGraph, query: Focus | None = None) -> str:
    """Render ``graph``; with ``query``, only the focused node and what it reaches."""
    shown = graph.subgraph(query.members) if query is not None else graph
    if fmt == "mermaid":
        return render_mermaid(shown, query.node if query else None)
    if fmt == "dot":
        return render_dot(shown, query.node if query else None)
    return render_json(shown, query)
