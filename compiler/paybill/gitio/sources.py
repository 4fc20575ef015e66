"""The files of one side of a comparison: a commit's tree, the work tree, or a tree with edits.

Every file is named by its git blob hash, whichever side it comes from (the work tree hashes file
bytes the way ``git hash-object`` does), so a file that did not change between two sides is parsed
once and shared (see :mod:`paybill.gitio.blobcache`).
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from paybill.diagnostics import Diagnostic, Position
from paybill.gitio.repo import GitRepo, TreeEntry
from paybill.load.discover import discover_spec_files
from paybill.load.limits import DEFAULT_LIMITS, LoadLimits

SPEC_SUFFIXES = (".yaml", ".yml")
SYMLINK_MODE = "120000"
SUBMODULE_MODE = "160000"


def blob_hash(data: bytes) -> str:
    """The git blob hash of ``data`` (what ``git hash-object`` prints)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


@dataclass(slots=True)
class SourceFile:
    """One file of a side. ``data`` is filled when the side already holds the bytes (work tree)."""

    repo_path: str
    blob: str
    data: bytes | None = None


@dataclass
class Listing:
    """The files below a prefix, and problems found while listing (escaping symlinks, unreadable files)."""

    files: list[SourceFile] = field(default_factory=list)
    problems: list[Diagnostic] = field(default_factory=list)


class Side(Protocol):
    """A readable version of the repository (read-only members, so a side whose commit is always a
    ``str``, or always None, is one)."""

    @property
    def label(self) -> str: ...

    @property
    def commit(self) -> str | None: ...

    def list(self, prefix: str, suffixes: tuple[str, ...]) -> Listing: ...

    def read(self, files: Iterable[SourceFile]) -> dict[str, bytes]: ...


def under(path: str, prefix: str) -> bool:
    return not prefix or path == prefix or path.startswith(prefix.rstrip("/") + "/")


def _hidden(path: str, prefix: str) -> bool:
    """Hidden files and folders below the prefix are skipped, as the on-disk discovery does."""
    rel = path[len(prefix):].lstrip("/") if prefix else path
    return rel.startswith(".") or "/." in rel  # some part of the path starts with a dot


class TreeSide:
    """The tree of one commit, read through git objects only (no checkout)."""

    def __init__(self, repo: GitRepo, commit: str, label: str | None = None) -> None:
        self.repo = repo
        self.commit = commit
        self.label = label or commit[:12]
        self._entries: dict[str, list[TreeEntry]] = {}

    def entries(self, prefix: str) -> list[TreeEntry]:
        if prefix not in self._entries:
            self._entries[prefix] = self.repo.ls_tree(self.commit, prefix)
        return self._entries[prefix]

    def list(self, prefix: str, suffixes: tuple[str, ...] = SPEC_SUFFIXES) -> Listing:
        entries = self.entries(prefix)
        by_path = {e.path: e for e in entries}
        listing = Listing()
        links: list[TreeEntry] = []
        for entry in entries:
            if not entry.path.endswith(suffixes) or _hidden(entry.path, prefix):
                continue
            if entry.mode == SYMLINK_MODE:
                links.append(entry)
                continue
            if entry.mode == SUBMODULE_MODE:
                continue
            listing.files.append(SourceFile(entry.path, entry.blob))
        if links:
            targets = self.repo.read_blobs(e.blob for e in links)
            for entry in links:
                target = targets[entry.blob].decode("utf-8", errors="replace")
                resolved = posixpath.normpath(posixpath.join(posixpath.dirname(entry.path), target))
                real = by_path.get(resolved)
                if real is not None and under(resolved, prefix) and real.mode != SYMLINK_MODE:
                    listing.files.append(SourceFile(entry.path, real.blob))
                else:
                    listing.problems.append(Diagnostic(
                        "PB0112", f"symlink points outside the specs root (to '{target}') and is not read",
                        entry.path, Position(), "copy the file into the specs root instead of linking to it"))
        listing.files.sort(key=lambda f: f.repo_path)
        return listing

    def read(self, files: Iterable[SourceFile]) -> dict[str, bytes]:
        return self.repo.read_blobs(f.blob for f in files if f.data is None)


