"""The dependency graph: edges, waves, impact queries, cycles, rendering."""

from __future__ import annotations

import json
import random

import pytest
from compile_support import SPECS, invoke, run_paybill

from paybill.diagnostics import DiagnosticSink
from paybill.emit.contract import EmitContext
from paybill.emit.terraform.emitter import build_stacks
from paybill.graph import EdgeInfo, build_graph, report_cycles, stack_units
from paybill.graph.edges import EDGE_RULES
from paybill.graph.render import focus, render
from paybill.validate import validate_documents, validate_repository
from paybill.validate.index import SpecIndex


@pytest.fixture(scope="module")
def index() -> SpecIndex:
    result = validate_repository(SPECS)
    assert result.ok
    return result.index


def tenants(index: SpecIndex, **match) -> set[str]:
    """Tenant names whose spec matches, computed from the specs independently of the graph."""
    found = set()
    for doc in index.of_kind("Tenant"):
        spec = doc.model.spec
        if all(getattr(spec.placement if k in ("pool", "cloud") else spec, k) == v for k, v in match.items()):
            found.add(doc.name)
    return found


def test_edges_point_from_what_must_exist_first(index: SpecIndex) -> None:
    graph = build_graph(index)
    acme = index.get("Tenant", "acme-corp").model
    assert ("Plan/" + acme.spec.plan, "Tenant/acme-corp") in graph.g.edges
    assert ("Cloud/" + acme.spec.placement.cloud, "Tenant/acme-corp") in graph.g.edges
    assert ("Tenant/acme-corp", "Stack/tenant/acme-corp") in graph.g.edges
    for doc in index.of_kind("Pool"):
        assert (f"Cloud/{doc.model.spec.cloud}", doc.ref) in graph.g.edges
        assert (doc.ref, f"Stack/pool/{doc.name}") in graph.g.edges
    for doc in index.of_kind("Agent"):
        for workflow in doc.model.spec.workflows:
            assert (f"Workflow/{workflow}", doc.ref) in graph.g.edges
    assert ("DataModel/crm", "Workflow/dunning") in graph.g.edges
    assert graph.edge("Plan/" + acme.spec.plan, "Tenant/acme-corp").reason == "spec.plan"


def test_stack_nodes_follow_lifecycle_and_pooling(index: SpecIndex) -> None:
    graph = build_graph(index)
    live = {d.name for d in index.of_kind("Tenant") if d.model.spec.lifecycle != "deleted"}
    deleted = {d.name for d in index.of_kind("Tenant")} - live
    assert deleted, "the example specs should contain a deleted tenant"
    stacks = set(graph.stacks())
    assert {f"Stack/tenant/{t}" for t in live} | {f"Stack/pool/{p}" for p in index.names("Pool")} == stacks
    for doc in index.of_kind("Tenant"):
        if doc.name in deleted:
            continue
        pooled = any(doc.model.layer_placement(layer) == "pooled" for layer in
                     ("network", "keys", "identity", "database", "storage", "compute"))
        pool_stack = f"Stack/pool/{doc.model.spec.placement.pool}"
        assert graph.g.has_edge(pool_stack, f"Stack/tenant/{doc.name}") == pooled, doc.name


def test_waves_put_pool_stacks_before_the_tenant_stacks_that_read_them(index: SpecIndex) -> None:
    graph = build_graph(index)
    waves = graph.stack_waves()
    assert waves["Stack/pool/aws-use1-shared"] == 1
    assert waves["Stack/tenant/acme-corp"] == 1  # silo: reads no pool
    for before, after in graph.edges():
        if before.startswith("Stack/") and after.startswith("Stack/"):
            assert waves[before] < waves[after]
    flat = [address for wave in graph.apply_waves() for address in wave]
    assert sorted(flat) == sorted(s.removeprefix("Stack/") for s in graph.stacks())
    assert graph.apply_waves()[1] == sorted(
        s.removeprefix("Stack/") for s in graph.stacks() if waves[s] == 2)


def test_stack_layout_matches_the_terraform_emitter(index: SpecIndex, fake_clouds) -> None:
    """graph/stacks.py and emit/terraform/emitter.py must agree on stacks and their dependencies."""
    _stacks, result = build_stacks(EmitContext(index, DiagnosticSink()))
    emitted = {s.address: tuple(s.depends_on) for s in result.stacks}
    derived = {u.address: u.depends_on for u in stack_units(index)}
    assert emitted == derived
    assert sorted(result.removed) == sorted(f"tenant/{d.name}" for d in index.of_kind("Tenant")
                                            if d.model.spec.lifecycle == "deleted")


def test_impact_of_a_plan_change_is_its_tenants_and_their_stacks(index: SpecIndex) -> None:
    graph = build_graph(index)
    query = focus(graph, "Plan/starter", None, "dependents")
    on_plan = tenants(index, plan="starter")
    assert on_plan
    touched = {n.removeprefix("Tenant/") for n in query.dependents if n.startswith("Tenant/")}
    assert touched == on_plan
    stacks = {n for n in query.dependents if n.startswith("Stack/")}
    live = {t for t in on_plan if index.model("Tenant", t).spec.lifecycle != "deleted"}
    assert stacks == {f"Stack/tenant/{t}" for t in live}
    assert not query.dependencies


