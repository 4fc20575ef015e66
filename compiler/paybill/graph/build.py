"""Build the dependency graph from a spec index."""

from __future__ import annotations

from paybill.graph.edges import EDGE_RULES, EdgeRule
from paybill.graph.model import DependencyGraph, EdgeInfo, Payload, stack_node_id
from paybill.graph.stacks import StackUnit, stack_units
from paybill.validate.index import SpecIndex


def build_graph(
    index: SpecIndex, units: list[StackUnit] | None = None, rules: tuple[EdgeRule, ...] = EDGE_RULES
) -> DependencyGraph:
    """Every spec and every stack as nodes, every reference as an edge; inserted in sorted order.

    ``units`` defaults to :func:`stack_units` (pass them when already computed). Sorting before
    insertion makes the graph's numbering (and so any traversal) independent of the order
    documents were loaded in. A node keeps only its document or unit (:mod:`paybill.graph.model`).
    """
    if units is None:
        units = stack_units(index)
    nodes: list[tuple[str, Payload]] = [(doc.ref, doc) for doc in index.all_documents()]
    nodes.extend((stack_node_id(unit.address), unit) for unit in units)
    nodes.sort(key=lambda n: n[0])
    graph = DependencyGraph()
    for identifier, payload in nodes:
        graph.add_node(payload, identifier)
    del nodes
    count = len(graph)
    edges: dict[int, EdgeInfo] = {}  # before * count + after -> the first rule's info for that pair
    number = graph.number
    for rule in rules:
        for before, after, info in rule(index, units):
            b, a = number(before), number(after)
            if b is not None and a is not None:
                edges.setdefault(b * count + a, info)  # the first rule to link two nodes names the edge
    graph.add_edges_sorted((key // count, key % count, edges[key]) for key in sorted(edges))
    return graph
