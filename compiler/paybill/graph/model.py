"""The dependency graph: nodes for specs and stacks, edges meaning "must exist first".

Direction: an edge ``u -> v`` says ``u`` must exist before ``v`` (``v`` reads or references ``u``).
Hence:

* predecessors of ``v`` are what ``v`` needs (its dependencies);
* descendants of ``u`` are everything a change to ``u`` can touch (its impact);
* topological generations are apply waves; stacks in the same wave can be applied in parallel.

Node ids are ``Kind/name`` for specs (``Tenant/acme-corp``, as users write them) and
``Stack/<address>`` for stacks (``Stack/pool/aws-use1-shared``). Every listing this module hands
out is sorted by :func:`sort_key`, never by insertion or hash order, so output is deterministic.

Storage. At 100,000 tenants the graph has about 200,000 nodes and 500,000 edges; as a networkx
``DiGraph`` with a payload dict per node and edge it held about 400 MB for the whole compile. Here
nodes are numbered (in insertion order, as networkx would list them), edges are three integer
arrays, and a node's or edge's payload is derived when asked: a node keeps only the document or
stack unit it stands for, and an edge only a small number naming its reason and position (its
document is the referencing node's, as every edge rule makes it; an edge whose document is another
one is kept whole). The algorithms stay networkx's: a node that nothing depends on cannot be on a
cycle, so sinks are peeled off first (stacks, tenants, agents) and networkx runs topological sort,
strongly connected components and ``find_cycle`` on the few hundred nodes left (:meth:`core`), with
nodes and edges in the same relative order as the whole graph, so cycles and waves are exactly
those of the whole graph. :attr:`DependencyGraph.g` still builds the whole graph in networkx, for
callers that want another algorithm; the compile never asks for it.
"""

from __future__ import annotations

import bisect
from array import array
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from paybill.load.document import SpecDocument
from paybill.resolve.units import StackUnit

if TYPE_CHECKING:  # loaded on first use: an acyclic graph's compile never needs it (a third of a second)
    import networkx as nx

STACK = "Stack"
KIND_ORDER = ("Cloud", "Plan", "Pool", "DataModel", "Workflow", "Agent", "Tenant", STACK)
"""Listing order of kinds: roughly the order things come into existence."""
_RANK = {kind: i for i, kind in enumerate(KIND_ORDER)}
_STACK_PREFIX = STACK + "/"


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


Payload = SpecDocument | StackUnit | NodeInfo
"""What a node stands for: a spec's document, a stack's unit, or an explicit :class:`NodeInfo`."""


def spec_node_info(doc: SpecDocument) -> NodeInfo:
    """The node of a spec document (a tenant's carries its lifecycle and isolation model)."""
    attrs = {}
    if doc.kind == "Tenant":
        attrs = {"lifecycle": doc.model.spec.lifecycle, "isolation": doc.model.spec.isolation.model}
    return NodeInfo(doc.ref, doc.kind, doc.name, doc, attrs=attrs)


def stack_node_info(unit: StackUnit) -> NodeInfo:
    """The node of a stack unit (its kind and sources as attributes)."""
    return NodeInfo(stack_node_id(unit.address), STACK, unit.address, unit.owner,
                    attrs={"stack": unit.kind, "sources": list(unit.sources)})


def _info_of(payload: Payload) -> NodeInfo:
    if isinstance(payload, NodeInfo):
        return payload
    if isinstance(payload, StackUnit):
        return stack_node_info(payload)
    return spec_node_info(payload)


def _document_of(payload: Payload) -> SpecDocument | None:
    if isinstance(payload, StackUnit):
        return payload.owner
    return payload.document if isinstance(payload, NodeInfo) else payload


