"""The cache folder (docs/cache.md): parsed files and the output journal are reused, never trusted blindly.

Every test here compares against a compile without any cache, byte for byte: a cache may only save
time. The random-edit property (hypothesis) drives the CLI's write path through a sequence of edits
to one repository and checks the tree on disk after each step against a fresh, uncached compile.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from compile_support import SPECS, invoke, read_tree
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import paybill.load.reader as reader
from paybill import store
from paybill.compile import compile_repository
from paybill.diagnostics import DiagnosticSink
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
    assert len(entries) == 2  # the parsed files and the journal
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


def test_the_journal_writes_only_changed_files(tmp_path: Path) -> None:
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
    st.tuples(st.just("remove"), st.sampled_from(_TENANTS), st.just("")),
)


def _apply(specs: Path, edit: tuple[str, str, object]) -> None:
    what, name, value = edit
    folder = {"pool-capacity": "pools", "cloud-tag": "clouds"}.get(what, "tenants")
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
    else:
        path.unlink()
        return
    path.write_text(text)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(_EDITS, min_size=1, max_size=4))
def test_incremental_compile_equals_a_full_compile_after_random_edits(spec_copy, tmp_path_factory, edits) -> None:
    """After each edit, the CLI's cached compile leaves exactly what an uncached compile produces."""
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
        full = compile_repository(specs)
        if not full.ok:
            assert result.exit_code == 1
            continue
        assert result.exit_code == 0, result.output
        assert read_tree(out) == full.tree

