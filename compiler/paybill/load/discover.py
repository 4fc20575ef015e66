"""Find spec files under a root without ever leaving it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

SPEC_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True, slots=True)
class SpecFile:
    """A spec file found on disk: ``display`` is what diagnostics print (relative, ``/``-separated).

    ``problem`` is set when the file must not be read at all (its name is not valid UTF-8, so it
    could not be named in output without corrupting it); the loader reports it instead.
    """

    path: Path
    display: str
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class EscapingLink:
    """A symlink under the root that points outside it; reported, never read."""

    display: str
    target: str


def display_path(path: Path, root: Path) -> str:
    """Paths in diagnostics and output are relative to the root's parent, so they read ``specs/...``."""
    base = root.parent
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return path.as_posix()


def _resolves_inside(link: Path, real_root: Path) -> bool:
    """True when ``link`` resolves to a path inside ``real_root``.

    A symlink loop cannot be resolved (``RuntimeError`` on Python 3.11, ``OSError`` later); it is
    treated as inside so that reading it reports "cannot read file" instead of crashing discovery.
    A dangling link inside the root is kept for the same reason: the read error names the problem.
    """
    try:
        return link.resolve().is_relative_to(real_root)
    except (OSError, RuntimeError):
        return True


def discover_spec_files(root: Path) -> tuple[list[SpecFile], list[EscapingLink]]:
    """Every ``*.yaml``/``*.yml`` below ``root``, sorted, so file order never changes results.

    Directory symlinks are not followed (``os.walk`` default); file symlinks are read only when they
    resolve inside ``root``. Hidden directories (``.git``) are skipped.
    """
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


def _is_utf8(text: str) -> bool:
    """File names that are not UTF-8 reach Python as lone surrogates (PEP 383)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _printable_name(text: str) -> str:
    """The name with its undecodable bytes shown as U+FFFD, safe to print and to store."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