class DependencyGraph:
    """Numbered nodes, edges in integer arrays, payloads derived on demand; sorted, deterministic
    queries. See the module docstring for why it is not a networkx graph itself."""

    __slots__ = ("_after", "_at", "_before", "_code", "_core", "_explicit", "_full", "_ids", "_late",
                 "_ordered", "_payloads", "_pred", "_pred_edge", "_pred_start", "_shape_codes", "_shapes", "_succ",
                 "_succ_edge", "_succ_start", "_waves")

    def __init__(self) -> None:
        self._ids: list[str] = []  # node number -> id
        self._at: dict[str, int] = {}  # id -> node number
        self._payloads: list[Payload] = []
        self._before = array("i")  # edge number -> node numbers, in insertion order
        self._after = array("i")
        self._code = array("i")  # edge number -> shape (>= 0) or -1 - explicit index
        self._shapes: list[tuple[str, tuple[Any, ...]]] = []  # (reason, loc); document: the after node's
        self._shape_codes: dict[tuple[str, tuple[Any, ...]], int] = {}
        self._explicit: list[EdgeInfo] = []
        self._ordered = True  # edges were appended ascending by (before, after) node numbers
        self._late: set[tuple[int, int]] = set()  # edges added since the adjacency arrays were built
        self._succ_start: array[int] | None = None
        self._succ = array("i")  # per node, successors ascending (with their edge numbers)
        self._succ_edge = array("i")
        self._pred_start = array("i")
        self._pred = array("i")
        self._pred_edge = array("i")
        self._waves: dict[str, int] | None = None
        self._core: nx.DiGraph[str] | None = None
        self._full: nx.DiGraph[str] | None = None

    # -- construction --------------------------------------------------------------------------
    def add_node(self, info: NodeInfo | SpecDocument | StackUnit, identifier: str | None = None) -> None:
        """Add a node (a :class:`NodeInfo`, or the document or stack unit it is derived from; then
        ``identifier`` may pass its id, saving a string). Adding an existing id replaces its payload."""
        if identifier is None:
            identifier = info.id if isinstance(info, NodeInfo) else \
                stack_node_id(info.address) if isinstance(info, StackUnit) else info.ref
        number = self._at.get(identifier)
        if number is None:
            self._at[identifier] = len(self._ids)
            self._ids.append(identifier)
            self._payloads.append(info)
            self._changed(adjacency=True)
        else:
            self._payloads[number] = info
            self._full = None

    def add_edge(self, before: str, after: str, info: EdgeInfo) -> None:
        """``before`` must exist first; both nodes must already be in the graph. An edge that exists
        already keeps its first info."""
        if before not in self._at or after not in self._at:
            raise KeyError(f"edge {before} -> {after}: unknown node")
        b, a = self._at[before], self._at[after]
        if self._edge_number(b, a) is None:
            self._append_edge(b, a, info)
            self._late.add((b, a))
            self._changed(adjacency=False)

    def _append_edge(self, before: int, after: int, info: EdgeInfo) -> None:
        if self._before and (self._before[-1], self._after[-1]) >= (before, after):
            self._ordered = False
        self._before.append(before)
        self._after.append(after)
        self._code.append(self._encode(after, info))

    def _encode(self, after: int, info: EdgeInfo) -> int:
        """A shape number when the edge's document is the referencing node's, else an explicit entry."""
        if info.document is not None and info.document is _document_of(self._payloads[after]):
            shape = (info.reason, info.loc)
            code = self._shape_codes.get(shape)
            if code is None:
                code = self._shape_codes[shape] = len(self._shapes)
                self._shapes.append(shape)
            return code
        self._explicit.append(info)
        return -len(self._explicit)

    def _changed(self, *, adjacency: bool) -> None:
        if adjacency:
            self._succ_start = None
        self._waves = None
        self._core = None
        self._full = None

    def add_edges_sorted(self, edges: Iterable[tuple[int, int, EdgeInfo]]) -> None:
        """Bulk insertion by node number, for builders: no duplicate check (the caller has none)."""
        for before, after, info in edges:
            self._append_edge(before, after, info)
        self._changed(adjacency=True)

    def number(self, identifier: str) -> int | None:
        """The node number of ``identifier`` (insertion order), or None."""
        return self._at.get(identifier)

    # -- adjacency -----------------------------------------------------------------------------
    def _adjacency(self) -> array[int]:
        """Build the successor and predecessor arrays (compressed rows) when edges changed."""
        if self._succ_start is None or self._late:
            count = len(self._ids)
            # Bucketing by target keeps insertion order within a row: ascending sources when edges
            # came ascending by (source, target), as build_graph adds them.
            ordered = self._ordered
            self._succ_start, self._succ, self._succ_edge = _rows(count, self._before, self._after, ordered)
            self._pred_start, self._pred, self._pred_edge = _rows(count, self._after, self._before, ordered)
            self._late = set()
        return self._succ_start

    def _edge_number(self, before: int, after: int) -> int | None:
        if (before, after) in self._late:
            return next(i for i in range(len(self._before) - 1, -1, -1)
                        if self._before[i] == before and self._after[i] == after)
        if self._succ_start is None:
            self._adjacency()
        start = self._succ_start
        assert start is not None
        lo, hi = start[before], start[before + 1]
        i = bisect.bisect_left(self._succ, after, lo, hi)
        return self._succ_edge[i] if i < hi and self._succ[i] == after else None

    def _successors(self, number: int) -> array[int]:
        start = self._adjacency()
        return self._succ[start[number]:start[number + 1]]

    def _predecessors(self, number: int) -> array[int]:
        self._adjacency()
        return self._pred[self._pred_start[number]:self._pred_start[number + 1]]

    # -- lookups -------------------------------------------------------------------------------
    def __contains__(self, identifier: object) -> bool:
        return identifier in self._at

    def __len__(self) -> int:
        return len(self._ids)

    def number_of_edges(self) -> int:
        return len(self._before)

    def has_edge(self, before: str, after: str) -> bool:
        b, a = self._at.get(before), self._at.get(after)
        return b is not None and a is not None and self._edge_number(b, a) is not None

    def node(self, identifier: str) -> NodeInfo:
        return _info_of(self._payloads[self._at[identifier]])

    def edge(self, before: str, after: str) -> EdgeInfo:
        b, a = self._at[before], self._at[after]
        number = self._edge_number(b, a)
        if number is None:
            raise KeyError(f"no edge {before} -> {after}")
        return self._edge_info(number)

    def _edge_info(self, number: int) -> EdgeInfo:
        code = self._code[number]
        if code < 0:
            return self._explicit[-1 - code]
        reason, loc = self._shapes[code]
        return EdgeInfo(reason, _document_of(self._payloads[self._after[number]]), loc)

    def nodes(self) -> list[str]:
        return sorted(self._ids, key=sort_key)

    def edges(self) -> list[tuple[str, str]]:
        ids = self._ids
        keys = [sort_key(i) for i in ids]
        order = sorted(range(len(self._before)), key=lambda e: (keys[self._before[e]], keys[self._after[e]]))
        return [(ids[self._before[e]], ids[self._after[e]]) for e in order]

    def stacks(self) -> list[str]:
        """Stack node ids, sorted."""
        return sorted((n for n in self._ids if n.startswith(_STACK_PREFIX)), key=sort_key)

    def dependencies(self, identifier: str) -> list[str]:
        """Direct predecessors: what ``identifier`` needs."""
        return sorted((self._ids[p] for p in self._predecessors(self._at[identifier])), key=sort_key)

    def dependents(self, identifier: str) -> list[str]:
        """Direct successors: what needs ``identifier``."""
        return sorted((self._ids[s] for s in self._successors(self._at[identifier])), key=sort_key)

    def reach(self, identifier: str, *, downstream: bool, depth: int | None = None) -> dict[str, int]:
        """Nodes reachable from ``identifier`` (excluded) with their distance, up to ``depth`` hops.

        ``downstream=True`` follows edges forward: everything that depends on the node, i.e. the
        impact of changing it. ``downstream=False`` walks back to everything it needs.
        """
        step = self._successors if downstream else self._predecessors
        origin = self._at[identifier]
        seen = {origin: 0}
        queue = deque([origin])
        while queue:
            current = queue.popleft()
            distance = seen[current]
            if depth is not None and distance >= depth:
                continue
            for neighbour in step(current):
                if neighbour not in seen:
                    seen[neighbour] = distance + 1
                    queue.append(neighbour)
        del seen[origin]
        return dict(sorted(((self._ids[n], d) for n, d in seen.items()), key=lambda item: sort_key(item[0])))

    def subgraph(self, identifiers: Iterable[str]) -> DependencyGraph:
        """The induced subgraph on ``identifiers`` (payloads shared, insertion sorted).

        Waves are those of the whole graph: a focused view must not renumber the apply order.
        """
        keep = sorted(set(identifiers), key=sort_key)
        sub = DependencyGraph()
        for identifier in keep:
            sub.add_node(self._payloads[self._at[identifier]], identifier)
        kept = sub._at
        ids = self._ids
        sub.add_edges_sorted(
            (kept[ids[self._before[e]]], kept[ids[self._after[e]]], self._edge_info(e))
            for e in self._sorted_edge_numbers() if ids[self._before[e]] in kept and ids[self._after[e]] in kept)
        if self.is_acyclic():
            sub._waves = {n: w for n, w in self.stack_waves().items() if n in kept}
        return sub

    def _sorted_edge_numbers(self) -> list[int]:
        keys = [sort_key(i) for i in self._ids]
        return sorted(range(len(self._before)), key=lambda e: (keys[self._before[e]], keys[self._after[e]]))

    # -- networkx views ------------------------------------------------------------------------
    @property
    def g(self) -> nx.DiGraph[str]:
        """The whole graph as a networkx ``DiGraph`` (``info`` payloads on nodes and edges), built
        on first use: nodes and edges in insertion order, as if they had been added to it directly."""
        if self._full is None:
            import networkx as nx

            full: nx.DiGraph[str] = nx.DiGraph()
            full.add_nodes_from((identifier, {"info": self.node(identifier)}) for identifier in self._ids)
            full.add_edges_from((self._ids[self._before[e]], self._ids[self._after[e]], {"info": self._edge_info(e)})
                                for e in range(len(self._before)))
            self._full = full
        return self._full

    def core(self) -> nx.DiGraph[str]:
        """The nodes that can be on a cycle, as a networkx graph: the graph without the nodes from
        which no cycle can be reached back (sinks, peeled repeatedly: stacks, then tenants...).

        Nodes and edges are inserted in the whole graph's insertion order, so networkx walks them
        in the same order as it would walk the whole graph (the same cycle is found first).
        """
        if self._core is None:
            import networkx as nx

            peeled = self._peel()
            core: nx.DiGraph[str] = nx.DiGraph()
            core.add_nodes_from(self._ids[n] for n in range(len(self._ids)) if not peeled[n])
            core.add_edges_from((self._ids[b], self._ids[a]) for b, a in zip(self._before, self._after, strict=True)
                                if not peeled[b] and not peeled[a])
            self._core = core
        return self._core

    def _peel(self) -> bytearray:
        """1 for every node no cycle passes through: nodes whose successors are all such nodes."""
        order = self._peel_order()
        peeled = bytearray(len(self._ids))
        for n in order:
            peeled[n] = 1
        return peeled

    def _peel_order(self) -> list[int]:
        """Nodes removed by repeatedly removing nodes without successors, in removal order (its
        reverse is a topological order of them, and no edge leads from them to the others)."""
        start = self._adjacency()
        out = array("i", (start[n + 1] - start[n] for n in range(len(self._ids))))
        order = [n for n in range(len(self._ids)) if out[n] == 0]
        pred, pred_start = self._pred, self._pred_start
        i = 0
        while i < len(order):
            n = order[i]
            i += 1
            for p in pred[pred_start[n]:pred_start[n + 1]]:
                out[p] -= 1
                if out[p] == 0:
                    order.append(p)
        return order

    # -- order ---------------------------------------------------------------------------------
    def is_acyclic(self) -> bool:
        """Computes (and caches) the waves on the way: one topological pass serves both."""
        if self._waves is not None or len(self._peel_order()) == len(self._ids):
            self.stack_waves()
            return True  # every node peeled off: no cycle (networkx is not even loaded)
        import networkx as nx

        try:
            self.stack_waves()
        except nx.NetworkXUnfeasible:
            return False
        return True

    def generations(self) -> Iterator[list[str]]:
        """Topological generations over every node (sources first), each sorted."""
        import networkx as nx

        for generation in nx.topological_generations(self.g):
            yield sorted(generation, key=sort_key)

    def stack_waves(self) -> dict[str, int]:
        """Apply wave (1-based) of every stack node; requires an acyclic graph (else raises
        ``networkx.NetworkXUnfeasible``).

        A stack's wave is one more than the highest wave among the stacks it transitively needs,
        which is the topological generation of the graph projected onto stacks: specs are not
        applied, so they never add a wave, but a dependency between stacks that runs through
        specs still counts. Computed in one pass over a topological order: networkx's order of the
        :meth:`core`, then the peeled nodes in reverse (a wave does not depend on which order). An
        acyclic graph peels off whole (every finite DAG has a sink): its core is empty, and the
        reversed peel alone is the order.
        """
        if self._waves is None:
            peel = self._peel_order()
            order: list[int] = []
            if len(peel) != len(self._ids):
                import networkx as nx

                order.extend(self._at[identifier] for identifier in nx.topological_sort(self.core()))
            order.extend(reversed(peel))
            ids = self._ids
            stack = bytearray(1 if i.startswith(_STACK_PREFIX) else 0 for i in ids)
            before = array("i", bytes(4 * len(ids)))  # node -> number of stack levels strictly before it
            pred, pred_start = self._pred, self._pred_start
            for n in order:
                level = 0
                for p in pred[pred_start[n]:pred_start[n + 1]]:
                    candidate = before[p] + stack[p]
                    if candidate > level:
                        level = candidate
                before[n] = level
            self._waves = {ids[n]: before[n] + 1 for n in range(len(ids)) if stack[n]}
        return self._waves

    def apply_waves(self) -> list[list[str]]:
        """Stack addresses grouped by wave, in wave order; each wave sorted."""
        grouped: dict[int, list[str]] = {}
        for identifier, wave in self.stack_waves().items():
            grouped.setdefault(wave, []).append(identifier.removeprefix(_STACK_PREFIX))
        return [sorted(grouped[w]) for w in sorted(grouped)]


