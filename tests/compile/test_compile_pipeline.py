"""The compile pipeline in memory: outputs, manifest, entitlements, guards, cache, escaping."""

from __future__ import annotations

import hashlib
import json

import pytest
from compile_support import SPECS, compiled
from hypothesis import given, settings
from hypothesis import strategies as st

from paybill.compile import CompileCache, compile_documents, compile_repository
from paybill.diagnostics import DiagnosticSink
from paybill.emit.contract import Emitter
from paybill.emit.entitlements import ENTITLEMENTS_EMITTER
from paybill.emit.manifest import MANIFEST_EMITTER, stack_hash
from paybill.emit.registry import all_emitters
from paybill.emit.terraform.emitter import TERRAFORM_EMITTER
from paybill.load import load_source
from paybill.load.discover import discover_spec_files

EVIL = '${file("/etc/passwd")} %{ if true }x%{ endif }'


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def documents(specs=SPECS):
    sink = DiagnosticSink()
    files, _ = discover_spec_files(specs)
    docs = [d for f in files for d in load_source(f.path.read_bytes(), f.display, sink)]
    assert not len(sink)
    return docs


def test_entitlements_for_every_tenant_deleted_ones_included() -> None:
    result = compiled()
    every = {d.name for d in result.index.of_kind("Tenant")}
    written = {p.removeprefix("tenants/").removesuffix(".json") for p in result.tree if p.startswith("tenants/")}
    assert written == every
    assert b'"lifecycle": "deleted"' in result.tree["tenants/cyberdyne.json"]  # deleted: kept, says so


def test_entitlement_document_content() -> None:
    result = compiled()
    for doc in result.index.of_kind("Tenant"):
        if doc.model.spec.lifecycle == "deleted":
            continue
        data = json.loads(result.tree[f"tenants/{doc.name}.json"])
        spec = doc.model.spec
        plan = result.index.model("Plan", spec.plan).spec
        assert data["kind"] == "TenantEntitlements" and data["tenant"] == doc.name
        assert data["features"] == sorted(plan.features)
        assert data["quotas"] == {"seats": plan.quotas.seats, "storageGb": plan.quotas.storage_gb,
                                  "apiRequestsPerSecond": plan.quotas.api_requests_per_second,
                                  "agents": plan.quotas.agents}
        assert data["lifecycle"] == spec.lifecycle
        assert data["billing"]["status"] == spec.billing.status
        assert ("trialDays" in data["billing"]) == (spec.billing.status == "trialing")
        assert data["isolation"]["model"] == spec.isolation.model
        assert data["isolation"]["layers"] == {layer: doc.model.layer_placement(layer) for layer in
                                               ("network", "keys", "identity", "database", "storage", "compute")}
        assert f"tenant/{doc.name}" in data["stacks"]


def test_bridge_tenant_mixes_layers() -> None:
    result = compiled()
    bridges = [d for d in result.index.of_kind("Tenant") if d.model.spec.isolation.model == "bridge"]
    assert bridges, "the example specs should contain a bridge tenant"
    data = json.loads(result.tree[f"tenants/{bridges[0].name}.json"])
    assert set(data["isolation"]["layers"].values()) == {"silo", "pooled"}
    assert data["stacks"] == sorted([f"tenant/{bridges[0].name}", f"pool/{bridges[0].model.spec.placement.pool}"])


def test_manifest_accounts_for_every_file_exactly_once(fake_clouds) -> None:
    result = compiled()
    manifest = json.loads(result.tree["manifest.json"])
    assert manifest == result.manifest
    listed: list[str] = []
    for stack in manifest["stacks"]:
        listed.extend(stack["files"])
        assert stack["hash"] == stack_hash({f: sha(result.tree[f]) for f in stack["files"]})
    for removed in manifest["removed"]:  # decommission configurations of deleted tenants
        listed.append(removed["path"])
        assert removed["hash"] == stack_hash({removed["path"]: sha(result.tree[removed["path"]])})
    for folder, files in manifest["outputs"].items():
        for path, digest in files.items():
            assert path.split("/", 1)[0] == folder
            assert digest == sha(result.tree[path])
            listed.append(path)
    assert sorted(listed) == sorted(p for p in result.tree if p != "manifest.json")
    assert {"sql", "tenants"} <= set(manifest["outputs"])


