"""Atomic tree writes: swap, stale files, refusal to clobber, recovery, and SIGKILL mid-write."""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from compile_support import read_tree, touch_output

import paybill.write.tree as tree_module
from paybill.write.tree import UnsafeOutput, check_replaceable, diff_tree, recover, write_tree

MANIFEST = b'{\n  "generatedBy": "paybill"\n}\n'


def sample(**extra: bytes) -> dict[str, bytes]:
    return {"manifest.json": MANIFEST, "a/b/c.json": b"{}\n", "top.txt": b"top\n", **extra}


def siblings(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if p.name != out.name)


@pytest.mark.parametrize("durable", [False, True], ids=["default", "durable"])
def test_write_creates_then_replaces_the_whole_tree(tmp_path: Path, durable: bool) -> None:
    out = tmp_path / "generated"
    write_tree(sample(**{"old/stale.txt": b"stale\n"}), out, durable=durable)
    assert read_tree(out)["old/stale.txt"] == b"stale\n"
    write_tree(sample(), out, durable=durable)
    assert read_tree(out) == sample()
    assert siblings(out) == []  # no scratch or old folder left behind


def test_durable_write_flushes_before_the_swap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from paybill.write import tree as tree_module

    events: list[str] = []
    monkeypatch.setattr(tree_module, "syncfs", lambda path: events.append("sync") or True)
    monkeypatch.setattr(tree_module, "has_syncfs", lambda: True)
    real_exchange = tree_module.exchange
    monkeypatch.setattr(tree_module, "exchange", lambda a, b: events.append("swap") or real_exchange(a, b))
    out = tmp_path / "generated"
    write_tree(sample(), out)
    write_tree(sample(), out)
    assert events == ["swap"]  # default: atomic, no flush
    events.clear()
    write_tree(sample(), out, durable=True)
    assert events == ["sync", "swap"]


def test_written_folders_get_normal_permissions(tmp_path: Path) -> None:
    out = tmp_path / "generated"
    write_tree(sample(), out)
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o777 & ~umask
    assert stat.S_IMODE((out / "top.txt").stat().st_mode) == 0o666 & ~umask


def test_diff_lists_added_changed_removed(tmp_path: Path) -> None:
    out = tmp_path / "generated"
    assert diff_tree(sample(), out).added == sorted(sample())
    write_tree(sample(**{"gone.txt": b"x"}), out)
    diff = diff_tree(sample(**{"new.txt": b"n", "top.txt": b"changed\n"}), out)
    assert (diff.added, diff.changed, diff.removed) == (["new.txt"], ["top.txt"], ["gone.txt"])
    assert len(diff) == 3 and not diff.clean
    assert diff_tree(sample(**{"gone.txt": b"x"}), out).clean
    assert read_tree(out) == sample(**{"gone.txt": b"x"})  # diffing wrote nothing


def test_refuses_to_replace_a_folder_that_is_not_paybill_output(tmp_path: Path) -> None:
    precious = tmp_path / "work"
    precious.mkdir()
    (precious / "notes.md").write_text("mine")
    with pytest.raises(UnsafeOutput):
        write_tree(sample(), precious)
    assert (precious / "notes.md").read_text() == "mine"
    empty = tmp_path / "empty"
    empty.mkdir()
    check_replaceable(empty)
    (tmp_path / "file").write_text("x")
    with pytest.raises(UnsafeOutput):
        check_replaceable(tmp_path / "file")


