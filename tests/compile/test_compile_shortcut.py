"""The whole-compile short cut (paybill.write.shortcut): taken only when nothing could change.

A compile whose spec files, compiler, options and output folder are exactly those of the last
successful compile into that folder prints the same text and exits 0 without running a stage. Each
test below changes one thing the record covers and checks that the compile then really runs (the
stages are replaced by one that fails the test where the short cut must be taken).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from compile_support import exit_probe, invoke, read_tree

import paybill.compile
from paybill import store
from paybill.write import shortcut
from paybill.write.journal import journal_name


def _no_stages(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the compile ran although nothing changed")

    monkeypatch.setattr(paybill.compile, "compile_repository", refuse)


def _compiles(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count calls of the compile stages (which still run)."""
    calls: list[int] = []
    real = paybill.compile.compile_repository

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(paybill.compile, "compile_repository", counted)
    return calls


@pytest.fixture
def repo(spec_copy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, Path]:
    """A repository compiled once (with a cache): (specs, out, cache)."""
    specs = spec_copy({})
    out, cache = tmp_path / "generated", tmp_path / "cache"
    monkeypatch.setenv(store.CACHE_ENV, str(cache))
    monkeypatch.delenv(shortcut.SIGNING_KEY_ENV, raising=False)
    first = invoke("compile", str(specs), "--out", str(out), cwd=tmp_path)
    assert first.exit_code == 0, first.output
    return specs, out, cache


def _compile(tmp_path: Path, specs: Path, out: Path, *extra: str) -> tuple[int, str]:
    result = invoke("compile", str(specs), "--out", str(out), *extra, cwd=tmp_path)
    return result.exit_code, result.output


def _settle(cache: Path, out: Path) -> None:
    """Make the record's state old news: nothing in it is racy any more (as after a few seconds)."""
    record = store.read(cache, shortcut.record_name(out))
    assert isinstance(record, dict)
    store.write(cache, shortcut.record_name(out), {**record, "trusted_before": 2**62})


def test_an_unchanged_repository_prints_the_same_text_without_compiling(repo, tmp_path, monkeypatch) -> None:
    specs, out, _cache = repo
    first = read_tree(out)
    code, printed = _compile(tmp_path, specs, out)  # the first compile's record is settled by this one
    assert code == 0
    _no_stages(monkeypatch)
    before = os.stat(out)
    for _ in range(2):
        again, text = _compile(tmp_path, specs, out)
        assert again == 0 and text == printed and text.startswith("compiled ")
    assert read_tree(out) == first and os.stat(out).st_ino == before.st_ino


def test_the_short_cut_imports_no_stage_and_parses_no_yaml(repo, tmp_path) -> None:
    """Observed from outside: a real ``paybill compile`` process never loads the stages' modules."""
    specs, out, _ = repo
    probe = exit_probe("'LOADED', sorted(m for m in sys.modules if m.split('.')[:2] in (['paybill', "
                       "'compile'], ['paybill', 'load'], ['paybill', 'validate'], ['paybill', 'resolve'], "
                       "['paybill', 'graph'], ['paybill', 'emit'], ['yaml'], ['networkx'], ['pydantic']))",
                       "['paybill', 'compile', sys.argv[1], '--out', sys.argv[2]]")
    runs = [subprocess.run([sys.executable, "-c", probe, str(specs), str(out)], cwd=tmp_path, capture_output=True,
                           text=True, check=False, env={**os.environ}) for _ in range(2)]
    for run in runs:
        assert run.returncode == 0, run.stderr
        assert run.stdout.startswith("compiled ")
    assert "LOADED [" in runs[1].stderr and "LOADED []" in runs[1].stderr, runs[1].stderr
    # a plan edit (a display name, a label, a comment or a blank line is patched in without the stages:
    # paybill.delta)
    (specs / "tenants" / "bluth.yaml").write_text((specs / "tenants" / "bluth.yaml").read_text().replace(
        "plan: starter", "plan: growth", 1))
    edited = subprocess.run([sys.executable, "-c", probe, str(specs), str(out)], cwd=tmp_path, capture_output=True,
                            text=True, check=False)
    assert edited.returncode == 0 and "paybill.compile" in edited.stderr  # a change runs the stages


