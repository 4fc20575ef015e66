"""The cache folder (docs/cache.md): parsed files and the output journal are reused, never trusted blindly.

Every test here compares against a compile without any cache, byte for byte: a cache may only save
time. The random-edit property (hypothesis) drives the CLI's write path through a sequence of edits
to one repository and checks the tree on disk after each step against a fresh, uncached compile.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from compile_support import SPECS, exit_probe, invoke, read_tree, touch_output
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import paybill.emit.sql as sql_emitter
import paybill.emit.terraform.emitter as terraform_emitter
import paybill.load.reader as reader
from paybill import store
from paybill.compile import compile_repository
from paybill.diagnostics import DiagnosticSink, Position
from paybill.load import load_repository
from paybill.write.journal import load_journal, write_tree_linked
from paybill.write.tree import write_tree


def _identity(documents) -> list[tuple]:
    return [(d.path, d.index, d.data, d.kind, d.name, d.text_hash) for d in documents]


def _load(specs: Path, cache: Path | None):
    sink = DiagnosticSink()
    loaded = load_repository(specs, sink, cache=cache)
    return _identity(loaded.documents), sink.sorted()


def _no_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("a file was parsed although the cache knew it")

    monkeypatch.setattr(reader, "compose_documents", refuse)


def _age(specs: Path, seconds: int = 3600) -> None:
    """Set every file's mtime back, as in a checkout made a while ago (outside the racy window)."""
    for path in specs.rglob("*.yaml"):
        info = path.stat()
        os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns - seconds * 10**9))


def test_an_unchanged_repository_is_not_parsed_again(spec_copy, tmp_path: Path, monkeypatch) -> None:
    specs = spec_copy({})
    _age(specs)
    cache = tmp_path / "cache"
    fresh = _load(specs, None)
    assert _load(specs, cache) == fresh
    _no_parsing(monkeypatch)
    assert _load(specs, cache) == fresh
    assert (cache / ".gitignore").read_text().splitlines()[-1] == "*"


def test_a_changed_file_is_parsed_again_and_only_it(spec_copy, tmp_path: Path, monkeypatch) -> None:
    specs = spec_copy({})
    _age(specs)
    cache = tmp_path / "cache"
    _load(specs, cache)
    tenant = specs / "tenants" / "bluth.yaml"
    tenant.write_text(tenant.read_text().replace("Bluth Company", "Bluth and Sons"))
    fresh = _load(specs, None)
    parsed: list[str] = []
    real = reader.compose_documents
    monkeypatch.setattr(reader, "compose_documents", lambda text: parsed.append(text) or real(text))
    assert _load(specs, cache) == fresh
    assert len(parsed) == 1 and "Bluth and Sons" in parsed[0]


def test_same_size_same_mtime_edit_is_still_seen(spec_copy, tmp_path: Path) -> None:
    """Two writes within one timestamp tick: the stat matches, so the bytes are hashed (racy entry)."""
    specs = spec_copy({})
    cache = tmp_path / "cache"
    tenant = specs / "tenants" / "bluth.yaml"
    _age(specs)
    os.utime(tenant)  # written just now, then loaded within the same timestamp tick
    _load(specs, cache)
    info = tenant.stat()
    text = tenant.read_text()
    edited = text.replace("Bluth Company", "Bluth Compant")
    assert len(edited) == len(text)
    tenant.write_text(edited)
    os.utime(tenant, ns=(info.st_atime_ns, info.st_mtime_ns))
    assert _load(specs, cache) == _load(specs, None)


def test_errors_are_reported_on_every_run(spec_copy, tmp_path: Path) -> None:
    specs = spec_copy({"tenants/bluth.yaml": lambda t: t + "\nbroken: [\n"})
    cache = tmp_path / "cache"
    first = _load(specs, cache)
    assert first[1] and first == _load(specs, cache) == _load(specs, None)