class WorkTreeSide:
    """The files on disk as they are now, tracked or not (what the user is about to commit)."""

    commit = None

    def __init__(self, repo: GitRepo, label: str = "work tree", limits: LoadLimits = DEFAULT_LIMITS) -> None:
        self.repo = repo
        self.label = label
        self.limits = limits

    def list(self, prefix: str, suffixes: tuple[str, ...] = SPEC_SUFFIXES) -> Listing:
        root = self.repo.root / prefix if prefix else self.repo.root
        listing = Listing()
        if not root.exists():
            return listing
        if suffixes == SPEC_SUFFIXES:
            found, escaping = discover_spec_files(root)
            paths = [f.path for f in found if f.problem is None]
            for bad in (f for f in found if f.problem is not None):
                listing.problems.append(Diagnostic(
                    "PB0114", f"cannot read file: {bad.problem}", self._repo_path(Path(bad.display), root),
                    Position(), "rename the file: spec file names must be UTF-8"))
            for link in escaping:
                listing.problems.append(Diagnostic(
                    "PB0112", f"symlink points outside the specs root (to '{link.target}') and is not read",
                    self._repo_path(Path(link.display), root), Position(),
                    "copy the file into the specs root instead of linking to it"))
        else:
            paths = sorted(p for p in root.rglob("*") if p.name.endswith(suffixes) and not p.is_symlink()
                           and not _hidden(p.relative_to(root).as_posix(), ""))
        for path in paths:
            repo_path = path.absolute().relative_to(self.repo.root).as_posix()
            data = self._read(path, repo_path, listing)
            if data is not None:
                listing.files.append(SourceFile(repo_path, blob_hash(data), data))
        listing.files.sort(key=lambda f: f.repo_path)
        return listing

    def _repo_path(self, display: Path, root: Path) -> str:
        """Map a discovery display path (relative to the root's parent) back to a repository path."""
        return (root.parent / display).absolute().relative_to(self.repo.root).as_posix()

    def _read(self, path: Path, repo_path: str, listing: Listing) -> bytes | None:
        """Regular files only, never more than one byte past the size limit (same rules as ``load``)."""
        try:
            descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
            with os.fdopen(descriptor, "rb") as handle:
                info = os.fstat(handle.fileno())
                if not stat.S_ISREG(info.st_mode):
                    listing.problems.append(Diagnostic("PB0114", "cannot read file: not a regular file",
                                                       repo_path, Position()))
                    return None
                return handle.read(self.limits.max_file_bytes + 1)
        except OSError as exc:
            listing.problems.append(Diagnostic("PB0114", f"cannot read file: {exc.strerror or exc}",
                                               repo_path, Position()))
            return None

    def read(self, files: Iterable[SourceFile]) -> dict[str, bytes]:
        return {f.blob: f.data for f in files if f.data is not None}


class OverlaySide:
    """A commit's tree with some files replaced or added: what a proposal would commit."""

    def __init__(self, base: TreeSide, replacements: dict[str, bytes], label: str = "proposal") -> None:
        self.base = base
        self.commit = None
        self.label = label
        self.replacements = dict(replacements)

    def list(self, prefix: str, suffixes: tuple[str, ...] = SPEC_SUFFIXES) -> Listing:
        listing = self.base.list(prefix, suffixes)
        files = {f.repo_path: f for f in listing.files}
        for path, data in self.replacements.items():
            if under(path, prefix) and path.endswith(suffixes):
                files[path] = SourceFile(path, blob_hash(data), data)
        return Listing(sorted(files.values(), key=lambda f: f.repo_path), listing.problems)

    def read(self, files: Iterable[SourceFile]) -> dict[str, bytes]:
        files = list(files)
        out = {f.blob: f.data for f in files if f.data is not None}
        out.update(self.base.read(f for f in files if f.data is None))
        return out
