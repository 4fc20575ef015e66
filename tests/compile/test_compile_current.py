"""A compile that changes nothing writes nothing (paybill.write.current), and is never fooled.

At 10,000 tenants the second compile after a full one used to rebuild a whole linked tree to swap
in (~4 s of ``mkdir``/``link``) to put back the same bytes. Now the write is skipped when the new
tree is exactly the journal's and ``out`` exactly what the journal recorded; every doubt (a file
edited, added or removed in ``out``, an entry recorded in the journal's own timestamp tick) writes.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from compile_support import read_tree

from paybill import store
from paybill.write.journal import journal_name, load_journal, saved_journal, write_tree_linked
from paybill.write.spare import spare_path

TREE = {
    "manifest.json": b'{"generatedBy": "paybill"}\n',
    "terraform/a/main.tf.json": b'{"a": 1}\n',
    "terraform/b/main.tf.json": b'{"b": 2}\n',
    "tenants/x.json": b'{"x": true}\n',
}


def _stats(out: Path) -> dict[str, tuple[int, int, int]]:
    found = {}
    for folder, _, names in os.walk(out):
        for name in names:
            info = os.lstat(os.path.join(folder, name))
            found[os.path.relpath(os.path.join(folder, name), out)] = (info.st_ino, info.st_mtime_ns, info.st_size)
    return found


def _settle(cache: Path, out: Path) -> None:
    """Date every recorded file 10 s back, as if written well before the journal (no racy entries)."""
    for path in TREE:
        target = out / path
        info = target.stat()
        os.utime(target, ns=(info.st_atime_ns, info.st_mtime_ns - 10 * 10**9))
    saved = saved_journal(cache, out)  # as saved: its entries are racy until dated back
    assert isinstance(saved, dict)
    journal = {path: (size, mtime - 10 * 10**9, ino, digest) for path, (size, mtime, ino, digest) in saved.items()}
    store.write(cache, journal_name(out), journal)


def test_an_unchanged_tree_is_not_written_at_all(tmp_path: Path) -> None:
    out, cache = tmp_path / "generated", tmp_path / "cache"
    assert write_tree_linked(TREE, out, cache) == len(TREE)
    before, folder = _stats(out), os.stat(out).st_ino
    assert write_tree_linked(TREE, out, cache) == 0
    assert _stats(out) == before and os.stat(out).st_ino == folder  # not even swapped
    assert not spare_path(cache, out).exists()
    changed = {**TREE, "tenants/x.json": b'{"x": false}\n'}
    assert write_tree_linked(changed, out, cache) == 1  # a real change still writes (and swaps)
    assert read_tree(out) == changed and os.stat(out).st_ino != folder


@pytest.mark.parametrize("change", ["edited", "added", "removed", "empty-folder", "symlink", "digest"])
def test_any_difference_in_the_output_folder_is_written_back(tmp_path: Path, change: str) -> None:
    out, cache = tmp_path / "generated", tmp_path / "cache"
    write_tree_linked(TREE, out, cache)
    _settle(cache, out)
    if change == "edited":
        (out / "tenants/x.json").write_bytes(b'{"x": 1.0}\n')  # same size, new mtime
    elif change == "added":
        (out / "terraform/a/stray.tf.json").write_bytes(b"{}\n")
    elif change == "removed":
        (out / "terraform/b/main.tf.json").unlink()
    elif change == "empty-folder":
        (out / "terraform/c").mkdir()
    elif change == "symlink":
        (out / "tenants/y.json").symlink_to("x.json")
    else:  # the journal's digest for a file is not the new bytes' (a forged or stale entry)
        journal = load_journal(cache, out)
        size, mtime, ino, _ = journal["tenants/x.json"]
        store.write(cache, journal_name(out), {**journal, "tenants/x.json": (size, mtime, ino, b"\0" * 32)})
    folder = os.stat(out).st_ino
    write_tree_linked(TREE, out, cache)
    assert os.stat(out).st_ino != folder  # a new tree was swapped in
    assert read_tree(out) == TREE
    assert not (out / "terraform/c").exists() and not (out / "tenants/y.json").is_symlink()


def test_a_file_edited_within_the_journals_timestamp_tick_is_not_trusted(tmp_path: Path) -> None:
    """The racy-git case: a file rewritten in place (same inode, same size) in the very tick its
    journal was written in keeps a stat identical to its entry. Such an entry (mtime not older than
    the journal's own write time) is checked by content, so the edit is found and written back."""
    out, cache = tmp_path / "generated", tmp_path / "cache"
    write_tree_linked(TREE, out, cache)
    target = out / "tenants/x.json"
    entry = load_journal(cache, out)["tenants/x.json"]
    with open(target, "r+b") as handle:  # in place: same inode, same size
        handle.write(b'{"y"')
    tick = entry[1]
    os.utime(target, ns=(tick, tick))  # the coarse clock had not moved since the compile wrote it
    os.utime(cache / journal_name(out), ns=(tick, tick))  # ... nor when the journal was saved
    assert (os.lstat(target).st_size, os.lstat(target).st_mtime_ns, os.lstat(target).st_ino) == entry[:3]
    assert "tenants/x.json" not in load_journal(cache, out)  # racy and not matching: left out
    assert "terraform/a/main.tf.json" in load_journal(cache, out)  # racy too, but its bytes verify
    assert write_tree_linked(TREE, out, cache) == 1
    assert read_tree(out) == TREE


def test_a_racy_entry_that_still_matches_costs_a_read_not_a_write(tmp_path: Path) -> None:
    out, cache = tmp_path / "generated", tmp_path / "cache"
    write_tree_linked(TREE, out, cache)
    newest = max(entry[1] for entry in load_journal(cache, out).values())
    os.utime(cache / journal_name(out), ns=(newest, newest))  # every file may be racy now
    before, folder = _stats(out), os.stat(out).st_ino
    assert write_tree_linked(TREE, out, cache) == 0
    assert _stats(out) == before and os.stat(out).st_ino == folder  # read, verified, not swapped


def test_the_cli_compiles_an_unchanged_repository_without_writing(spec_copy, tmp_path: Path, monkeypatch) -> None:
    from compile_support import invoke

    from paybill.compile import compile_repository

    specs = spec_copy({})
    out, cache = tmp_path / "generated", tmp_path / "cache"
    monkeypatch.setenv(store.CACHE_ENV, str(cache))
    first = invoke("compile", str(specs), "--out", str(out), cwd=tmp_path)
    assert first.exit_code == 0, first.output
    before, folder = _stats(out), os.stat(out).st_ino
    again = invoke("compile", str(specs), "--out", str(out), cwd=tmp_path)
    assert again.exit_code == 0, again.output
    assert again.output == first.output
    assert _stats(out) == before and os.stat(out).st_ino == folder  # nothing written, nothing swapped
    assert not spare_path(cache, out).exists()
    assert read_tree(out) == compile_repository(specs).tree
