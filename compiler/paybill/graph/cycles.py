"""Dependency cycles as diagnostics that name every hop of the cycle with its position.

With today's reference kinds specs cannot form a cycle (references only point from tenants and
agents towards clouds, plans, pools, data models and workflows), but the check runs on every compile
anyway: new reference kinds (a pool reading another pool, a workflow calling a workflow) would make
cycles possible, and an apply order computed from a cyclic graph would be wrong, not just slow.
"""

from __future__ import annotations

import itertools

from paybill.diagnostics import DiagnosticSink, Position
from paybill.graph.model import DependencyGraph, sort_key

CYCLE_CODE = "PB0690"


def _rotate(cycle: list[str]) -> list[str]:
    """Start the cycle at its smallest node so the message is the same whichever node was found first."""
    start = min(range(len(cycle)), key=lambda i: sort_key(cycle[i]))
    return cycle[start:] + cycle[:start]


def _find_cycle(graph: DependencyGraph, component: set[str]) -> list[str]:
    """One cycle through the component's smallest node, as a node list (first node not repeated)."""
    import networkx as nx  # only a cyclic graph gets here: the common path never loads it

    sub = graph.core().subgraph(component)
    start = min(component, key=sort_key)
    edges = nx.find_cycle(sub, source=start)
    return _rotate([before for before, _after in edges])


def _where(graph: DependencyGraph, before: str, after: str) -> tuple[str, Position, str]:
    """Where ``after`` references ``before`` (the edge's source position), else the node's name."""
    info = graph.edge(before, after)
    node = graph.node(after)
    document = info.document or node.document
    if document is None:
        return "<graph>", Position(), info.reason
    loc = info.loc or node.loc
    return document.path, document.position(*loc), info.reason


def cycles(graph: DependencyGraph) -> list[list[str]]:
    """One cycle per strongly connected component that has one (self-loops included), sorted.

    Only the graph's :meth:`~DependencyGraph.core` can hold a cycle: the nodes peeled off it have
    no path back to themselves, so its components with a cycle are the whole graph's.
    """
    import networkx as nx  # only a cyclic graph gets here: the common path never loads it

    found = []
    core = graph.core()
    for component in nx.strongly_connected_components(core):
        if len(component) > 1:
            found.append(_find_cycle(graph, component))
        else:
            (only,) = component
            if core.has_edge(only, only):
                found.append([only])
    return sorted(found, key=lambda c: sort_key(c[0]))


def report_cycles(graph: DependencyGraph, sink: DiagnosticSink) -> bool:
    """Report every cycle; True when the graph is acyclic (the fast, common path)."""
    if graph.is_acyclic():
        return True
    for cycle in cycles(graph):
        hops = []
        closing = [*cycle, cycle[0]]
        for before, after in itertools.pairwise(closing):
            path, position, reason = _where(graph, before, after)
            hops.append(f"{after} needs {before} ({reason} at {path}:{position.line}:{position.col})")
        path, position, _ = _where(graph, closing[-2], closing[-1])
        sink.error(
            CYCLE_CODE,
            "dependency cycle " + " -> ".join([*cycle, cycle[0]]) + ": " + "; ".join(hops),
            path,
            position,
            "an edge means 'must exist first', so a cycle has no apply order; remove one of these references",
        )
    return False