def test_impact_of_a_pool_change_reaches_tenant_stacks_through_the_pool_stack(index: SpecIndex) -> None:
    graph = build_graph(index)
    query = focus(graph, "Pool/aws-use1-shared", None, "dependents")
    in_pool = tenants(index, pool="aws-use1-shared")
    assert {n.removeprefix("Tenant/") for n in query.dependents if n.startswith("Tenant/")} == in_pool
    assert query.dependents["Stack/pool/aws-use1-shared"] == 1
    some_tenant = sorted(t for t in in_pool if index.model("Tenant", t).spec.lifecycle != "deleted")[0]
    assert query.dependents[f"Stack/tenant/{some_tenant}"] == 2
    shallow = focus(graph, "Pool/aws-use1-shared", 1, "dependents")
    assert set(shallow.dependents.values()) == {1}
    assert f"Stack/tenant/{some_tenant}" not in shallow.dependents


def test_dependencies_of_a_tenant_stack(index: SpecIndex) -> None:
    graph = build_graph(index)
    tenant = sorted(tenants(index, pool="aws-use1-shared"))[0]
    query = focus(graph, f"Stack/tenant/{tenant}", None, "dependencies")
    model = index.model("Tenant", tenant)
    assert {f"Tenant/{tenant}", f"Plan/{model.spec.plan}", "Pool/aws-use1-shared", "Cloud/aws-prod",
            "Stack/pool/aws-use1-shared"} <= set(query.dependencies)
    assert not query.dependents


def test_a_cycle_is_one_diagnostic_naming_every_hop_with_positions(index: SpecIndex) -> None:
    """Specs cannot form a cycle with today's reference kinds, so this test adds one test-only edge
    rule ("a plan needs a tenant") on top of the real rules and the real example specs."""

    def plan_needs_tenant(idx, units):
        doc = idx.get("Plan", "enterprise")
        yield "Tenant/acme-corp", "Plan/enterprise", EdgeInfo("test-only", doc, ("spec", "tier"))

    graph = build_graph(index, rules=(*EDGE_RULES, plan_needs_tenant))
    sink = DiagnosticSink()
    assert report_cycles(graph, sink) is False
    (diagnostic,) = sink.sorted()
    assert diagnostic.code == "PB0690"
    assert "Plan/enterprise -> Tenant/acme-corp -> Plan/enterprise" in diagnostic.message
    plan_doc, tenant_doc = index.get("Plan", "enterprise"), index.get("Tenant", "acme-corp")
    tier, plan_ref = plan_doc.position("spec", "tier"), tenant_doc.position("spec", "plan")
    assert f"{plan_doc.path}:{tier.line}:{tier.col}" in diagnostic.message
    assert f"{tenant_doc.path}:{plan_ref.line}:{plan_ref.col}" in diagnostic.message
    assert (diagnostic.path, diagnostic.position) == (plan_doc.path, tier)
    assert diagnostic.hint


def test_three_node_cycle_and_self_loop_are_reported_once_each(index: SpecIndex) -> None:
    graph = build_graph(index)
    graph.add_edge("Stack/tenant/bluth", "Plan/starter", EdgeInfo("test-only", index.get("Plan", "starter")))
    graph.add_edge("Tenant/hooli", "Tenant/hooli", EdgeInfo("test-only", index.get("Tenant", "hooli")))
    sink = DiagnosticSink()
    assert not report_cycles(graph, sink)
    messages = [d.message for d in sink.sorted()]
    assert len(messages) == 2, messages
    assert any(m.startswith("dependency cycle Plan/starter -> Tenant/bluth -> Stack/tenant/bluth -> Plan/starter:")
               for m in messages), messages
    assert any("Tenant/hooli -> Tenant/hooli" in m for m in messages)


def test_compile_stops_on_a_cycle(monkeypatch: pytest.MonkeyPatch) -> None:
    import paybill.compile.pipeline as pipeline
    from paybill.compile import compile_repository

    real = pipeline.build_graph

    def cyclic(index, units):
        graph = real(index, units)
        graph.add_edge("Stack/tenant/bluth", "Stack/pool/oci-fra-shared", EdgeInfo("test-only"))
        return graph

    monkeypatch.setattr(pipeline, "build_graph", cyclic)
    result = compile_repository(SPECS)
    assert not result.ok and result.tree == {}
    assert [d.code for d in result.diagnostics if d.severity == "error"] == ["PB0690"]


def test_graph_does_not_depend_on_document_order() -> None:
    result = validate_repository(SPECS)
    documents = list(result.index.all_documents())
    reference = render("json", build_graph(result.index))
    for seed in (1, 2, 3):
        shuffled = documents[:]
        random.Random(seed).shuffle(shuffled)
        sink = DiagnosticSink()
        assert render("json", build_graph(validate_documents(shuffled, sink))) == reference
        assert not sink.has_errors