def _rows(count: int, source: array[int], target: array[int],
          ordered: bool) -> tuple[array[int], array[int], array[int]]:
    """Compressed rows: for each node ``n`` of ``count``, ``targets[start[n]:start[n + 1]]`` are the
    targets of its edges, ascending, and ``numbers`` the edges' numbers.

    A counting sort by source; with ``ordered`` (edges inserted ascending by ``(source, target)``,
    or by ``(target, source)`` for the predecessor rows) every row is already ascending.
    """
    start = array("i", bytes(4 * (count + 1)))
    for s in source:
        start[s + 1] += 1
    for n in range(count):
        start[n + 1] += start[n]
    cursor = array("i", start)
    targets = array("i", bytes(4 * len(source)))
    numbers = array("i", bytes(4 * len(source)))
    for e, (s, t) in enumerate(zip(source, target, strict=True)):
        at = cursor[s]
        cursor[s] = at + 1
        targets[at] = t
        numbers[at] = e
    if not ordered:
        for n in range(count):
            lo, hi = start[n], start[n + 1]
            if hi - lo > 1:
                row = sorted(zip(targets[lo:hi], numbers[lo:hi], strict=True))
                targets[lo:hi] = array("i", (t for t, _ in row))
                numbers[lo:hi] = array("i", (e for _, e in row))
    return start, targets, numbers