@pytest.mark.parametrize("damage", ["flip", "truncate", "foreign", "garbage"])
def test_corrupt_or_foreign_entries_are_ignored(spec_copy, tmp_path: Path, monkeypatch, damage: str) -> None:
    specs = spec_copy({})
    _age(specs)
    cache = tmp_path / "cache"
    fresh = _load(specs, cache)
    out = tmp_path / "generated"
    write_tree_linked(compile_repository(specs).tree, out, cache)
    entries = [p for p in cache.iterdir() if p.name != ".gitignore"]
    assert len(entries) == 4  # the parsed files, their summary (load.cache.LoadSummary), the journal and its base
    for entry in entries:
        blob = bytearray(entry.read_bytes())
        if damage == "flip":
            blob[-10] ^= 0x01
        elif damage == "truncate":
            del blob[len(blob) // 2:]
        elif damage == "foreign":
            blob[:blob.index(b"\n")] = b"paybill-cache 1 9.9.9 py3.99"
        else:
            blob = bytearray(b"\x00" * 100)
        entry.write_bytes(bytes(blob))
    for entry in entries:
        assert store.read(cache, entry.name) is None
    assert load_journal(cache, out) == {}
    parsed: list[str] = []
    real = reader.compose_documents
    monkeypatch.setattr(reader, "compose_documents", lambda text: parsed.append(text) or real(text))
    assert _load(specs, cache) == fresh
    assert len(parsed) == len(list(specs.rglob("*.yaml")))  # nothing was taken from the damaged entry


def test_the_journal_writes_only_changed_files(tmp_path: Path, monkeypatch) -> None:
    """The linked path (no spare tree yet: paybill.write.spare has its own tests in test_compile_write)."""
    import paybill.write.spare as spare

    monkeypatch.setattr(spare, "write_tree_spare", lambda *args, **kwargs: None)
    monkeypatch.setattr(spare, "keep_spare", lambda *args, **kwargs: False)
    cache, out = tmp_path / "cache", tmp_path / "generated"
    tree = {"manifest.json": b'{"generatedBy": "paybill"}\n', "a/one.json": b"1\n", "a/two.json": b"2\n"}
    assert write_tree_linked(tree, out, cache) == 3
    assert write_tree_linked(tree, out, cache) == 0
    assert read_tree(out) == tree
    changed = {**tree, "a/two.json": b"22\n", "b/three.json": b"3\n"}
    del changed["a/one.json"]
    assert write_tree_linked(changed, out, cache) == 2
    assert read_tree(out) == changed
    # edited by hand since (same size, so only the stat tells): written again, not trusted
    (out / "a" / "two.json").write_bytes(b"XX\n")
    assert write_tree_linked(changed, out, cache) == 1
    assert read_tree(out) == changed
    # a tree written without the journal (another tool, a checkout): nothing is linked
    write_tree({**changed, "b/three.json": b"4\n"}, out)
    assert write_tree_linked(changed, out, cache) == 3
    assert read_tree(out) == changed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "generated"]


