"""Entity chunks Cedar loaded before are not loaded again (:class:`paybill.emit.bundles.proven.LoadProofs`).

When a label edit makes the bundle checks run again, Cedar still has to prove that every tenant
entity no check names loads against the schema; chunks whose exact text loaded under the same
schema and Cedar version before are skipped. These tests count the texts Cedar parses, check that a
new or damaged entity is still loaded (and reported), and that the chunk cuts are content-defined.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import paybill.emit.bundles.checks as checks
import paybill.emit.bundles.documents as documents
import paybill.emit.bundles.emitter as emitter
from paybill import store
from paybill.compile import compile_repository
from paybill.emit.bundles.proven import LOADS_NAMESPACE, NAMESPACE

TENANT = "Paybill::Tenant"


def _loaded_texts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every entities text Cedar parses from now on (the engine's own and the chunks only loaded)."""
    import cedarpy

    texts: list[str] = []
    real = cedarpy.Entities.from_json_str

    def spy(text: str, *args: object) -> object:
        texts.append(text)
        return real(text, *args)

    monkeypatch.setattr(cedarpy.Entities, "from_json_str", staticmethod(spy))
    return texts


def _chunk_tenants(texts: list[str]) -> list[set[str]]:
    """The tenants of each text that holds tenants only (the chunks loaded to prove they load)."""
    chunks = []
    for text in texts:
        entities = json.loads(text)
        if entities and all(e["uid"]["type"] == TENANT for e in entities):
            chunks.append({e["uid"]["id"] for e in entities})
    return chunks


def _relabel(specs: Path, tenant: str, label: str) -> None:
    path = specs / "tenants" / f"{tenant}.yaml"
    path.write_text(path.read_text().replace("labels: {", f"labels: {{{label}: x, ", 1))


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYBILL_NO_FORK", "1")  # the spy must see the bundles emitter's calls
    monkeypatch.setattr(checks, "ENTITY_CHUNK", 2)  # several chunks out of the example's tenants


@pytest.mark.usefixtures("small_chunks")
def test_a_label_edit_loads_only_the_chunk_that_held_the_edited_tenant(spec_copy, tmp_path: Path,
                                                                      monkeypatch) -> None:
    """A tenant no check names gets a label set of its own, so the checks run again and name it: the
    chunk it left is new text (loaded), every other chunk loaded before (not loaded again)."""
    specs = spec_copy({})
    cache = tmp_path / "cache"
    texts = _loaded_texts(monkeypatch)
    assert compile_repository(specs, cache=cache).ok
    every = _chunk_tenants(texts)
    assert len(every) > 4
    tenant = sorted(max(every, key=len))[0]  # in a chunk with others, which stay in a chunk
    texts.clear()
    _relabel(specs, tenant, "edited")
    again = compile_repository(specs, cache=cache)
    reloaded = _chunk_tenants(texts)
    assert reloaded and len(reloaded) <= 2 * sum(tenant in chunk for chunk in every) < len(every)
    near = set().union(*(chunk for chunk in every if tenant in chunk))
    assert all(tenant not in chunk and chunk & near for chunk in reloaded)
    assert any(f'"id":"{tenant}"' in text.replace(" ", "") for text in texts)  # the engine names it now
    full = compile_repository(specs)
    assert again.tree == full.tree and again.diagnostics == full.diagnostics
    texts.clear()
    _relabel(specs, tenant, "again")  # it is named, so no chunk changes: the checks run, no chunk loads
    cached = compile_repository(specs, cache=cache)
    assert texts and _chunk_tenants(texts) == []
    assert cached.tree == compile_repository(specs).tree