@pytest.mark.parametrize("change", ["edited", "same-size", "added", "removed", "renamed"])
def test_a_spec_change_runs_the_compile(repo, tmp_path, monkeypatch, change: str) -> None:
    specs, out, cache = repo
    _settle(cache, out)
    tenant = specs / "tenants" / "bluth.yaml"
    text = tenant.read_text()
    # (not the display name: an identity edit is patched in without a compile, paybill.delta)
    if change == "edited":
        tenant.write_text(text.replace("plan: starter", "plan: growth", 1))
    elif change == "same-size":  # in place, same size, the old mtime put back: only ctime and bytes tell
        info = tenant.stat()
        with open(tenant, "r+b") as handle:
            handle.write(text.replace("plan: starter", "plan: startex", 1).encode())  # (a label: patched in)
        os.utime(tenant, ns=(info.st_atime_ns, info.st_mtime_ns))
        assert (tenant.stat().st_size, tenant.stat().st_mtime_ns, tenant.stat().st_ino) == \
            (info.st_size, info.st_mtime_ns, info.st_ino)
    elif change == "added":
        (specs / "tenants" / "extra.yaml").write_text(text.replace("name: bluth", "name: bluth-two", 1))
    elif change == "removed":
        tenant.unlink()
    else:
        tenant.rename(specs / "tenants" / "bluth-renamed.yaml")
    calls = _compiles(monkeypatch)
    code, _ = _compile(tmp_path, specs, out)
    assert calls == [1]
    assert code in (0, 1)  # whatever the edit means, it was compiled


@pytest.mark.parametrize("how", ["touched", "rewritten", "replaced"])
def test_a_spec_saved_without_a_change_takes_the_short_cut(repo, tmp_path, monkeypatch, how: str) -> None:
    """An editor's save, ``touch`` or a checkout that rewrites the same bytes is no edit: no compile, no write."""
    specs, out, cache = repo
    code, printed = _compile(tmp_path, specs, out)
    assert code == 0
    _settle(cache, out)
    tenant = specs / "tenants" / "bluth.yaml"
    data = tenant.read_bytes()
    if how == "touched":
        later = tenant.stat().st_mtime_ns + 5_000_000_000
        os.utime(tenant, ns=(later, later))
    elif how == "rewritten":
        tenant.write_bytes(data)
    else:  # a new file renamed over the old one (a new inode), as editors and git do
        (tmp_path / "bluth.new").write_bytes(data)
        os.replace(tmp_path / "bluth.new", tenant)
    first = read_tree(out)
    _no_stages(monkeypatch)
    watched = [out, out / "manifest.json", cache / journal_name(out), cache / shortcut.record_name(out)]
    before = [(info.st_ino, info.st_mtime_ns) for info in map(os.stat, watched)]
    for _ in range(2):
        assert _compile(tmp_path, specs, out) == (0, printed)
    assert read_tree(out) == first
    # nothing written: not the tree, not its journal, not the record (the delta compile would write them)
    assert [(info.st_ino, info.st_mtime_ns) for info in map(os.stat, watched)] == before


def test_a_spec_turned_fifo_is_never_read_by_the_check(tmp_path) -> None:
    """A spec file replaced by a FIFO of the recorded size: the check's hash must not wait for a writer."""
    fifo = tmp_path / "empty.yaml"
    os.mkfifo(fifo)
    empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"  # SHA-256 of no bytes
    probe = ("import sys\nfrom paybill.write import shortcut\n"
             "print(shortcut._hashes_to(sys.argv[1], sys.argv[2]))")
    run = subprocess.run([sys.executable, "-c", probe, str(fifo), empty], capture_output=True, text=True,
                         timeout=60, check=False)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "False"
    regular = tmp_path / "regular.yaml"
    regular.write_bytes(b"")
    assert shortcut._hashes_to(str(regular), empty)


def test_files_the_loader_ignores_do_not_matter(repo, tmp_path, monkeypatch) -> None:
    specs, out, _cache = repo
    _compile(tmp_path, specs, out)
    (specs / "notes.txt").write_text("not a spec")
    (specs / ".hidden").mkdir()
    (specs / ".hidden" / "x.yaml").write_text("kind: Nonsense\n")
    (specs / ".swap.yaml").write_text("kind: Nonsense\n")
    _no_stages(monkeypatch)
    assert _compile(tmp_path, specs, out)[0] == 0


def test_a_symlinked_spec_is_never_proven_by_stat(repo, tmp_path, monkeypatch) -> None:
    specs, out, _cache = repo
    (specs / "tenants" / "bluth.yaml").rename(tmp_path / "bluth.yaml")
    (specs / "tenants" / "bluth.yaml").symlink_to(tmp_path / "bluth.yaml")
    assert shortcut.scan_specs(specs) is None
    calls = _compiles(monkeypatch)
    _compile(tmp_path, specs, out)  # PB0112 (outside the root) whatever the earlier compile saw
    _compile(tmp_path, specs, out)
    assert calls == [1, 1]