def test_the_cache_is_bounded(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(store.MAX_BYTES_ENV, "3000")
    for i in range(10):
        assert store.write(tmp_path, f"entry-{i}", "x" * 1000)
        os.utime(tmp_path / f"entry-{i}", ns=(i * 10**9, i * 10**9))
    store.prune(tmp_path)
    kept = sorted(p.name for p in tmp_path.iterdir() if p.name != ".gitignore")
    assert sum((tmp_path / name).stat().st_size for name in kept) <= 3000
    assert "entry-9" in kept and "entry-0" not in kept


_TENANTS = sorted(p.name for p in (SPECS / "tenants").iterdir())
_EDITS = st.one_of(
    st.tuples(st.just("display"), st.sampled_from(_TENANTS), st.text("abcxyz ", min_size=1, max_size=6)),
    st.tuples(st.just("plan"), st.sampled_from(_TENANTS), st.sampled_from(["starter", "growth", "enterprise"])),
    st.tuples(st.just("pool-capacity"), st.sampled_from(sorted(p.name for p in (SPECS / "pools").iterdir())),
              st.integers(min_value=50, max_value=400)),
    st.tuples(st.just("cloud-tag"), st.sampled_from(sorted(p.name for p in (SPECS / "clouds").iterdir())),
              st.sampled_from(["a", "b", "c"])),
    st.tuples(st.just("plan-sizing"), st.sampled_from(sorted(p.name for p in (SPECS / "plans").iterdir())),
              st.integers(min_value=20, max_value=900)),
    st.tuples(st.just("pool-sizing"), st.sampled_from(sorted(p.name for p in (SPECS / "pools").iterdir())),
              st.sampled_from(["small", "medium", "large"])),
    st.tuples(st.just("remove"), st.sampled_from(_TENANTS), st.just("")),
    # a tenant's labels reach bundle entities and a label-selected agent scope: the remembered
    # Cedar checks (paybill.emit.bundles.proven) must be asked again exactly then
    st.tuples(st.just("label"), st.sampled_from(_TENANTS), st.sampled_from(["premium", "basic", ""])),
    # fields outside the identity ones, each read by some stage that reuses earlier results
    # (stored name plans, paybill.resolve.name_memo: lifecycle, isolation and region are their owner's)
    st.tuples(st.just("lifecycle"), st.sampled_from(_TENANTS), st.sampled_from(["active", "suspended", "offboarding"])),
    st.tuples(st.just("billing"), st.sampled_from(_TENANTS), st.sampled_from(["active", "past_due", "trialing"])),
    st.tuples(st.just("isolation"), st.sampled_from(_TENANTS), st.sampled_from(["silo", "pooled"])),
    st.tuples(st.just("region"), st.sampled_from(_TENANTS), st.sampled_from(["us-east-1", "eu-west-1", "westeurope"])),
    st.tuples(st.just("cloud-account"), st.sampled_from(sorted(p.name for p in (SPECS / "clouds").iterdir())),
              st.sampled_from(["1", "2"])),
    st.tuples(st.just("pool-layers"), st.sampled_from(sorted(p.name for p in (SPECS / "pools").iterdir())),
              st.sampled_from(["compute", "storage"])),
)


def _apply(specs: Path, edit: tuple[str, str, object]) -> None:
    what, name, value = edit
    folder = {"pool-capacity": "pools", "pool-sizing": "pools", "pool-layers": "pools", "cloud-tag": "clouds",
              "cloud-account": "clouds", "plan-sizing": "plans"}.get(what, "tenants")
    path = specs / folder / name
    if not path.exists():
        return
    text = path.read_text()
    if what == "display":
        text = re.sub(r"(displayName: .*)", lambda m: f"{m.group(1)} {value}".rstrip(), text, count=1)
    elif what == "plan":
        text = re.sub(r"(\n  plan: )\S+", lambda m: f"{m.group(1)}{value}", text, count=1)
    elif what == "pool-capacity":
        text = re.sub(r"maxTenants: \d+", f"maxTenants: {value}", text, count=1)
    elif what == "cloud-tag":
        text = re.sub(r"\n    edited: \w+", "", text)
        text = text.replace("\n  defaultTags:\n", f"\n  defaultTags:\n    edited: {value}\n", 1)
    elif what == "plan-sizing":  # the database storage of the plan's sizing (not of its trial sizing)
        text = re.sub(r"(\n  sizing:\n(?:    .*\n)*?      storageGb: )\d+", lambda m: f"{m.group(1)}{value}", text,
                      count=1)
    elif what == "pool-sizing":
        text = re.sub(r"(\n  sizing:\n    compute: )\w+", lambda m: f"{m.group(1)}{value}", text, count=1)
    elif what == "lifecycle":
        text = re.sub(r"\n  lifecycle: \w+", f"\n  lifecycle: {value}", text, count=1)
    elif what == "billing":
        text = re.sub(r"\n    status: \w+", f"\n    status: {value}", text, count=1)
    elif what == "isolation":
        text = re.sub(r"\n    model: \w+", f"\n    model: {value}", text, count=1)
    elif what == "region":
        text = re.sub(r"\n    region: [\w-]+", f"\n    region: {value}", text, count=1)
    elif what == "cloud-account":  # the last character of the first account field of the provider block
        text = re.sub(r'(\n  (?:aws|azure|gcp|oci|ibm):\n    \w+: "?[^"\n]*)[0-9a-z]', lambda m: f"{m.group(1)}{value}",
                      text, count=1)
    elif what == "pool-layers":  # drop a layer the pool offers (or put it back)
        layers = re.search(r"layers: \[(.*)\]", text)
        if layers is not None:
            items = [i.strip() for i in layers.group(1).split(",") if i.strip()]
            items = [i for i in items if i != value] if value in items else [*items, str(value)]
            text = text[:layers.start()] + f"layers: [{', '.join(items)}]" + text[layers.end():]
    elif what == "label":  # set, change or drop the tenant's support-tier label
        def relabel(match: re.Match[str]) -> str:
            items = [i.strip() for i in match.group(1).split(",")
                     if i.strip() and not i.strip().startswith("support-tier:")]
            return "labels: {" + ", ".join([*items, *([f"support-tier: {value}"] if value else [])]) + "}"

        text = re.sub(r"labels: \{(.*)\}", relabel, text, count=1)
    else:
        path.unlink()
        return
    path.write_text(text)


def _diagnostics(items) -> list[str]:
    return [f"{d.path}:{d.position.line}:{d.position.col}: {d.severity} {d.code} {d.message} | {d.hint}"
            for d in items]


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(_EDITS, min_size=1, max_size=4))
def test_incremental_compile_equals_a_full_compile_after_random_edits(spec_copy, tmp_path_factory, edits) -> None:
    """After each edit, the CLI's cached compile leaves exactly what an uncached compile produces.

    The cached compile reuses parsed files, stored units (stacks, SQL folders) and the journal; the
    uncached one builds everything. Same bytes on disk, same diagnostics (order, text, positions).
    """
    base = tmp_path_factory.mktemp("incremental")
    specs = spec_copy({}, name=base.name)
    cache, out = base / "cache", base / "generated"
    env = {store.CACHE_ENV: str(cache)}
    for step in [None, *edits]:
        if step is not None:
            _apply(specs, step)
        with pytest.MonkeyPatch.context() as patch:
            for key, value in env.items():
                patch.setenv(key, value)
            result = invoke("compile", str(specs), "--out", str(out), cwd=base)
            cached = compile_repository(specs, cache=cache)
        full = compile_repository(specs)
        assert _diagnostics(cached.diagnostics) == _diagnostics(full.diagnostics)
        assert cached.tree == full.tree
        if not full.ok:
            assert result.exit_code == 1
            continue
        assert result.exit_code == 0, result.output
        assert read_tree(out) == full.tree


