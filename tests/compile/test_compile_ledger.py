"""Bookkeeping tables as changes against a shared base (paybill.write.ledger): small writes, never trusted."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from compile_support import read_tree

from paybill import store
from paybill.write import ledger
from paybill.write.journal import journal_name, load_journal, saved_journal, write_tree_linked

MANIFEST = b'{\n  "generatedBy": "paybill"\n}\n'


def _tree(count: int) -> dict[str, bytes]:
    return {"manifest.json": MANIFEST, **{f"t{i}/main.tf.json": f'{{"i": {i}}}\n'.encode() for i in range(count)}}


def _table(count: int, salt: int = 0) -> dict[str, object]:
    return {f"terraform/t{i}/main.tf.json": (i, 10**18 + i + salt, 1000 + i, bytes([i % 256]) * 32)
            for i in range(count)}


def _bases(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.iterdir() if p.name.endswith((".a", ".b")))


@pytest.fixture(autouse=True)
def _fresh_memory() -> None:
    ledger.forget_memory()


def test_a_small_change_is_written_as_a_small_change_against_one_shared_base(tmp_path: Path) -> None:
    out = tmp_path / "out"
    table = _table(1000)
    first = ledger.encode(tmp_path, "files", out, table)
    assert isinstance(first, tuple) and first[3] == {} and first[4] == []
    assert len(_bases(tmp_path)) == 1
    changed = {**table, "terraform/t1/main.tf.json": (9, 9, 9, b"\1" * 32), "new.json": (1, 2, 3, b"\2" * 32)}
    del changed["terraform/t2/main.tf.json"]
    second = ledger.encode(tmp_path, "files", out, changed)
    assert isinstance(second, tuple) and second[1] == first[1]  # the same base
    assert set(second[3]) == {"terraform/t1/main.tf.json", "new.json"} and second[4] == ["terraform/t2/main.tf.json"]
    assert len(_bases(tmp_path)) == 1
    ledger.forget_memory()  # as another process: read from disk
    assert ledger.decode(tmp_path, first) == table
    assert ledger.decode(tmp_path, second) == changed
    assert ledger.decode(tmp_path, {"plain": 1}) == {"plain": 1}  # a table written whole is itself


def test_too_many_changes_make_a_new_base_in_the_other_slot_and_the_old_entries_still_read(tmp_path: Path) -> None:
    out = tmp_path / "out"
    old = ledger.encode(tmp_path, "files", out, _table(1000))
    new = ledger.encode(tmp_path, "files", out, _table(1000, salt=7))  # every row changed
    assert isinstance(old, tuple) and isinstance(new, tuple) and old[1] != new[1]
    assert len(_bases(tmp_path)) == 2
    ledger.forget_memory()
    assert ledger.decode(tmp_path, old) == _table(1000)
    assert ledger.decode(tmp_path, new) == _table(1000, salt=7)
    # Two tables taking turns (the output folder's folders and the spare's) each keep their own base.
    for _ in range(3):
        assert ledger.encode(tmp_path, "files", out, _table(1000))[1] == old[1]
        assert ledger.encode(tmp_path, "files", out, _table(1000, salt=7))[1] == new[1]
    third = ledger.encode(tmp_path, "files", out, _table(1000, salt=9))  # replaces one of the two
    assert isinstance(third, tuple)
    ledger.forget_memory()
    replaced = old if third[1] == old[1] else new
    assert ledger.decode(tmp_path, replaced) is None  # its base was overwritten: another token, read as absent
    assert ledger.decode(tmp_path, third) == _table(1000, salt=9)


@pytest.mark.parametrize("damage", ["flip", "truncate", "delete", "foreign"])
def test_a_damaged_or_missing_base_reads_as_absent_and_the_writer_writes_everything(tmp_path: Path,
                                                                                   damage: str) -> None:
    out, cache = tmp_path / "generated", tmp_path / "cache"
    tree = _tree(300)
    write_tree_linked(tree, out, cache)
    assert load_journal(cache, out)
    (base,) = _bases(cache)
    path = cache / base
    if damage == "delete":
        path.unlink()
    else:
        blob = bytearray(path.read_bytes())
        if damage == "flip":
            blob[-5] ^= 1
        elif damage == "truncate":
            del blob[len(blob) // 2:]
        else:
            blob[:blob.index(b"\n")] = b"paybill-cache 1 9.9.9 py3.99"
        path.write_bytes(bytes(blob))
    ledger.forget_memory()
    assert saved_journal(cache, out) is None and load_journal(cache, out) == {}
    changed = {**tree, "t1/main.tf.json": b'{"i": "one"}\n'}
    assert write_tree_linked(changed, out, cache) == len(changed)  # nothing known: every file written
    assert read_tree(out) == changed
    assert saved_journal(cache, out) is not None  # a new base was written: known again


def test_a_base_replaced_under_this_process_is_not_encoded_against(tmp_path: Path) -> None:
    """A base this process holds but that changed on disk since (pruned, rewritten by another compile):
    the next table gets a new base rather than changes against content nobody can read back."""
    out = tmp_path / "out"
    first = ledger.encode(tmp_path, "files", out, _table(500))
    assert isinstance(first, tuple)
    (tmp_path / first[1]).unlink()  # pruned
    second = ledger.encode(tmp_path, "files", out, _table(500))
    assert isinstance(second, tuple) and second[3] == {} and (tmp_path / second[1]).exists()
    ledger.forget_memory()
    assert ledger.decode(tmp_path, second) == _table(500)
    assert ledger.decode(tmp_path, first) is None


def test_a_forged_base_name_is_never_read(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("x")
    forged = (ledger.TAG, "../secret", b"0" * 16, {}, [])
    assert ledger.decode(tmp_path, forged) is None


def test_one_tenant_writes_rewrite_no_large_entry(tmp_path: Path) -> None:
    """The point of it: once the spare is patched, a write changing one file of 2,000 writes no base and
    only small entries (journal, spare journal), while every guarantee of the writer stays."""
    out, cache = tmp_path / "generated", tmp_path / "cache"
    tree = _tree(2000)
    for step in range(5):
        tree = {**tree, f"t{step}/main.tf.json": f'{{"step": {step}}}\n'.encode()}
        write_tree_linked(tree, out, cache, journal=load_journal(cache, out))
        assert read_tree(out) == tree
    sizes = {p.name: p.stat().st_size for p in cache.iterdir() if p.is_file()}
    bases = {name: os.stat(cache / name).st_mtime_ns for name in _bases(cache)}
    for step in range(5, 10):
        ledger.forget_memory()  # each write as its own process
        tree = {**tree, f"t{step}/main.tf.json": f'{{"step": {step}}}\n'.encode()}
        assert write_tree_linked(tree, out, cache, journal=load_journal(cache, out)) == 2  # the spare is two behind
        assert read_tree(out) == tree
    assert {name: os.stat(cache / name).st_mtime_ns for name in _bases(cache)} == bases  # no base rewritten
    assert os.path.getsize(cache / journal_name(out)) < 4096 < sizes[max(bases)]
    assert store.read(cache, journal_name(out)) is not None


def test_a_new_base_is_in_key_order_and_a_decoded_table_keeps_it(tmp_path: Path) -> None:
    out = tmp_path / "out"
    table = dict(reversed(list(_table(300).items())))  # out of order, as a folder listing comes
    encoded = ledger.encode(tmp_path, "files", out, table)
    changed = {**table, "terraform/t7/main.tf.json": (1, 2, 3, b"\3" * 32)}
    ledger.forget_memory()
    assert list(ledger.decode(tmp_path, encoded)) == sorted(table)  # type: ignore[arg-type]
    decoded = ledger.decode(tmp_path, ledger.encode(tmp_path, "files", out, changed))
    assert decoded == changed and list(decoded) == sorted(changed)  # type: ignore[arg-type]


def test_the_other_trees_base_is_not_diffed_whole_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The output folder's and the spare's folders take turns and differ in every row: the slot of the
    other tree is told from its first rows, and only the right one is diffed whole, the result unchanged."""
    out = tmp_path / "out"
    mine, theirs = _table(2000), _table(2000, salt=7)
    first = ledger.encode(tmp_path, "folders", out, mine)
    ledger.encode(tmp_path, "folders", out, theirs)  # the other slot, used last: tried first next time
    diffed: list[int] = []
    real = ledger._delta

    def counted(base, table):  # type: ignore[no-untyped-def]
        diffed.append(len(base))
        return real(base, table)

    monkeypatch.setattr(ledger, "_delta", counted)
    changed = {**mine, "terraform/t1/main.tf.json": (9, 9, 9, b"\1" * 32)}
    encoded = ledger.encode(tmp_path, "folders", out, changed)
    assert isinstance(encoded, tuple) and isinstance(first, tuple) and encoded[1] == first[1]
    assert encoded[3] == {"terraform/t1/main.tf.json": (9, 9, 9, b"\1" * 32)} and diffed == [2000]
    # every row changed against both: both diffed whole, as before, and a new base written
    diffed.clear()
    assert ledger.encode(tmp_path, "folders", out, _table(2000, salt=9))[3] == {} and len(diffed) == 2