@pytest.mark.parametrize("change", ["edited", "same-size-racy", "removed", "added", "empty-folder", "journal"])
def test_a_change_in_the_output_folder_runs_the_compile_and_writes_it_back(repo, tmp_path, monkeypatch,
                                                                           change: str) -> None:
    specs, out, cache = repo
    expected = read_tree(out)
    target = out / "tenants" / "bluth.json"
    if change != "same-size-racy":
        _settle(cache, out)
    if change == "edited":
        target.write_bytes(target.read_bytes().replace(b"bluth", b"BLUTH", 1))
    elif change == "same-size-racy":  # rewritten in place, same size, same mtime: only its bytes tell
        info = target.stat()
        data = target.read_bytes()
        with open(target, "r+b") as handle:
            handle.write(data[:-2] + b" \n")
        os.utime(target, ns=(info.st_atime_ns, info.st_mtime_ns))
        assert (target.stat().st_size, target.stat().st_mtime_ns, target.stat().st_ino) == \
            (info.st_size, info.st_mtime_ns, info.st_ino)
    elif change == "removed":
        target.unlink()
    elif change == "added":
        (out / "tenants" / "stray.json").write_text("{}")
    elif change == "empty-folder":
        (out / "tenants" / "stray").mkdir()
    else:
        os.utime(cache / journal_name(out), ns=(1, 1))
    calls = _compiles(monkeypatch)
    code, _ = _compile(tmp_path, specs, out)
    assert code == 0 and calls == [1]
    assert read_tree(out) == expected and not (out / "tenants" / "stray").exists()


def test_an_old_entry_is_proven_by_stat_and_a_racy_one_by_content(repo, tmp_path) -> None:
    """The racy-git rule on its own: a record whose stats match the files in every field. Settled,
    the stat is the proof; racy (changed since the recording compile started), only the bytes are."""
    specs, out, cache = repo
    _compile(tmp_path, specs, out)
    record = shortcut.read_record(cache, out)
    assert isinstance(record, dict)
    params = record["params"]
    display = next(path for path in record["specs"] if path.endswith("tenants/bluth.yaml"))
    tenant = specs / "tenants" / "bluth.yaml"
    tenant.write_text(tenant.read_text().replace("displayName: ", "displayName: Edited ", 1))
    scan = shortcut.scan_specs(specs)
    assert scan is not None
    # the stat of now (every field, ctime too) with the digest of the bytes compiled before the edit
    forged = {**record["specs"], display: (*scan.files[display], record["specs"][display][4])}
    now = shortcut.read_record(cache, out)
    assert now is not None
    for trusted, taken in ((scan.files[display][1] - 1, False), (scan.files[display][1] + 1, True)):
        store.write(cache, shortcut.record_name(out), {**now, "specs": forged, "trusted_before": trusted})
        found = shortcut.check(cache, out, params, scan, trusted + shortcut.RACY_NS)
        assert (found.printed is not None) is taken


def test_the_first_check_settles_the_record(repo, tmp_path) -> None:
    """Every file the compile wrote is racy for its own record: the next run verifies them by content once
    and saves the record again, so the runs after it are proven by stat alone."""
    specs, out, cache = repo
    before = shortcut.read_record(cache, out)
    assert isinstance(before, dict)
    assert any(entry[1] >= before["trusted_before"] for entry in before["files"].values())
    _compile(tmp_path, specs, out)
    after = shortcut.read_record(cache, out)
    assert isinstance(after, dict) and after["trusted_before"] > before["trusted_before"]
    assert {k: v for k, v in after.items() if k != "trusted_before"} == \
        {k: v for k, v in before.items() if k != "trusted_before"}


@pytest.mark.parametrize("flag", [("--format", "json"), ("--format", "github"), ("--strict-quotas",),
                                  ("--durable",), ("--no-cache",)])
def test_another_option_runs_the_compile(repo, tmp_path, monkeypatch, flag: tuple[str, ...]) -> None:
    specs, out, _cache = repo
    _compile(tmp_path, specs, out)
    calls = _compiles(monkeypatch)
    code, printed = _compile(tmp_path, specs, out, *flag)
    assert code == 0 and calls == [1]
    if flag[0] == "--format":  # then that format's own record serves
        _no_stages(monkeypatch)
        assert _compile(tmp_path, specs, out, *flag) == (0, printed)


def test_check_never_takes_the_short_cut(repo, tmp_path, monkeypatch) -> None:
    specs, out, _cache = repo
    _compile(tmp_path, specs, out)
    calls = _compiles(monkeypatch)
    code, printed = _compile(tmp_path, specs, out, "--check")
    assert code == 0 and calls == [1] and "is up to date" in printed