def _count_builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Stack addresses and SQL database keys built (not read from the unit store) from now on."""
    built: list[str] = []
    real_stack = terraform_emitter._build_rendered
    real_sql = sql_emitter.render_database

    def stack_spy(unit, model):
        built.append(unit.address)
        return real_stack(unit, model)

    def sql_spy(plan):
        built.append(f"sql:{plan.key}")
        return real_sql(plan)

    monkeypatch.setattr(terraform_emitter, "_build_rendered", stack_spy)
    monkeypatch.setattr(sql_emitter, "render_database", sql_spy)
    return built


def _uncached(specs: Path, built: list[str]):
    """A compile without any cache, whose builds are not counted."""
    counted = len(built)
    result = compile_repository(specs)
    del built[counted:]
    return result


def _stacks_where(result, predicate) -> set[str]:
    return {info.address for info in result.facts.terraform.stacks if predicate(info)}


def _changed_stacks(before, after) -> set[str]:
    return {info.address for info in after.facts.terraform.stacks
            if before.tree.get(info.path) != after.tree[info.path]}


def test_units_are_rebuilt_exactly_when_their_inputs_change(spec_copy, tmp_path: Path, monkeypatch) -> None:
    specs = spec_copy({})
    cache = tmp_path / "cache"
    first = compile_repository(specs, cache=cache)
    assert first.ok and (cache / store.UNITS_FOLDER).is_dir()
    built = _count_builds(monkeypatch)
    assert compile_repository(specs, cache=cache).tree == first.tree
    assert built == []  # nothing changed: every stack and database folder reused

    # one tenant's display name: its stack (tags, descriptions) and nothing else
    tenant = specs / "tenants" / "bluth.yaml"
    tenant.write_text(tenant.read_text().replace("Bluth Company", "Bluth and Sons"))
    again = compile_repository(specs, cache=cache)
    assert again.tree == _uncached(specs, built).tree
    assert [b for b in built if not b.startswith("sql:")] == ["tenant/bluth"]

    # fan-out: a cloud's tags reach its pool's stack and every tenant stack on it, and nothing else
    built.clear()
    cloud = specs / "clouds" / "aws-prod.yaml"
    cloud.write_text(cloud.read_text().replace("\n  defaultTags:\n", "\n  defaultTags:\n    edited: yes-really\n", 1))
    fanned = compile_repository(specs, cache=cache)
    assert fanned.tree == _uncached(specs, built).tree
    on_aws = _stacks_where(fanned, lambda info: info.cloud == "aws-prod")
    assert len(on_aws) > 1 and sorted(b for b in built if not b.startswith("sql:")) == sorted(on_aws)
    assert _changed_stacks(again, fanned) == on_aws

    # fan-out: a plan's sizing reaches exactly the stacks of the tenants on that plan
    built.clear()
    _apply(specs, ("plan-sizing", "enterprise.yaml", 777))
    sized = compile_repository(specs, cache=cache)
    assert sized.tree == _uncached(specs, built).tree
    on_plan = {f"tenant/{t.name}" for t in sized.index.of_kind("Tenant")
               if t.model.spec.plan == "enterprise"} & _stacks_where(sized, lambda info: True)
    assert on_plan and sorted(b for b in built if not b.startswith("sql:")) == sorted(on_plan)
    assert _changed_stacks(fanned, sized) <= on_plan

    # fan-out: a pool's sizing reaches the pool's stack and the stacks of its tenants, and nothing else
    built.clear()
    _apply(specs, ("pool-sizing", "gcp-usc1-shared.yaml", "small"))
    pooled = compile_repository(specs, cache=cache)
    assert pooled.tree == _uncached(specs, built).tree
    in_pool = {"pool/gcp-usc1-shared"} | {f"tenant/{t.name}" for t in pooled.index.of_kind("Tenant")
                                          if t.model.spec.placement.pool == "gcp-usc1-shared"}
    in_pool &= _stacks_where(pooled, lambda info: True)
    assert sorted(b for b in built if not b.startswith("sql:")) == sorted(in_pool)
    assert "pool/gcp-usc1-shared" in _changed_stacks(sized, pooled)


def test_sql_folders_are_rebuilt_when_their_plan_changes(spec_copy, tmp_path: Path, monkeypatch) -> None:
    specs = spec_copy({})
    cache = tmp_path / "cache"
    first = compile_repository(specs, cache=cache)
    built = _count_builds(monkeypatch)
    tenant = specs / "tenants" / "bluth.yaml"
    tenant.write_text(tenant.read_text().replace("Bluth Company", "Bluth and Sons"))
    again = compile_repository(specs, cache=cache)
    assert again.tree == _uncached(specs, built).tree
    rebuilt = sorted(b.removeprefix("sql:") for b in built if b.startswith("sql:"))
    # the databases that list the tenant's file among their sources, and only those
    reading = sorted(key for key in {p.split("/")[1] for p in again.tree if p.startswith("sql/")}
                     if b"tenants/bluth.yaml" in again.tree[f"sql/{key}/migrations.json"])
    assert rebuilt == reading and rebuilt
    assert {p for p in first.tree if p.startswith("sql/")} == {p for p in again.tree if p.startswith("sql/")}


@pytest.mark.parametrize("damage", ["flip", "truncate", "foreign", "swap"])
def test_corrupt_or_foreign_unit_entries_are_rebuilt(spec_copy, tmp_path: Path, monkeypatch, damage: str) -> None:
    """A damaged unit entry is a miss: the unit is built again and the output is unchanged."""
    specs = spec_copy({})
    cache = tmp_path / "cache"
    full = compile_repository(specs)
    assert compile_repository(specs, cache=cache).tree == full.tree
    entries = sorted(p for p in (cache / store.UNITS_FOLDER).iterdir() if p.name != ".gitignore")
    assert len(entries) > 10
    blobs = [p.read_bytes() for p in entries]
    for i, path in enumerate(entries):
        blob = blobs[i]
        if damage == "flip":
            path.write_bytes(blob[:-5] + bytes([blob[-5] ^ 0x01]) + blob[-4:])
        elif damage == "truncate":
            path.write_bytes(blob[: len(blob) // 2])
        elif damage == "foreign":
            path.write_bytes(blob.replace(b"paybill-cache 1 ", b"paybill-cache 0 ", 1))
        else:  # another unit's (valid) entry under this unit's name: its key does not match
            path.write_bytes(blobs[(i + 1) % len(blobs)])
    built = _count_builds(monkeypatch)
    again = compile_repository(specs, cache=cache)
    assert again.tree == full.tree
    stacks = sorted(info.address for info in full.facts.terraform.stacks)
    databases = {p.split("/")[1] for p in full.tree if p.startswith("sql/")}
    assert sorted(b for b in built if not b.startswith("sql:")) == stacks
    assert len([b for b in built if b.startswith("sql:")]) == len(databases)
    assert _diagnostics(again.diagnostics) == _diagnostics(full.diagnostics)


def test_stored_stacks_point_at_the_output_folder_and_are_checked_by_digest(spec_copy, tmp_path: Path,
                                                                              monkeypatch) -> None:
    """With an output folder (``paybill compile``), a stored stack keeps only its digest: its bytes
    are read back from the output file, and a file edited there (same size) is a miss, rebuilt."""
    specs = spec_copy({})
    cache, out = tmp_path / "cache", tmp_path / "generated"
    first = compile_repository(specs, cache=cache, out=out)
    write_tree(first.tree, out)
    stack = next(info for info in first.facts.terraform.stacks if info.address == "tenant/bluth")
    content = first.tree[stack.path]
    chunk = content[len(content) // 2:len(content) // 2 + 256]
    assert all(chunk not in p.read_bytes()
               for p in (cache / store.UNITS_FOLDER).iterdir())  # no entry (nor the index) holds a stack's bytes
    built = _count_builds(monkeypatch)
    assert compile_repository(specs, cache=cache, out=out).tree == first.tree
    assert [b for b in built if not b.startswith("sql:")] == []
    target = out / stack.path
    data = target.read_bytes()
    target.write_bytes(data.replace(b"paybill", b"PAYBILL", 1))
    again = compile_repository(specs, cache=cache, out=out)
    assert again.tree == first.tree
    assert [b for b in built if not b.startswith("sql:")] == ["tenant/bluth"]


def test_sql_folders_with_an_output_folder_store_only_digests_in_one_index(spec_copy, tmp_path: Path,
                                                                          monkeypatch) -> None:
    """With an output folder, a database folder is stored like a stack: the digests of its files in
    one index entry (no per-folder entry, no bytes), read back from the output folder and checked by
    digest; an edited file there (same size) makes its folder a miss, rendered again."""
    specs = spec_copy({})
    cache, out = tmp_path / "cache", tmp_path / "generated"
    first = compile_repository(specs, cache=cache, out=out)
    write_tree(first.tree, out)
    folders = sorted({p.split("/")[1] for p in first.tree if p.startswith("sql/")})
    assert len(folders) > 1
    entries = [p for p in (cache / store.UNITS_FOLDER).iterdir() if p.name != ".gitignore"]
    assert store.key("index", sql_emitter.NAMESPACE) in {p.name for p in entries}
    assert not {store.key(sql_emitter.NAMESPACE, folder) for folder in folders} & {p.name for p in entries}
    sql_bytes = first.tree[f"sql/{folders[0]}/0003_tables.sql"]
    chunk = sql_bytes[len(sql_bytes) // 2:len(sql_bytes) // 2 + 200]
    assert all(chunk not in p.read_bytes() for p in entries)
    built = _count_builds(monkeypatch)
    assert compile_repository(specs, cache=cache, out=out).tree == first.tree
    assert [b for b in built if b.startswith("sql:")] == []
    target = out / "sql" / folders[0] / "0003_tables.sql"
    target.write_bytes(sql_bytes.replace(b"CREATE", b"create", 1))
    again = compile_repository(specs, cache=cache, out=out)
    assert again.tree == first.tree == _uncached(specs, built).tree
    assert [b for b in built if b.startswith("sql:")] == [f"sql:{folders[0]}"]


def test_unchanged_stacks_are_kept_in_place_unread_and_an_edited_one_is_compiled_again(
        spec_copy, tmp_path: Path, monkeypatch) -> None:
    """``paybill compile`` with a journal of its output folder keeps unchanged stored stacks in place:
    their bytes are neither read back nor rewritten (``CompileResult.kept``). A kept file edited in
    the output folder while the spare tree lacks it is never copied blindly: the compile runs again
    reading stacks back by digest, and the folder ends exactly as an uncached compile's tree."""
    specs = spec_copy({})
    cache, out = tmp_path / "cache", tmp_path / "generated"
    monkeypatch.setenv(store.CACHE_ENV, str(cache))
    reads: list[str] = []
    real_read = terraform_emitter._read_output

    def read_spy(root, path, digest):
        reads.append(path)
        return real_read(root, path, digest)

    monkeypatch.setattr(terraform_emitter, "_read_output", read_spy)

    def compile_cli() -> None:
        result = invoke("compile", str(specs), "--out", str(out), cwd=tmp_path)
        assert result.exit_code == 0, result.output

    compile_cli()  # whole tree written, journal saved
    touch_output(out)  # a checkout touched a file, so the next compile writes:
    compile_cli()  # linked: the old tree becomes the spare
    assert reads == []
    journal = load_journal(cache, out)
    kept = compile_repository(specs, cache=cache, out=out,
                              in_place={path: entry[3] for path, entry in journal.items()})
    full = compile_repository(specs)
    stacks = {info.path for info in full.facts.terraform.stacks}
    assert stacks <= set(kept.kept) and not stacks & set(kept.tree)  # (with entitlements and SQL folders)
    assert {**kept.tree, **{p: full.tree[p] for p in kept.kept}} == full.tree
    assert kept.manifest == full.manifest and kept.file_count == len(full.tree)
    _apply(specs, ("plan", "bluth.yaml", "growth"))  # (display-name and label edits are patched in, paybill.delta)
    compile_cli()  # the spare (before the edit) is patched: bluth's stack differs there from `out`
    assert reads == []
    bluth = next(info.path for info in full.facts.terraform.stacks if info.address == "tenant/bluth")
    target = out / bluth
    target.write_bytes(target.read_bytes().replace(b"paybill", b"PAYBILL", 1))
    compile_cli()  # bluth's stack is kept, the spare's copy is stale and `out`'s was edited
    assert reads  # the second compile read stacks back, by digest
    assert read_tree(out) == compile_repository(specs).tree


