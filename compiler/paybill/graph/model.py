"""The dependency graph: nodes for specs and stacks, edges meaning "must exist first".

Direction: an edge ``u -> v`` says ``u`` must exist before ``v`` (``v`` reads or references ``u``).
Hence:

* predecessors of ``v`` are what ``v`` needs (its dependencies);
* descendants of ``u`` are everything a change to ``u`` can touch (its impact);
* topological generations are apply waves; stacks in the same wave can be applied in parallel.

Node ids are ``Kind/name`` for specs (``Tenant/acme-corp``, as users write them) and
``Stack/<address>`` for stacks (``Stack/pool/aws-use1-shared``). Every listing this module hands
out is sorted by :func:`sort_key`, never by insertion or hash order, so output is deterministic.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from paybill.load.document import SpecDocument

STACK = "Stack"
KIND_ORDER = ("Cloud", "Plan", "Pool", "DataModel", "Workflow", "Agent", "Tenant", STACK)
"""Listing order of kinds: roughly the order things come into existence."""
_RANK = {kind: i for i, kind in enumerate(KIND_ORDER)}


def node_id(kind: str, name: str) -> str:
    return f"{kind}/{name}"


def stack_node_id(address: str) -> str:
    """``pool/x`` -> ``Stack/pool/x``."""
    return f"{STACK}/{address}"


def sort_key(identifier: str) -> tuple[int, str]:
    kind, _, name = identifier.partition("/")
    return (_RANK.get(kind, len(KIND_ORDER)), identifier if kind not in _RANK else name)


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """A node: what it is and where it is written (``document`` at ``loc``) for diagnostics."""

    id: str
    kind: str
    name: str
    document: SpecDocument | None
    loc: tuple[Any, ...] = ("metadata", "name")
    attrs: dict[str, Any] = field(default_factory=dict)
    """Small facts for renderers: a tenant's lifecycle, a stack's sources and kind."""

    @property
    def path(self) -> str | None:
        return self.document.path if self.document is not None else None


@dataclass(frozen=True, slots=True)
class EdgeInfo:
    """Why an edge exists: the reference (``document`` at ``loc``) that creates the dependency."""

    reason: str
    document: SpecDocument | None = None
    loc: tuple[Any, ...] = ()


class DependencyGraph:
    """A networkx DiGraph with typed node/edge payloads and sorted, deterministic queries."""

    __slots__ = ("_waves", "g")

    def __init__(self) -> None:
        self.g: nx.DiGraph[str] = nx.DiGraph()
        self._waves: dict[str, int] | None = None

    # -- construction --------------------------------------------------------------------------
    def add_node(self, info: NodeInfo) -> None:
        self.g.add_node(info.id, info=info)
        self._waves = None

    def add_edge(self, before: str, after: str, info: EdgeInfo) -> None:
        """``before`` must exist first; both nodes must already be in the graph."""
        if before not in self.g or after not in self.g:
            raise KeyError(f"edge {before} -> {after}: unknown node")
        if not self.g.has_edge(before, after):
            self.g.add_edge(before, after, info=info)
            self._waves = None

    # -- lookups -------------------------------------------------------------------------------
    def __contains__(self, identifier: object) -> bool:
        return identifier in self.g

    def __len__(self) -> int:
        return self.g.number_of_nodes()

    def node(self, identifier: str) -> NodeInfo:
        info: NodeInfo = self.g.nodes[identifier]["info"]
        return info

    def edge(self, before: str, after: str) -> EdgeInfo:
        info: EdgeInfo = self.g.edges[before, after]["info"]
        return info

    def nodes(self) -> list[str]:
        return sorted(self.g.nodes, key=sort_key)

    def edges(self) -> list[tuple[str, str]]:
        return sorted(self.g.edges, key=lambda e: (sort_key(e[0]), sort_key(e[1])))

    def stacks(self) -> list[str]:
        """Stack node ids, sorted."""
        return sorted((n for n in self.g.nodes if n.startswith(STACK + "/")), key=sort_key)

    def dependencies(self, identifier: str) -> list[str]:
        """Direct predecessors: what ``identifier`` needs."""
        return sorted(self.g.predecessors(identifier), key=sort_key)

    def dependents(self, identifier: str) -> list[str]:
        """Direct successors: what needs ``identifier``."""
        return sorted(self.g.successors(identifier), key=sort_key)

    def reach(self, identifier: str, *, downstream: bool, depth: int | None = None) -> dict[str, int]:
        """Nodes reachable from ``identifier`` (excluded) with their distance, up to ``depth`` hops.

        ``downstream=True`` follows edges forward: everything that depends on the node, i.e. the
        impact of changing it. ``downstream=False`` walks back to everything it needs.
        """
        step = self.g.successors if downstream else self.g.predecessors
        seen = {identifier: 0}
        queue = deque([identifier])
        while queue:
            current = queue.popleft()
            distance = seen[current]
            if depth is not None and distance >= depth:
                continue
            for neighbour in step(current):
                if neighbour not in seen:
                    seen[neighbour] = distance + 1
                    queue.append(neighbour)
        del seen[identifier]
        return dict(sorted(seen.items(), key=lambda item: sort_key(item[0])))

    def subgraph(self, identifiers: Iterable[str]) -> DependencyGraph:
        """The induced subgraph on ``identifiers`` (payloads shared, insertion sorted).

        Waves are those of the whole graph: a focused view must not renumber the apply order.
        """
        keep = sorted(set(identifiers), key=sort_key)
        sub = DependencyGraph()
        for identifier in keep:
            sub.add_node(self.node(identifier))
        kept = set(keep)
        for before, after in self.edges():
            if before in kept and after in kept:
                sub.add_edge(before, after, self.edge(before, after))
        if self.is_acyclic():
            sub._waves = {n: w for n, w in self.stack_waves().items() if n in kept}
        return sub

    # -- order ---------------------------------------------------------------------------------
    def is_acyclic(self) -> bool:
        """Computes (and caches) the waves on the way: one topological pass serves both."""
        try:
            self.stack_waves()
        except nx.NetworkXUnfeasible:
            return False
        return True

    def generations(self) -> Iterator[list[str]]:
        """Topological generations over every node (sources first), each sorted."""
        for generation in nx.topological_generations(self.g):
            yield sorted(generation, key=sort_key)

    def stack_waves(self) -> dict[str, int]:
        """Apply wave (1-based) of every stack node; requires an acyclic graph.

        A stack's wave is one more than the highest wave among the stacks it transitively needs,
        which is the topological generation of the graph projected onto stacks: specs are not
        applied, so they never add a wave, but a dependency between stacks that runs through
        specs still counts. Computed in one pass over a topological order.
        """
        if self._waves is None:
            before: dict[str, int] = {}  # node -> number of stack levels strictly before it
            waves: dict[str, int] = {}
            for identifier in nx.topological_sort(self.g):
                level = 0
                for pred in self.g.predecessors(identifier):
                    level = max(level, before[pred] + (1 if pred in waves else 0))
                before[identifier] = level
                if identifier.startswith(STACK + "/"):
                    waves[identifier] = level + 1
            self._waves = waves
        return self._waves

    def apply_waves(self) -> list[list[str]]:
        """Stack addresses grouped by wave, in wave order; each wave sorted."""
        grouped: dict[int, list[str]] = {}
        for identifier, wave in self.stack_waves().items():
            grouped.setdefault(wave, []).append(identifier.removeprefix(STACK + "/"))
        return [sorted(grouped[w]) for w in sorted(grouped)]