def test_manifest_stacks_waves_and_removed(fake_clouds) -> None:
    result = compiled()
    manifest = result.manifest
    by_address = {s["address"]: s for s in manifest["stacks"]}
    expected = set(result.graph.stacks())
    assert {f"Stack/{a}" for a in by_address} == expected
    for stack in manifest["stacks"]:
        for dependency in stack["dependsOn"]:
            assert by_address[dependency]["wave"] < stack["wave"]
        assert stack["files"] == [f"terraform/{stack['address']}/main.tf.json"]
        assert all(s.startswith("specs/") for s in stack["sources"])
    assert manifest["waves"] == result.graph.apply_waves()
    removed = {r["address"]: r for r in manifest["removed"]}
    assert set(removed) == {"tenant/cyberdyne"}
    entry = removed["tenant/cyberdyne"]
    assert entry["provider"] == "ibm" and entry["sources"] == ["specs/tenants/cyberdyne.yaml"]
    ((backend_kind, backend),) = entry["backend"].items()
    assert backend_kind == "s3" and "tenant/cyberdyne" in backend["key"]
    assert not any(p.startswith("terraform/tenant/cyberdyne/") for p in result.tree)
    assert manifest["inputs"]["specs/tenants/acme-corp.yaml"] == sha((SPECS / "tenants/acme-corp.yaml").read_bytes())


def test_template_sequences_in_user_text_are_escaped_end_to_end(spec_copy, fake_clouds) -> None:
    specs = spec_copy({"tenants/acme-corp.yaml": lambda t: t.replace("displayName: Acme Corp",
                                                                       f"displayName: '{EVIL}'")})
    result = compiled(specs)
    stack = result.tree["terraform/tenant/acme-corp/main.tf.json"].decode()
    assert '$${file(\\"/etc/passwd\\")} %%{ if true }x%%{ endif }' in stack
    for path, data in result.tree.items():
        text = data.decode()
        if path.startswith("terraform/"):
            assert text.count("${file(") == text.count("$${file("), path
            assert text.count("%{ if") == text.count("%%{ if"), path
    # The application reads entitlements as plain JSON: the text must arrive unchanged there.
    assert json.loads(result.tree["tenants/acme-corp.json"])["displayName"] == EVIL


def test_errors_empty_the_tree(spec_copy) -> None:
    specs = spec_copy({"tenants/acme-corp.yaml": lambda t: t.replace("plan: enterprise", "plan: enterprize")})
    result = compile_repository(specs)
    assert not result.ok and result.tree == {} and result.manifest is None
    assert any(d.code.startswith("PB03") for d in result.diagnostics)


def test_emitters_may_not_overlap_or_escape_the_tree() -> None:
    docs = documents()

    def writer(name, paths):
        return Emitter(name, lambda ctx: {p: b"x" for p in paths})

    overlap = compile_documents(docs, emitters=[writer("a", ["x/one"]), writer("b", ["x/one"])])
    assert [d.code for d in overlap.diagnostics if d.severity == "error"] == ["PB0691"] and overlap.tree == {}
    for bad in ("../evil", "/abs", "a//b", "a/./b", "C:/x"):
        escaped = compile_documents(docs, emitters=[writer("a", [bad])])
        assert [d.code for d in escaped.diagnostics if d.severity == "error"] == ["PB0692"], bad
        assert escaped.tree == {}


def test_manifest_runs_last_whatever_its_position() -> None:
    docs = documents()
    late = Emitter("late", lambda ctx: {"extra/late.txt": b"late\n"})
    result = compile_documents(docs, emitters=[MANIFEST_EMITTER, ENTITLEMENTS_EMITTER, late])
    assert result.ok
    assert result.manifest["outputs"]["extra"] == {"extra/late.txt": sha(b"late\n")}


def test_missing_cloud_emitter_is_a_warning_not_silence(monkeypatch) -> None:
    from paybill.emit.terraform.providers import CLOUD_EMITTERS

    monkeypatch.delitem(CLOUD_EMITTERS, "oci", raising=False)
    result = compile_documents(documents(), emitters=[TERRAFORM_EMITTER, MANIFEST_EMITTER])
    assert result.ok
    warning = next(d for d in result.diagnostics if d.code == "PB0695" and "'oci'" in d.message)
    assert "pool/oci-fra-shared" in warning.message
    assert not any(s["provider"] == "oci" for s in result.manifest["stacks"])


def test_emitter_stack_disagreeing_with_graph_is_an_error(monkeypatch, fake_clouds) -> None:
    """The emitter fills in the graph's stack units; one that reports other dependencies is caught."""
    import dataclasses

    import paybill.emit.terraform.emitter as emitter

    real = emitter._tenant_stack

    def wrong(*args, **kwargs):
        built = real(*args, **kwargs)
        return built and (built[0], dataclasses.replace(built[1], depends_on=()))

    monkeypatch.setattr(emitter, "_tenant_stack", wrong)
    result = compile_repository(SPECS)
    assert not result.ok and result.tree == {}
    assert {d.code for d in result.diagnostics if d.severity == "error"} == {"PB0693"}


def test_registered_emitters_include_entitlements_and_manifest() -> None:
    names = [e.name for e in all_emitters()]
    assert "entitlements" in names and "manifest" in names and "terraform" in names


