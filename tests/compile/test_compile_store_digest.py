"""The compiler's source digest (paybill.store.compiler_digest), remembered by the stat of every source file.

Every cache entry is stamped with a hash of the compiler's sources, so a cache filled by other code is
foreign. Hashing ~400 files costs every process ~20 ms, so the digest is remembered in the cache
folder with each file's (size, mtime_ns, inode, ctime_ns), as git's index does. Users depend on one
thing: an edited compiler never reads a cache filled by the old one. These tests edit a package the
ways an editor, a checkout or a hand could, and check the digest follows the bytes.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from paybill import store


@pytest.fixture
def package(tmp_path: Path) -> Path:
    root = tmp_path / "pkg"
    (root / "sub").mkdir(parents=True)
    (root / "__init__.py").write_text("VERSION = 1\n")
    (root / "sub" / "mod.py").write_text("def f():\n    return 1\n")
    (root / "sub" / "notes.txt").write_text("not a source file\n")
    return root


@pytest.fixture
def later(monkeypatch: pytest.MonkeyPatch) -> None:
    """The memo is taken 10 s from now, so the files just made are not racy (their stat proves them)."""
    now = store._now_ns()
    monkeypatch.setattr(store, "_now_ns", lambda: now + 10 * 10**9)


def _hashes(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    calls: list[Path] = []
    real = store._hash_sources

    def spy(package: Path, files: object) -> str:
        calls.append(package)
        return real(package, files)  # type: ignore[arg-type]

    monkeypatch.setattr(store, "_hash_sources", spy)
    return calls


def test_the_memo_gives_the_digest_of_the_bytes_without_reading_them(package: Path, tmp_path: Path, later: None,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    memo = tmp_path / "cache"
    memo.mkdir()
    first = store.digest_of_sources(package, memo)
    assert first == store.digest_of_sources(package, None)  # the same as hashing, no memo at all
    calls = _hashes(monkeypatch)
    assert store.digest_of_sources(package, memo) == first
    assert calls == []  # the memo served it


@pytest.mark.parametrize("edit", ["same-size-mtime-put-back", "added", "removed", "renamed"])
def test_an_edited_package_gets_another_digest(package: Path, tmp_path: Path, later: None, edit: str) -> None:
    memo = tmp_path / "cache"
    memo.mkdir()
    before = store.digest_of_sources(package, memo)
    source = package / "sub" / "mod.py"
    if edit == "same-size-mtime-put-back":
        info = source.stat()
        source.write_text("def f():\n    return 2\n")  # same size
        os.utime(source, ns=(info.st_atime_ns, info.st_mtime_ns))  # same mtime: only the ctime moved
        assert source.stat().st_size == info.st_size
    elif edit == "added":
        (package / "sub" / "new.py").write_text("X = 1\n")
    elif edit == "removed":
        source.unlink()
    else:
        source.rename(package / "sub" / "other.py")
    after = store.digest_of_sources(package, memo)
    assert after != before
    assert after == store.digest_of_sources(package, None)


def test_a_damaged_or_foreign_memo_is_not_used(package: Path, tmp_path: Path, later: None,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    memo = tmp_path / "cache"
    memo.mkdir()
    digest = store.digest_of_sources(package, memo)
    (entry,) = [path for path in memo.iterdir() if not path.name.startswith(".")]
    data = bytearray(entry.read_bytes())
    data[-3] ^= 0xFF
    entry.write_bytes(bytes(data))
    calls = _hashes(monkeypatch)
    assert store.digest_of_sources(package, memo) == digest
    assert calls == [package]  # hashed again, and the memo rewritten
    other = tmp_path / "copy"
    other.mkdir()
    for path in package.rglob("*.py"):
        target = other / path.relative_to(package)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    assert store.digest_of_sources(other, memo) == digest  # same bytes elsewhere: its own memo, same digest


def test_a_file_changed_within_a_clock_tick_of_the_memo_is_hashed_again(package: Path, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    memo = tmp_path / "cache"
    memo.mkdir()
    store.digest_of_sources(package, memo)  # the files were made just now: racy
    calls = _hashes(monkeypatch)
    store.digest_of_sources(package, memo)
    assert calls == [package]


def test_the_memo_creates_no_cache_folder(package: Path, tmp_path: Path, later: None) -> None:
    store.digest_of_sources(package, tmp_path / "absent")
    assert not (tmp_path / "absent").exists()
