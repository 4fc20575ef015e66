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
    def successors(self) -> dict[str, list[str]]:
        """Each step's allowed next steps, in the order the spec lists them (each once).

        Plain lists, so that validation and bundles need not import networkx (a third of a second
        per compile); the order is the one :attr:`graph` gives its successors (edge insertion)."""
        successors: dict[str, list[str]] = {step_id: [] for step_id in self.step_index}
        for step in self.spec.steps:
            row = successors[step.id]
            for target in step.next:
                if target in self.step_index and target not in row:
                    row.append(target)
        return successors

    @cached_property
    def graph(self) -> nx.DiGraph[str]:
        """The step graph as a networkx ``DiGraph``, for callers that want another algorithm."""
        import networkx as nx

        graph: nx.DiGraph[str] = nx.DiGraph()
        graph.add_nodes_from(self.step_index)
        for step_id, targets in self.successors.items():
            for target in targets:
                graph.add_edge(step_id, target)
        return graph

    def depths(self) -> dict[str, int]:
        """Steps reachable from the start step -> the fewest transitions to reach them (start: 0)."""
        if self.spec.start not in self.step_index:
            return {}
        depth = {self.spec.start: 0}
        queue = [self.spec.start]
        for node in queue:
            for target in self.successors[node]:
                if target not in depth:
                    depth[target] = depth[node] + 1
                    queue.append(target)
        return depth

    @cached_property
    def reachable(self) -> set[str]:
        return set(self.depths())

    @cached_property
    def can_terminate(self) -> set[str]:
        """Steps from which some path reaches a terminal step."""
        predecessors: dict[str, list[str]] = {step_id: [] for step_id in self.step_index}
        for step_id, targets in self.successors.items():
            for target in targets:
                predecessors[target].append(step_id)
        result = {t for t in self.spec.terminal if t in self.step_index}
        queue = list(result)
        for node in queue:
            for before in predecessors[node]:
                if before not in result:
                    result.add(before)
                    queue.append(before)
        return result

    @cached_property
    def loops(self) -> list[list[str]]:
        """Strongly connected groups of steps that form loops, each sorted, in a stable order."""
        groups = []
        for component in _components(self.successors):
            if len(component) > 1 or any(n in self.successors[n] for n in component):
                groups.append(sorted(component))
        return sorted(groups)

    def cycle_through(self, step_id: str) -> list[str]:
        """The shortest loop from ``step_id`` back to itself, in walking order (``a -> b -> a``).

        A breadth-first walk that follows each step's ``next`` in the order the spec lists them, so
        the loop shown is the same on every run and reads like the workflow does. Empty when the
        step is on no loop.
        """
        if step_id not in self.successors:
            return []
        parent: dict[str, str] = {}
        queue = [step_id]
        for node in queue:
            for target in self.successors[node]:
                if target == step_id:
                    path = [node]
                    while path[-1] != step_id:
                        path.append(parent[path[-1]])
                    return [*reversed(path), step_id]
                if target not in parent:
                    parent[target] = node
                    queue.append(target)
        return []


def _components(successors: dict[str, list[str]]) -> list[set[str]]:
    """The strongly connected components of a graph given by its successor lists (Tarjan's
    algorithm, iterative: a workflow may be long). Which components, not their order, is the result."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    for root in successors:
        if root in index:
            continue
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        work = [(root, iter(successors[root]))]
        while work:
            node, targets = work[-1]
            for target in targets:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(successors[target])))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    found.append(component)
    return found