def test_another_signing_key_runs_the_compile(repo, tmp_path, monkeypatch) -> None:
    specs, out, _cache = repo
    _compile(tmp_path, specs, out)
    key = tmp_path / "key.pem"
    key.write_text("not a key")
    monkeypatch.setenv(shortcut.SIGNING_KEY_ENV, str(key))
    calls = _compiles(monkeypatch)
    assert _compile(tmp_path, specs, out)[0] == 1  # PB0707: the key cannot be read
    assert calls == [1]


@pytest.mark.parametrize("damage", ["flipped", "truncated", "foreign", "other-out"])
def test_a_damaged_or_foreign_record_is_ignored(repo, tmp_path, monkeypatch, damage: str) -> None:
    specs, out, cache = repo
    _compile(tmp_path, specs, out)
    path = cache / shortcut.record_name(out)
    blob = path.read_bytes()
    if damage == "flipped":
        path.write_bytes(blob[:-10] + bytes([blob[-10] ^ 1]) + blob[-9:])
    elif damage == "truncated":
        path.write_bytes(blob[: len(blob) // 2])
    elif damage == "foreign":
        path.write_bytes(blob.replace(b"paybill-cache 1 ", b"paybill-cache 9 ", 1))
    else:  # a valid record of another output folder copied over this one's
        other = tmp_path / "elsewhere"
        assert _compile(tmp_path, specs, other)[0] == 0
        path.write_bytes((cache / shortcut.record_name(other)).read_bytes())
    calls = _compiles(monkeypatch)
    assert _compile(tmp_path, specs, out)[0] == 0
    assert calls == [1]


def test_a_failed_compile_leaves_no_record(repo, tmp_path, monkeypatch) -> None:
    specs, out, cache = repo
    tenant = specs / "tenants" / "bluth.yaml"
    tenant.write_text(tenant.read_text().replace("plan: ", "plan: no-such-", 1))
    assert _compile(tmp_path, specs, out)[0] == 1
    assert not (cache / shortcut.record_name(out)).exists()


def test_warnings_are_printed_again(spec_copy, tmp_path, monkeypatch) -> None:
    specs = spec_copy({"agents/billing-agent.yaml": lambda t: t.replace(
        "all: true", "selector: {matchLabels: {segment: nobody}}")})
    out, cache = tmp_path / "generated", tmp_path / "cache"
    monkeypatch.setenv(store.CACHE_ENV, str(cache))
    first = _compile(tmp_path, specs, out)
    assert first[0] == 0 and "warning[PB0704]" in first[1]
    _no_stages(monkeypatch)
    assert _compile(tmp_path, specs, out) == first


def test_the_copied_constants_match_their_sources() -> None:
    from paybill.guard.signing import SIGNING_KEY_ENV
    from paybill.load.discover import SPEC_SUFFIXES

    assert shortcut.SIGNING_KEY_ENV == SIGNING_KEY_ENV and shortcut.SPEC_SUFFIXES == SPEC_SUFFIXES


def _walked(root: Path) -> dict[str, tuple[int, int, int, int]]:
    """What the scan must find, by ``os.walk`` and ``lstat`` of whole paths (the scan lists by descriptor)."""
    found = {}
    for folder, folders, names in os.walk(root):
        folders[:] = [name for name in folders if not name.startswith(".")]
        for name in names:
            if not name.startswith(".") and name.endswith((".yaml", ".yml")):
                info = os.lstat(os.path.join(folder, name))
                found["specs/" + Path(folder, name).relative_to(root).as_posix()] = (
                    info.st_size, info.st_mtime_ns, info.st_ino, info.st_ctime_ns)
    return found


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts open descriptors in /proc")
def test_the_spec_scan_finds_what_a_walk_finds_and_leaves_no_descriptor_open(tmp_path: Path) -> None:
    root = tmp_path / "specs"
    for rel in ("a.yaml", "b.yml", "c.txt", ".hidden.yaml", ".git/x.yaml", "sub/d.yaml", "sub/deeper/e.yaml",
                "sub/.h/f.yaml", "other/g.yaml"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(f"# {rel}\n")
    (root / "empty").mkdir()
    open_before = len(os.listdir("/proc/self/fd"))
    scan = shortcut.scan_specs(root)
    assert scan is not None and scan.files == _walked(root) and len(scan.files) == 5
    os.symlink(root / "a.yaml", root / "sub" / "deeper" / "link.yaml")  # an early None
    assert shortcut.scan_specs(root) is None
    assert len(os.listdir("/proc/self/fd")) == open_before