@pytest.mark.parametrize("bad", ["../escape", "/abs", "a/../b", ""])
def test_rejects_paths_that_escape(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError):
        write_tree({bad: b"x"}, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_fallback_without_rename_exchange(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tree_module, "exchange", lambda a, b: False)
    out = tmp_path / "generated"
    write_tree(sample(**{"stale": b"s"}), out)
    write_tree(sample(), out)
    assert read_tree(out) == sample() and siblings(out) == []


def test_failure_while_filling_leaves_old_tree_and_no_scratch(tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "generated"
    write_tree(sample(), out)

    def broken(root, tree, progress, durable_each):
        (root / "partial").write_bytes(b"half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tree_module, "_fill", broken)
    with pytest.raises(OSError):
        write_tree(sample(**{"new": b"n"}), out)
    assert read_tree(out) == sample() and siblings(out) == []


def test_recover_restores_an_old_tree_interrupted_between_renames(tmp_path: Path) -> None:
    out = tmp_path / "generated"
    write_tree(sample(), out)
    dead = 2**22 + 12345  # above the default pid_max: no such process
    os.rename(out, tmp_path / f".generated.old-{dead}-abcd")
    (tmp_path / f".generated.tmp-{dead}-beef").mkdir()
    (tmp_path / f".generated.tmp-{os.getpid()}-cafe").mkdir()  # a live writer's scratch: kept
    recover(out)
    assert read_tree(out) == sample()
    assert siblings(out) == [f".generated.tmp-{os.getpid()}-cafe"]


def test_progress_callback_counts_every_file(tmp_path: Path) -> None:
    seen: list[int] = []
    write_tree(sample(), tmp_path / "generated", seen.append)
    assert sum(seen) == len(sample())


def _compile(specs: Path, out: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "paybill", "compile", str(specs), "--out", str(out)],
                            env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.parametrize("cached", [False, True], ids=["whole-tree", "linked-from-journal"])
def test_sigkill_while_writing_leaves_the_old_tree_complete(spec_copy, tmp_path: Path, cached: bool) -> None:
    """Compile once, change a spec, start a slowed-down compile and SIGKILL it mid-write.

    PAYBILL_TEST_WRITE_DELAY makes the writer sleep after each file (test-only), so the kill lands
    while the new tree is half built beside the old one. With a cache, the second compile links the
    unchanged files from the old tree (paybill.write.journal); the kill must not harm either tree.
    """
    specs = spec_copy({})
    out = tmp_path / "generated"
    cache = {"PAYBILL_CACHE_DIR": str(tmp_path / "cache") if cached else "off"}
    first = _compile(specs, out, cache)
    assert first.wait(timeout=120) == 0, first.stderr.read()
    before = read_tree(out)
    assert "manifest.json" in before
    assert any((tmp_path / "cache").iterdir()) if cached else not (tmp_path / "cache").exists()
    tenant = specs / "tenants" / "bluth.yaml"
    tenant.write_text(tenant.read_text().replace("displayName: Bluth Company", "displayName: Bluth and Sons"))

    slow = _compile(specs, out, {"PAYBILL_TEST_WRITE_DELAY": "0.05", **cache})
    deadline = time.monotonic() + 60
    scratch: list[Path] = []
    while time.monotonic() < deadline:
        scratch = [p for p in tmp_path.glob(".generated.tmp-*") if sum(1 for f in p.rglob("*") if f.is_file()) >= 5]
        if scratch or slow.poll() is not None:
            break
        time.sleep(0.02)
    assert scratch, f"the compile never got to writing (exit {slow.poll()})"
    slow.send_signal(signal.SIGKILL)
    assert slow.wait(timeout=30) == -signal.SIGKILL
    assert read_tree(out) == before  # every file, byte for byte
    assert scratch[0].exists()  # the half-built tree is still beside it...

    again = _compile(specs, out, cache)
    assert again.wait(timeout=120) == 0, again.stderr.read()
    assert not scratch[0].exists()  # ...until the next compile cleans it up
    after = read_tree(out)
    assert b"Bluth and Sons" in after["tenants/bluth.json"]
    assert set(after) == set(before)



@pytest.mark.parametrize("kept_from_out", [False, True], ids=["spare-only", "kept-read-from-out"])
def test_sigkill_while_patching_the_spare_tree_leaves_the_old_tree_complete(spec_copy, tmp_path: Path,
                                                                             kept_from_out: bool) -> None:
    """With a cache, the third compile on patches the spare tree (paybill.write.spare) and exchanges it in.

    Kill it mid-patch: ``out`` must be the old tree byte for byte; the next compiles, from the
    half-patched spare (never trusted: checked file by file against its journal), must produce
    exactly what a compile without any cache produces. ``kept-read-from-out``: a compile before
    leaves the spare one edit behind ``out``, so the killed compile keeps a stack in place
    (``CompileResult.kept``) whose bytes it must copy from ``out`` into the spare while patching.
    """
    from paybill import store
    from paybill.compile import compile_repository
    from paybill.write.spare import _spare_journal_name, spare_path

    specs = spec_copy({})
    out = tmp_path / "generated"
    cache_dir = tmp_path / "cache"
    cache = {"PAYBILL_CACHE_DIR": str(cache_dir)}
    for _ in range(2):  # the second compile keeps the tree it replaced as the spare
        run = _compile(specs, out, cache)
        assert run.wait(timeout=120) == 0, run.stderr.read()
        touch_output(out)  # else the second compile, with nothing to write, keeps no spare
    assert spare_path(cache_dir, out).is_dir()
    assert store.read(cache_dir, _spare_journal_name(out))  # a journal describes it
    if kept_from_out:
        other = specs / "tenants" / "hooli.yaml"
        other.write_text(re.sub(r"(displayName: .*)", r"\1 Edited", other.read_text(), count=1))
        run = _compile(specs, out, cache)
        assert run.wait(timeout=120) == 0, run.stderr.read()
    before = read_tree(out)
    tenant = specs / "tenants" / "bluth.yaml"
    tenant.write_text(tenant.read_text().replace("displayName: Bluth Company", "displayName: Bluth and Sons"))

    slow = _compile(specs, out, {"PAYBILL_TEST_WRITE_DELAY": "0.05", **cache})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and slow.poll() is None:
        if store.read(cache_dir, _spare_journal_name(out)) == ({}, None):  # the patch has started
            break
        time.sleep(0.02)
    time.sleep(0.5)  # some files visited, most not
    assert slow.poll() is None, f"the compile ended before the kill (exit {slow.poll()})"
    slow.send_signal(signal.SIGKILL)
    assert slow.wait(timeout=30) == -signal.SIGKILL
    assert read_tree(out) == before  # every file, byte for byte
    assert siblings(out) == ["cache", "repo"]  # nothing half-built beside it: the spare lives in the cache

    for edit in ("Bluth and Sons", "Bluth and Daughters"):
        tenant.write_text(tenant.read_text().replace("displayName: Bluth and Sons", f"displayName: {edit}"))
        again = _compile(specs, out, cache)
        assert again.wait(timeout=120) == 0, again.stderr.read()
        assert read_tree(out) == compile_repository(specs).tree


def test_a_spare_tree_edited_by_hand_is_never_trusted(spec_copy, tmp_path: Path) -> None:
    """Files changed in ``out`` (same size), or added there, come back as the spare two compiles later.

    The spare is checked file by file against its journal (size, mtime, inode) and scanned for
    files the journal does not list; an edited file is written again, an added one removed.
    """
    from paybill.compile import compile_repository
    from paybill.write.journal import write_tree_linked
    from paybill.write.spare import spare_path

    specs = spec_copy({})
    out, cache = tmp_path / "generated", tmp_path / "cache"
    full = compile_repository(specs).tree
    for _ in range(2):
        write_tree_linked(full, out, cache)
        touch_output(out)  # else the second write, with nothing to write, keeps no spare
    assert spare_path(cache, out).is_dir()
    edited = out / "tenants" / "bluth.json"
    data = edited.read_bytes()
    with open(edited, "r+b") as handle:  # in place: same inode, same size
        handle.write(b"X" + data[1:2] + b"Y")
    (out / "terraform" / "stray.txt").write_bytes(b"left by hand\n")
    write_tree_linked(full, out, cache)  # the hand-edited tree becomes the spare
    assert read_tree(out) == full
    write_tree_linked(full, out, cache)  # ... and is patched back into `out` here
    assert read_tree(out) == full


def test_the_spare_tree_follows_a_file_becoming_a_folder_and_back(tmp_path: Path) -> None:
    from paybill.write.journal import write_tree_linked
    from paybill.write.spare import spare_path

    out, cache = tmp_path / "generated", tmp_path / "cache"
    trees = [sample(**{"x/y.json": b"1\n"}), sample(**{"x/y.json": b"2\n"}),
             sample(**{"x": b"now a file\n"}), sample(**{"x/y/z.json": b"deeper\n"}), sample()]
    for tree in trees + trees:
        write_tree_linked(tree, out, cache)
        assert read_tree(out) == tree
    assert spare_path(cache, out).is_dir()


def test_the_writer_reports_the_folder_stats_an_lstat_finds(tmp_path: Path) -> None:
    """The spare patch hands the whole-compile record the stats of the new tree's folders (as its survey
    saw them, ``lstat``-ed again only where the patch changed them: paybill.write.spare); they must be
    exactly what an ``lstat`` of every folder finds, through layout changes, an edited and a stray file."""
    from paybill.write.journal import load_journal, write_tree_linked

    out, cache = tmp_path / "generated", tmp_path / "cache"
    trees = [sample(**{"x/y.json": b"1\n"}), sample(**{"x/y.json": b"2\n", "p/q/r.json": b"r\n"}),
             sample(**{"x": b"now a file\n"}), sample(**{"x/y/z.json": b"deeper\n"}), sample(),
             sample(**{"p/q/r.json": b"r\n", "p/s.json": b"s\n"}), sample(**{"a/n/m.json": b"m\n"})]
    reported = 0
    for step, tree in enumerate(trees + trees + trees):
        # out's folders as the record saw them after the last write (trusted: nothing is racy here)
        hint = (time.time_ns() + 10**9, _folder_stats(out)) if out.exists() else None
        if step == 7:  # an edit in place and a stray file: they come back as the spare two writes later
            (out / "a/b/c.json").write_bytes(b"{!\n")
            (out / "a/b/stray.json").write_bytes(b"{}\n")
        final_folders: dict[str, tuple[int, int, int]] = {}
        write_tree_linked(tree, out, cache, journal=load_journal(cache, out), folders=hint,
                          final_folders=final_folders)
        assert read_tree(out) == tree
        if final_folders:
            assert final_folders == _folder_stats(out), step
            reported += 1
    assert reported >= 10  # from the third write on, the spare is patched


def _folder_stats(root: Path) -> dict[str, tuple[int, int, int]]:
    found = {"": (os.lstat(root).st_mtime_ns, os.lstat(root).st_ino, os.lstat(root).st_ctime_ns)}
    for folder, names, _ in os.walk(root):
        for name in names:
            info = os.lstat(os.path.join(folder, name))
            found[os.path.relpath(os.path.join(folder, name), root)] = (info.st_mtime_ns, info.st_ino, info.st_ctime_ns)
    return found


@pytest.mark.parametrize("change", ["none", "edited", "added", "removed", "new-folder", "folder-to-symlink",
                                    "file-to-folder", "folder-mtime-put-back", "racy"])
def test_the_spare_survey_trusting_unchanged_folders_sees_what_a_full_scan_sees(tmp_path: Path, change: str,
                                                                                monkeypatch) -> None:
    """The spare's folders as last seen whole (paybill.write.spare._survey_known): a folder whose stat
    is unchanged and older than the recording is not scanned, every other one is; either way the
    survey is exactly a full scan's."""
    from paybill.write.journal import journal_of
    from paybill.write.spare import _survey, _survey_known

    root = tmp_path / "spare"
    tree = sample(**{"a/b/c.json": b"c\n", "a/d.json": b"d\n", "e/f.json": b"f\n"})
    for path, data in tree.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    journal = journal_of(root, tree)
    recorded = _folder_stats(root)
    trusted = time.time_ns() + 10**9 if change != "racy" else min(m for m, _, _ in recorded.values())
    if change == "edited":
        (root / "a/b/c.json").write_bytes(b"C\n")
    elif change == "added":
        (root / "a/b/stray.json").write_bytes(b"{}\n")
    elif change == "removed":
        (root / "a/d.json").unlink()
    elif change == "new-folder":
        (root / "a/new/deeper").mkdir(parents=True)
        (root / "a/new/deeper/x.json").write_bytes(b"x\n")
    elif change == "folder-to-symlink":
        os.rename(root / "a/b", tmp_path / "elsewhere")
        (root / "a/b").symlink_to(tmp_path / "elsewhere")
    elif change == "file-to-folder":
        (root / "e/f.json").unlink()
        (root / "e/f.json").mkdir()
    elif change in ("folder-mtime-put-back", "racy"):
        info = os.lstat(root / "a/b")
        (root / "a/b/stray.json").write_bytes(b"{}\n")
        os.utime(root / "a/b", ns=(info.st_atime_ns, info.st_mtime_ns))  # only ctime (or racy) tells
    scans: list[object] = []
    real_scandir = os.scandir
    monkeypatch.setattr(os, "scandir", lambda path: scans.append(path) or real_scandir(path))
    known = _survey_known(root, journal, (trusted, recorded))
    monkeypatch.setattr(os, "scandir", real_scandir)
    full = _survey(root)
    assert (known[0], sorted(known[1]), sorted(known[2])) == (full[0], sorted(full[1]), sorted(full[2]))
    if change in ("none", "edited"):
        assert len(scans) == 1  # the top folder only
    if change == "racy":
        assert len(scans) == len(recorded)  # every folder recorded in the racy window is scanned


def test_one_tenant_compiles_patch_the_spare_from_folder_stats_exactly(spec_copy, tmp_path: Path) -> None:
    """``paybill compile`` hands the spare its folder stats (from the whole-compile record); a file edited
    in place or added in the output folder, which becomes the spare, is still found and undone."""
    from paybill.compile import compile_repository
    from paybill.write.spare import _read_spare_journal

    specs = spec_copy({})
    out, cache_dir = tmp_path / "generated", tmp_path / "cache"
    cache = {"PAYBILL_CACHE_DIR": str(cache_dir)}
    tenant = specs / "tenants" / "bluth.yaml"
    for step in range(6):
        if step == 3:  # out becomes the spare at the next compile: an in-place edit and a stray file
            edited = out / "tenants" / "hooli.json"
            data = edited.read_bytes()
            with open(edited, "r+b") as handle:  # same inode, same size, a new mtime; its folder unchanged
                handle.write(b"X" + data[1:])
            (out / "terraform" / "stray.txt").write_bytes(b"left by hand\n")
        tenant.write_text(re.sub(r"displayName: .*", f"displayName: Bluth {step}", tenant.read_text(), count=1))
        run = _compile(specs, out, cache)
        assert run.wait(timeout=120) == 0, run.stderr.read()
        assert read_tree(out) == compile_repository(specs).tree
    saved = _read_spare_journal(cache_dir, out)
    assert saved is not None and saved[1] is not None  # the spare carries folder stats


def test_load_journal_hands_over_the_bytes_it_verified_for_the_files_named_only(tmp_path: Path) -> None:
    from paybill.write.journal import load_journal, write_tree_linked

    out, cache = tmp_path / "generated", tmp_path / "cache"
    tree = {"manifest.json": b'{\n  "generatedBy": "paybill"\n}\n', "a/x.json": b"1\n", "a/y.json": b"2\n"}
    write_tree_linked(tree, out, cache)  # just written: every entry is racy, verified by its bytes
    wanted: dict[str, bytes | None] = {"manifest.json": None, "a/missing.json": None}
    assert set(load_journal(cache, out, wanted)) == set(tree)
    assert wanted == {"manifest.json": tree["manifest.json"], "a/missing.json": None}
    (out / "manifest.json").write_bytes(tree["manifest.json"] + b" ")  # no longer what the journal says
    wanted = {"manifest.json": None}
    assert set(load_journal(cache, out, wanted)) == {"a/x.json", "a/y.json"} and wanted == {"manifest.json": None}