def test_renderings(index: SpecIndex) -> None:
    graph = build_graph(index)
    mermaid = render("mermaid", graph)
    assert mermaid.startswith("flowchart LR\n") and "-->" in mermaid
    assert '[["Stack/pool/aws-use1-shared [wave 1]"]]' in mermaid
    assert "(deleted)" in mermaid
    dot = render("dot", graph)
    assert dot.startswith("digraph paybill {") and '"Plan/starter" -> "Tenant/bluth" [label="spec.plan"];' in dot
    doc = json.loads(render("json", graph))
    assert len(doc["nodes"]) == len(graph) and len(doc["edges"]) == graph.g.number_of_edges()
    acme = next(n for n in doc["nodes"] if n["id"] == "Tenant/acme-corp")
    assert acme["path"] == "specs/tenants/acme-corp.yaml" and acme["line"] >= 1
    assert doc["waves"] == graph.apply_waves()


def test_focused_json_keeps_whole_graph_waves(index: SpecIndex) -> None:
    graph = build_graph(index)
    doc = json.loads(render("json", graph, focus(graph, "Tenant/bluth", None, "both")))
    assert doc["focus"]["node"] == "Tenant/bluth"
    stack = next(n for n in doc["nodes"] if n["id"] == "Stack/tenant/bluth")
    assert stack["wave"] == 2  # still wave 2 although the pool stack is not in the focused view
    assert doc["focus"]["impact"]["Stack"] == ["tenant/bluth"]


def test_graph_cli(tmp_path) -> None:
    ok = run_paybill("graph", str(SPECS), "--focus", "plan/starter", "--direction", "dependents",
                     "--format", "json", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "Tenant" in json.loads(ok.stdout)["focus"]["impact"]
    unknown = invoke("graph", str(SPECS), "--focus", "Tenant/acme", cwd=tmp_path)
    assert unknown.exit_code == 2 and "did you mean 'Tenant/acme-corp'" in unknown.output
    assert invoke("graph", str(SPECS), "--focus", "Widget/x", cwd=tmp_path).exit_code == 2
    assert invoke("graph", str(SPECS), "--depth", "2", cwd=tmp_path).exit_code == 2
    assert invoke("graph", str(tmp_path / "nope"), cwd=tmp_path).exit_code == 2
    dot = invoke("graph", str(SPECS), "--focus", "stack/pool/aws-use1-shared", "--depth", "1", "--format", "dot",
                 cwd=tmp_path)
    assert dot.exit_code == 0 and '"Stack/pool/aws-use1-shared" [label=' in dot.output


def test_cycles_and_waves_run_on_a_small_core_without_a_whole_networkx_graph(index: SpecIndex) -> None:
    """At 100,000 tenants a networkx graph of every node held ~400 MB: the compile's queries (is it
    acyclic, the waves) must run on the core (nodes a cycle can pass through) only."""
    graph = build_graph(index)
    assert report_cycles(graph, DiagnosticSink())
    assert graph.stack_waves()
    assert not graph.core().nodes  # acyclic: every node peels off
    assert graph._full is None  # nothing built networkx's view of the whole graph
    graph.add_edge("Tenant/acme-corp", "Plan/enterprise", EdgeInfo("test-only"))
    core = set(graph.core().nodes)
    assert "Plan/enterprise" in core and not any(n.startswith(("Stack/", "Agent/")) for n in core)
    assert len(core) < len(graph) // 2


def _reference_waves(graph) -> dict[str, int]:
    """Waves computed the old way, on networkx's view of the whole graph."""
    import networkx as nx

    before: dict[str, int] = {}
    waves: dict[str, int] = {}
    for identifier in nx.topological_sort(graph.g):
        level = max((before[p] + (p in waves) for p in graph.g.predecessors(identifier)), default=0)
        before[identifier] = level
        if identifier.startswith("Stack/"):
            waves[identifier] = level + 1
    return waves


def _reference_cycles(graph) -> list[list[str]]:
    import networkx as nx

    from paybill.graph.cycles import _rotate
    from paybill.graph.model import sort_key

    found = []
    for component in nx.strongly_connected_components(graph.g):
        if len(component) > 1:
            start = min(component, key=sort_key)
            found.append(_rotate([b for b, _ in nx.find_cycle(graph.g.subgraph(component), source=start)]))
        elif graph.g.has_edge(next(iter(component)), next(iter(component))):
            found.append(list(component))
    return sorted(found, key=lambda c: sort_key(c[0]))


@pytest.mark.parametrize("seed", range(25))
def test_core_cycles_and_waves_equal_those_of_the_whole_graph(index: SpecIndex, seed: int) -> None:
    from paybill.graph.cycles import cycles

    graph = build_graph(index)
    rng = random.Random(seed)
    nodes, edges = graph.nodes(), graph.edges()
    for _ in range(rng.randint(0, 3)):
        graph.add_edge(rng.choice(nodes), rng.choice(nodes), EdgeInfo("test-only"))
    for _ in range(rng.randint(0, 2)):
        before, after = rng.choice(edges)
        graph.add_edge(after, before, EdgeInfo("back"))
    assert cycles(graph) == _reference_cycles(graph)
    if graph.is_acyclic():
        assert graph.stack_waves() == _reference_waves(graph)
    else:
        assert _reference_cycles(graph)