def test_cache_reuses_unchanged_units_and_rebuilds_changed_ones() -> None:
    cache = CompileCache()
    docs = documents()
    first = compile_documents(docs, cache=cache)
    misses = cache.misses
    second = compile_documents(documents(), cache=cache)
    assert second.tree == first.tree
    assert cache.misses == misses and cache.hits >= misses
    edited = []
    for doc in documents():
        if doc.path.endswith("tenants/bluth.yaml"):
            raw = (SPECS / "tenants/bluth.yaml").read_bytes().replace(b"displayName: Bluth Company",
                                                                    b"displayName: Bluth and Sons")
            (doc,) = load_source(raw, doc.path, DiagnosticSink())
        edited.append(doc)
    third = compile_documents(edited, cache=cache)
    assert cache.misses == misses + 1
    assert json.loads(third.tree["tenants/bluth.json"])["displayName"] == "Bluth and Sons"
    assert {p for p in third.tree if third.tree[p] != first.tree.get(p)} >= {"tenants/bluth.json", "manifest.json"}
    # The base side is still cached: compiling it again after the head costs no rebuild.
    compile_documents(documents(), cache=cache)
    assert cache.misses == misses + 1


@pytest.mark.parametrize("name", ["acme-corp", "bluth"])
def test_tree_is_sorted_and_bytes_end_with_newline(name: str) -> None:
    result = compiled()
    assert list(result.tree) == sorted(result.tree)
    assert result.tree[f"tenants/{name}.json"].endswith(b"}\n")


def test_template_sequences_are_escaped_by_the_real_cloud_emitters(spec_copy) -> None:
    """One tenant per cloud gets the hostile display name; whatever the real emitters do with it,
    no Terraform file may carry it unescaped, and at least one must carry it (escaped)."""
    one_per_cloud = ("acme-corp", "globex", "initech", "bluth", "gringotts")
    edits = {}
    for tenant in one_per_cloud:
        text = (SPECS / "tenants" / f"{tenant}.yaml").read_text()
        line = next(x for x in text.splitlines() if x.strip().startswith("displayName:"))
        edits[f"tenants/{tenant}.yaml"] = text.replace(line, f"  displayName: '{EVIL}'")
    result = compiled(spec_copy(edits))
    carriers = []
    for path, data in result.tree.items():
        if not path.startswith("terraform/"):
            continue
        text = data.decode()
        assert text.count("${file(") == text.count("$${file("), path
        assert text.count("%{ if") == text.count("%%{ if"), path
        if "$${file(" in text:
            carriers.append(path)
    assert carriers, "no emitter put the display name into Terraform: this test no longer tests escaping"


def test_input_fingerprint_ignores_order_but_not_content() -> None:
    from paybill.compile import input_fingerprint

    docs = documents()
    assert input_fingerprint(docs) == input_fingerprint(list(reversed(docs)))
    raw = (SPECS / "tenants/bluth.yaml").read_bytes() + b"\n# edited\n"
    edited = [load_source(raw, d.path, DiagnosticSink())[0] if d.path.endswith("bluth.yaml") else d for d in docs]
    assert input_fingerprint(edited) != input_fingerprint(docs)


def test_the_manifest_rendered_in_pieces_is_exactly_orjsons_rendering_of_its_document() -> None:
    """manifest.json is rendered piece by piece (never held as a document); the bytes must be those
    of one orjson rendering of the whole document, empty arrays and objects included."""
    import orjson

    options = orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2
    result = compiled()
    data = result.tree["manifest.json"]
    document = orjson.loads(data)
    assert document["stacks"] and document["removed"] and document["outputs"]
    assert data == orjson.dumps(document, option=options) + b"\n"
    without = compile_repository(SPECS, emitters=[ENTITLEMENTS_EMITTER, MANIFEST_EMITTER])
    empty = without.tree["manifest.json"]
    assert orjson.loads(empty)["stacks"] == [] and orjson.loads(empty)["removed"] != []
    assert empty == orjson.dumps(orjson.loads(empty), option=options) + b"\n"
    assert result.stack_count == len(document["stacks"]) and result.removed_count == len(document["removed"])


@settings(max_examples=300, deadline=None)
@given(texts=st.lists(st.text(alphabet="$%{}a ", max_size=8), min_size=1, max_size=4),
       expression=st.text(alphabet="$%{}.a", max_size=8))
def test_a_stack_renders_as_if_every_user_string_were_escaped(texts: list[str], expression: str) -> None:
    """``Stack.render`` escapes only when its probe finds a template sequence outside expressions
    (a one-byte search first, then the two-byte ones): the bytes always equal escaping every string."""
    import orjson

    from paybill.emit.terraform.expr import Expr, escape_tree
    from paybill.emit.terraform.stack import Stack

    stack = Stack(address="tenant/t", sources=["specs/t.yaml"])
    stack.resource("null_resource", "r", {"texts": texts, "name": texts[0], "ref": Expr(expression),
                                         texts[-1]: "key"})
    careful = orjson.dumps(escape_tree(stack._raw_document()), option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2)
    assert stack.render() == careful + b"\n"