@pytest.mark.parametrize("damage", ["flip", "truncate", "foreign", "gone"])
def test_a_damaged_stack_index_is_ignored(spec_copy, tmp_path: Path, monkeypatch, damage: str) -> None:
    """The one index entry of stored stacks (``UnitStore.load_index``) is a cache entry like any other:
    damaged, foreign or gone, it reads as empty and is never trusted: every stack is rebuilt (the
    index is their only record: stacks are not also stored one entry each), and the output is the same."""
    specs = spec_copy({})
    cache, out = tmp_path / "cache", tmp_path / "generated"
    first = compile_repository(specs, cache=cache, out=out)
    write_tree(first.tree, out)
    index = cache / store.UNITS_FOLDER / store.key("index", terraform_emitter.NAMESPACE)
    blob = index.read_bytes()
    units = store.UnitStore(cache / store.UNITS_FOLDER, content_root=out)
    stored = units.load_index(terraform_emitter.NAMESPACE)
    assert sorted(stored) == sorted(info.address for info in first.facts.terraform.stacks)
    if damage == "flip":
        index.write_bytes(blob[:-5] + bytes([blob[-5] ^ 0x01]) + blob[-4:])
    elif damage == "truncate":
        index.write_bytes(blob[: len(blob) // 2])
    elif damage == "foreign":
        index.write_bytes(blob.replace(b"paybill-cache 1 ", b"paybill-cache 0 ", 1))
    else:
        index.unlink()
    built = _count_builds(monkeypatch)
    assert units.load_index(terraform_emitter.NAMESPACE) == {}
    assert compile_repository(specs, cache=cache, out=out).tree == first.tree
    assert sorted(b for b in built if not b.startswith("sql:")) == sorted(stored)
    assert units.load_index(terraform_emitter.NAMESPACE) == stored  # written again, the same


def test_units_absent_from_the_store_folder_are_not_opened(spec_copy, tmp_path: Path, monkeypatch) -> None:
    """A lookup of a unit whose entry is not in the store folder reads no file (the folder is listed
    once per store), so a first compile opens no entry at all but the indexes; an entry put by the
    same store is read back, and one written after the listing by another store is only a miss."""
    opened: list[str] = []
    indexes: set[str] = set()
    real_read, real_load_index = store.read, store.UnitStore.load_index

    def spy(folder, name):
        if folder == cache / store.UNITS_FOLDER:
            opened.append(name)
        return real_read(folder, name)

    def index_spy(self, namespace):
        indexes.add(store.key("index", namespace))
        return real_load_index(self, namespace)

    monkeypatch.setattr(store, "read", spy)
    monkeypatch.setattr(store.UnitStore, "load_index", index_spy)
    specs = spec_copy({})
    cache = tmp_path / "cache"
    first = compile_repository(specs, cache=cache, out=tmp_path / "generated")
    assert first.ok and first.facts.terraform.stacks and first.facts.terraform.decommissioned
    assert opened and set(opened) <= indexes
    units = store.UnitStore(tmp_path / "units")
    assert units.get("terraform", "tenant/acme", "k1") is None
    units.put("terraform", "tenant/acme", "k1", ("bytes", 1))
    assert units.get("terraform", "tenant/acme", "k1") == ("bytes", 1)
    store.UnitStore(tmp_path / "units").put("terraform", "tenant/other", "k2", "later")
    assert units.get("terraform", "tenant/other", "k2") is None  # listed before it was written
    assert store.UnitStore(tmp_path / "units").get("terraform", "tenant/other", "k2") == "later"


def test_a_stored_stack_keeps_every_fact(spec_copy) -> None:
    """``BuiltStack.to_plain`` spells out StackInfo's fields (faster than ``dataclasses.astuple``): a
    field added to StackInfo must be stored too, and read back equal."""
    import dataclasses

    result = compile_repository(spec_copy({}))
    for info in result.facts.terraform.stacks:
        stack = terraform_emitter.BuiltStack(info.path, result.tree[info.path], info, b"\0" * 32)
        plain = stack.to_plain()
        assert plain[2] == dataclasses.astuple(info)
        assert terraform_emitter.BuiltStack.from_plain(plain) == stack


def _count_cedar_loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Agents whose bundle Cedar loads (to check it) from now on."""
    import paybill.emit.bundles.checks as bundle_checks

    loaded: list[str] = []
    real = bundle_checks.load_engine

    def spy(facts, *args):
        loaded.append(facts.name)
        return real(facts, *args)

    monkeypatch.setattr(bundle_checks, "load_engine", spy)
    return loaded


def test_clean_cedar_checks_are_remembered_until_their_inputs_change(spec_copy, tmp_path: Path, monkeypatch) -> None:
    """A bundle whose Cedar inputs (schema, policies, entities, tests, requests) are those of a clean
    check is not checked again; an edit that reaches its entities is; a finding is never remembered."""
    monkeypatch.setenv("PAYBILL_NO_FORK", "1")  # the spy must see the bundles emitter's calls
    specs = spec_copy({})
    cache = tmp_path / "cache"
    loaded = _count_cedar_loads(monkeypatch)
    first = compile_repository(specs, cache=cache)
    agents = sorted({p.split("/")[1] for p in first.tree if p.startswith("bundles/")})
    assert first.ok and agents and sorted(loaded) == agents
    loaded.clear()
    tenant = specs / "tenants" / "bluth.yaml"
    tenant.write_text(tenant.read_text().replace("Bluth Company", "Bluth and Sons"))  # in no bundle file
    again = compile_repository(specs, cache=cache)
    assert loaded == []
    assert again.tree == compile_repository(specs).tree
    assert _diagnostics(again.diagnostics) == _diagnostics(compile_repository(specs).diagnostics)
    tenant.write_text(tenant.read_text().replace("labels: {segment: smb}", "labels: {segment: enterprise}"))
    loaded.clear()
    relabeled = compile_repository(specs, cache=cache)
    checked = sorted(loaded)
    full = compile_repository(specs)
    reading = sorted(agent for agent in agents if b'"bluth"' in full.tree[f"bundles/{agent}/entities.json"])
    assert reading and checked == reading
    assert relabeled.tree == full.tree

    import paybill.emit.bundles.checks as bundle_checks

    real_goldens = bundle_checks.check_goldens

    def failing(facts, engine, tests, sink):
        sink.warning("PB0706", "a golden decision did not hold", facts.name, Position(), None)
        return real_goldens(facts, engine, tests, sink)

    tenant.write_text(tenant.read_text().replace("segment: enterprise", "segment: smb"))
    monkeypatch.setattr(bundle_checks, "check_goldens", failing)
    loaded.clear()
    warned = compile_repository(specs, cache=cache)  # the others' inputs are still those of their clean check
    assert sorted(loaded) == reading
    assert [d.code for d in warned.diagnostics].count("PB0706") == len(reading)
    monkeypatch.setattr(bundle_checks, "check_goldens", real_goldens)
    loaded.clear()
    clean = compile_repository(specs, cache=cache)
    assert sorted(loaded) == reading and "PB0706" not in [d.code for d in clean.diagnostics]
    assert clean.tree == compile_repository(specs).tree


def test_a_compile_whose_bundles_were_checked_loads_neither_cedar_nor_cryptography(spec_copy, tmp_path: Path) -> None:
    """Observed from outside: a real ``paybill compile`` after a one-tenant edit that reaches no bundle
    file imports no Cedar engine, no guard runtime and no ``cryptography`` (no signing key set)."""
    specs = spec_copy({})
    out, cache = tmp_path / "generated", tmp_path / "cache"
    probe = exit_probe("'LOADED', sorted(m for m in sys.modules if m.split('.')[0] in ('cedarpy', "
                       "'cryptography') or m.split('.')[:2] == ['paybill', 'guard'])",
                       "['paybill', 'compile', sys.argv[1], '--out', sys.argv[2]]")
    env = {key: value for key, value in os.environ.items() if key != "PAYBILL_BUNDLE_SIGNING_KEY"}
    env[store.CACHE_ENV] = str(cache)

    def compile_once() -> str:
        run = subprocess.run([sys.executable, "-c", probe, str(specs), str(out)], cwd=tmp_path, capture_output=True,
                             text=True, check=False, env=env)
        assert run.returncode == 0 and run.stdout.startswith("compiled "), run.stderr
        return run.stderr

    assert "cedarpy" in compile_once()  # the first compile asks Cedar
    tenant = specs / "tenants" / "bluth.yaml"
    tenant.write_text(tenant.read_text().replace("Bluth Company", "Bluth and Sons"))
    assert "LOADED []" in compile_once()
    assert read_tree(out) == compile_repository(specs).tree


def test_the_compiler_digest_covers_every_source_file_by_path_and_bytes(tmp_path, monkeypatch) -> None:
    """:func:`paybill.store.compiler_digest` (the stamp that makes another compiler's cache foreign):
    every ``.py`` file below the package, nested ones too, by relative path (part by part order, as
    :mod:`pathlib` sorts) and bytes; an edit, a new file or a renamed one changes it."""
    import hashlib
    from pathlib import Path

    import paybill
    from paybill import store

    def expected(package: Path) -> str:
        digest = hashlib.sha256()
        for path in sorted(package.rglob("*.py")):
            digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes())
        return digest.hexdigest()[:16]

    def digest_of(package: Path) -> str:
        return store.digest_of_sources(package)  # what compiler_digest() computes for paybill's own folder

    real = Path(paybill.__file__).parent
    assert digest_of(real) == expected(real) == store.compiler_digest()
    fake = tmp_path / "paybill"
    for rel in ("__init__.py", "a.py", "a/b.py", "a/c/d.py", "a_b.py", "a-b/x.py", "notes.txt"):
        (fake / rel).parent.mkdir(parents=True, exist_ok=True)
        (fake / rel).write_text(f"# {rel}\n")
    seen = {digest_of(fake)}
    assert seen == {expected(fake)}
    (fake / "a/c/d.py").write_text("# edited\n")
    seen.add(digest_of(fake))
    (fake / "a/c/e.py").write_text("# new\n")
    seen.add(digest_of(fake))
    (fake / "a/c/e.py").rename(fake / "a/c/f.py")
    seen.add(digest_of(fake))
    assert len(seen) == 4 and digest_of(fake) == expected(fake)
