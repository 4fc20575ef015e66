"""A compile of an acyclic repository loads no networkx (a third of a second of every compile), and
the plain algorithms that replace it on that path answer exactly as networkx does.

The workflow rules and bundles walk each workflow's step graph with plain successor lists
(:class:`paybill.validate.workflow_graph.WorkflowGraph`); the dependency graph's waves come from
its peel order when every node peels off (:meth:`paybill.graph.model.DependencyGraph.stack_waves`).
networkx is still used for what only a cyclic graph needs (the cycle diagnostics, PB0690).
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import networkx as nx
from compile_support import SPECS, exit_probe
from hypothesis import given, settings
from hypothesis import strategies as st

from paybill.models.workflow import WorkflowSpec
from paybill.validate.workflow_graph import WorkflowGraph

_IDS = ["a", "b", "c", "d", "e", "f"]


@st.composite
def _workflows(draw: st.DrawFn) -> WorkflowSpec:
    ids = draw(st.lists(st.sampled_from(_IDS), min_size=1, max_size=8))  # repeated ids too
    steps = [{"id": step_id, "action": "none",
              "next": draw(st.lists(st.sampled_from([*_IDS, "zz"]), max_size=4))} for step_id in ids]
    return WorkflowSpec.model_validate({
        "start": draw(st.sampled_from([*_IDS, "zz"])),
        "terminal": draw(st.lists(st.sampled_from([*_IDS, "zz"]), min_size=1, max_size=3)),
        "steps": steps,
    })


def _networkx_graph(spec: WorkflowSpec) -> nx.DiGraph:
    """The step graph exactly as the networkx version of WorkflowGraph built it."""
    index: dict[str, int] = {}
    for i, step in enumerate(spec.steps):
        index.setdefault(step.id, i)
    graph: nx.DiGraph = nx.DiGraph()
    graph.add_nodes_from(index)
    for step in spec.steps:
        for target in step.next:
            if target in index:
                graph.add_edge(step.id, target)
    return graph


@settings(max_examples=300, deadline=None)
@given(spec=_workflows())
def test_the_plain_step_graph_answers_as_networkx(spec: WorkflowSpec) -> None:
    graph = _networkx_graph(spec)
    plain = WorkflowGraph(spec)
    assert {n: list(graph.successors(n)) for n in graph} == plain.successors
    start = spec.start
    depths = nx.single_source_shortest_path_length(graph, start) if start in graph else {}
    assert plain.depths() == depths
    assert plain.reachable == ({start} | nx.descendants(graph, start) if start in graph else set())
    terminals = {t for t in spec.terminal if t in graph}
    assert plain.can_terminate == terminals.union(*(nx.descendants(graph.reverse(), t) for t in terminals))
    loops = sorted(sorted(c) for c in nx.strongly_connected_components(graph)
                   if len(c) > 1 or any(graph.has_edge(n, n) for n in c))
    assert plain.loops == loops
    assert list(plain.graph.edges) == list(graph.edges)
    for step_id in graph:
        cycle = plain.cycle_through(step_id)
        on_loop = any(step_id in group for group in loops)
        assert bool(cycle) == on_loop
        if cycle:
            assert cycle[0] == cycle[-1] == step_id
            assert all(graph.has_edge(a, b) for a, b in itertools.pairwise(cycle))


def test_a_compile_and_a_validate_load_no_networkx(tmp_path: Path) -> None:
    """Observed from outside: the example specs (agents, workflows with loops, every cloud) compile
    and validate without importing networkx."""
    probe = exit_probe("'LOADED', 'networkx' in sys.modules",
                       "['paybill', *sys.argv[1:]]")
    env = {**os.environ, "PAYBILL_CACHE_DIR": str(tmp_path / "cache")}
    for args in (["compile", str(SPECS), "--out", str(tmp_path / "generated")], ["validate", str(SPECS)]):
        run = subprocess.run([sys.executable, "-c", probe, *args], cwd=tmp_path, capture_output=True, text=True,
                             check=False, env=env)
        assert run.returncode == 0, run.stdout + run.stderr
        assert "LOADED False" in run.stderr, run.stderr