@pytest.mark.usefixtures("small_chunks")
@pytest.mark.parametrize("damage", ["none", "flip", "truncate", "foreign"])
def test_a_damaged_or_foreign_proof_loads_every_chunk(spec_copy, tmp_path: Path, monkeypatch, damage: str) -> None:
    """With the clean checks forgotten, Cedar loads no chunk it loaded before, unless the loads' entry
    is damaged or foreign: then it loads every chunk again."""
    specs = spec_copy({})
    cache = tmp_path / "cache"
    texts = _loaded_texts(monkeypatch)
    compile_repository(specs, cache=cache)
    every = sorted(map(sorted, _chunk_tenants(texts)))
    agents = sorted(p.stem for p in (specs / "agents").iterdir())
    units = cache / store.UNITS_FOLDER
    for agent in agents:
        (units / store.key(NAMESPACE, agent)).unlink()  # the checks run again
        entry = units / store.key(LOADS_NAMESPACE, agent)
        blob = entry.read_bytes()
        if damage == "flip":
            entry.write_bytes(blob[:-3] + bytes([blob[-3] ^ 1]) + blob[-2:])
        elif damage == "truncate":
            entry.write_bytes(blob[:len(blob) // 2])
        elif damage == "foreign":
            entry.write_bytes(blob.replace(b"paybill-cache 1 ", b"paybill-cache 0 ", 1))
    texts.clear()
    again = compile_repository(specs, cache=cache)
    assert sorted(map(sorted, _chunk_tenants(texts))) == ([] if damage == "none" else every)
    assert again.tree == compile_repository(specs).tree


@pytest.mark.usefixtures("small_chunks")
def test_an_entity_that_cannot_load_is_reported_whatever_loaded_before(spec_copy, tmp_path: Path,
                                                                      monkeypatch) -> None:
    """Proofs are of exact texts: a chunk with a broken entity is new text, so Cedar loads it (PB0708)."""
    specs = spec_copy({})
    cache = tmp_path / "cache"
    assert compile_repository(specs, cache=cache).ok
    real = emitter.build_entities

    def with_a_broken_tenant(facts):
        built = real(facts)
        return [*built, {"uid": {"type": TENANT, "id": "zz-unnamed"}, "attrs": {"lifecycle": 7},
                         "parents": [], "tags": {}}]

    monkeypatch.setattr(emitter, "build_entities", with_a_broken_tenant)
    _relabel(specs, "bluth", "edited")  # the checks must run again
    broken = compile_repository(specs, cache=cache)
    assert "PB0708" in {d.code for d in broken.diagnostics} and not broken.ok
    monkeypatch.setattr(emitter, "build_entities", real)
    _relabel(specs, "bluth", "fixed")
    assert compile_repository(specs, cache=cache).tree == compile_repository(specs).tree
    assert documents  # the module that builds the entities (imported so a rename fails here)


@settings(max_examples=80, deadline=None)
@given(ids=st.lists(st.text(alphabet="abcdefgh-", min_size=1, max_size=6), min_size=1, max_size=60, unique=True),
       at=st.integers(min_value=0), size=st.integers(min_value=1, max_value=6))
def test_chunk_cuts_depend_on_the_items_not_their_positions(ids: list[str], at: int, size: int) -> None:
    """The chunks are those of each segment ending at a natural cut (an id whose CRC-32 is a multiple
    of the chunk size) taken alone, so inserting an item changes the chunks of its own segment only."""
    def natural(item: str) -> bool:
        return zlib.crc32(item.encode()) % size == 0

    segments: list[list[str]] = [[]]
    for item in ids:
        segments[-1].append(item)
        if natural(item):
            segments.append([])
    segments = [segment for segment in segments if segment]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(checks, "ENTITY_CHUNK", size)
        before = list(checks._chunks(ids, str))
        assert before == [chunk for segment in segments for chunk in checks._chunks(segment, str)]
        assert all(len(chunk) <= 2 * size for chunk in before)
        at %= len(ids) + 1
        after = list(checks._chunks([*ids[:at], "zz" + "-".join(ids), *ids[at:]], str))
        touched = next((s for s in segments if ids[at] in s), None) if at < len(ids) else \
            (segments[-1] if not natural(ids[-1]) else None)
        for segment in segments:
            if segment is not touched:
                for chunk in checks._chunks(segment, str):
                    assert chunk in after
