"""Structural analysis of a workflow's step graph, shared by the workflow rules and agent bundles."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from paybill.models.workflow import WorkflowSpec

if TYPE_CHECKING:  # networkx is imported on first use: importing the rules (as resolve does) need not load it
    import networkx as nx


@dataclass(frozen=True)
class WorkflowGraph:
    """The directed graph of steps (edges are allowed transitions), built once per workflow."""

    spec: WorkflowSpec

    @cached_property
    def step_index(self) -> dict[str, int]:
        index: dict[str, int] = {}
        for i, step in enumerate(self.spec.steps):
            index.setdefault(step.id, i)
        return index

    @cached_property
    def graph(self) -> nx.DiGraph[str]:
        import networkx as nx

        graph: nx.DiGraph[str] = nx.DiGraph()
        graph.add_nodes_from(self.step_index)
        for step in self.spec.steps:
            for target in step.next:
                if target in self.step_index:
                    graph.add_edge(step.id, target)
        return graph

    @cached_property
    def reachable(self) -> set[str]:
        import networkx as nx

        if self.spec.start not in self.step_index:
            return set()
        return {self.spec.start} | nx.descendants(self.graph, self.spec.start)

    @cached_property
    def can_terminate(self) -> set[str]:
        """Steps from which some path reaches a terminal step."""
        import networkx as nx

        terminals = {t for t in self.spec.terminal if t in self.step_index}
        reverse = self.graph.reverse(copy=False)
        result = set(terminals)
        for terminal in terminals:
            result |= nx.descendants(reverse, terminal)
        return result

    @cached_property
    def loops(self) -> list[list[str]]:
        """Strongly connected groups of steps that form loops, each sorted, in a stable order."""
        import networkx as nx

        groups = []
        for component in nx.strongly_connected_components(self.graph):
            if len(component) > 1 or any(self.graph.has_edge(n, n) for n in component):
                groups.append(sorted(component))
        return sorted(groups)

    def cycle_through(self, step_id: str) -> list[str]:
        """The shortest loop from ``step_id`` back to itself, in walking order (``a -> b -> a``).

        A breadth-first walk that follows each step's ``next`` in the order the spec lists them, so
        the loop shown is the same on every run and reads like the workflow does. Empty when the
        step is on no loop.
        """
        if step_id not in self.graph:
            return []
        parent: dict[str, str] = {}
        queue = [step_id]
        for node in queue:
            for target in self.graph.successors(node):
                if target == step_id:
                    path = [node]
                    while path[-1] != step_id:
                        path.append(parent[path[-1]])
                    return [*reversed(path), step_id]
                if target not in parent:
                    parent[target] = node
                    queue.append(target)
        return []
