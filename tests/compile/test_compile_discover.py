"""Spec discovery (paybill.load.discover) finds exactly what the ``os.walk`` version it replaced found.

The scandir walk skips an ``lstat`` and a ``Path`` per file (~0.25 s at 10,000 files); this keeps it
exact against that version on a tree with every case discovery handles.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from paybill.load.discover import (
    SPEC_SUFFIXES,
    EscapingLink,
    SpecFile,
    _is_utf8,
    _printable_name,
    _resolves_inside,
    discover_spec_files,
    display_path,
)


def _by_os_walk(root: Path) -> tuple[list[SpecFile], list[EscapingLink]]:
    """The earlier implementation, kept as the reference."""
    root = root.absolute()
    real_root = root.resolve()
    files: list[SpecFile] = []
    escaping: list[EscapingLink] = []
    if root.is_file():
        return [SpecFile(root, display_path(root, root))], []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        current = Path(dirpath)
        for name in dirnames:
            candidate = current / name
            if candidate.is_symlink() and not _resolves_inside(candidate, real_root):
                escaping.append(EscapingLink(display_path(candidate, root), os.readlink(candidate)))
        for name in sorted(filenames):
            if not name.endswith(SPEC_SUFFIXES) or name.startswith("."):
                continue
            candidate = current / name
            if candidate.is_symlink() and not _resolves_inside(candidate, real_root):
                escaping.append(EscapingLink(display_path(candidate, root), os.readlink(candidate)))
                continue
            display = display_path(candidate, root)
            if not _is_utf8(display):
                files.append(SpecFile(candidate, _printable_name(display), "its name is not valid UTF-8"))
                continue
            files.append(SpecFile(candidate, display))
    files.sort(key=lambda f: f.display)
    escaping.sort(key=lambda e: e.display)
    return files, escaping


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "specs"
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "far.yaml").write_text("kind: Plan\n")
    for rel in ("a.yaml", "b.yml", "notes.txt", ".hidden.yaml", "sub/c.yaml", "sub/deeper/d.yaml",
                ".git/e.yaml", "sub/.cache/f.yaml", "dir.yaml/g.yaml", "z/h.YAML"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("kind: Plan\n")
    (root / "inside-link.yaml").symlink_to(root / "a.yaml")
    (root / "outside-link.yaml").symlink_to(outside / "far.yaml")
    (root / "dangling.yaml").symlink_to(root / "nowhere.yaml")
    (root / "sub" / "dir-inside").symlink_to(root / "sub" / "deeper")
    (root / "dir-outside").symlink_to(outside)
    (root / "loop.yaml").symlink_to(root / "loop.yaml")
    os.mkfifo(root / "pipe.yaml")
    (root / os.fsdecode(b"bad\xff.yaml")).write_text("kind: Plan\n")
    return root


@pytest.mark.parametrize("how", ["relative", "absolute", "dotdot", "file"])
def test_discovery_matches_the_os_walk_version(tree: Path, how: str, monkeypatch) -> None:
    monkeypatch.chdir(tree.parent)
    root = {"relative": Path("specs"), "absolute": tree, "dotdot": Path("specs/sub/.."),
            "file": Path("specs/a.yaml")}[how]
    assert discover_spec_files(root) == _by_os_walk(root)
    if how == "relative":
        files, escaping = discover_spec_files(root)
        assert "specs/sub/deeper/d.yaml" in [f.display for f in files]
        assert [e.display for e in escaping] == ["specs/dir-outside", "specs/outside-link.yaml"]
