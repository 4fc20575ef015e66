"""Resolve ``--base`` and ``--head`` into readable sides of one repository."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from paybill.gitio.repo import GitRepo
from paybill.gitio.snapshot import SpecsLocation
from paybill.gitio.sources import Listing, Side, SourceFile, TreeSide, WorkTreeSide


class EmptySide:
    """The side before the first commit: nothing exists yet."""

    commit = None

    def __init__(self, label: str = "empty repository") -> None:
        self.label = label

    def list(self, prefix: str, suffixes: tuple[str, ...] = (".yaml", ".yml")) -> Listing:
        return Listing()

    def read(self, files: Iterable[SourceFile]) -> dict[str, bytes]:
        return {}


@dataclass
class Sides:
    repo: GitRepo
    where: SpecsLocation
    base: Side
    head: Side
    policies_prefix: str


def locate_specs(repo: GitRepo, specs: Path) -> SpecsLocation:
    """The specs root as a repository prefix plus the display base ``paybill validate`` would use."""
    absolute = Path(os.path.abspath(specs))
    prefix = repo.relative(absolute)
    display_base = absolute.name
    return SpecsLocation(prefix, display_base)


def policies_prefix(where: SpecsLocation, policies: Path | None, repo: GitRepo) -> str:
    """``policies/`` beside the specs root unless given."""
    if policies is not None:
        return repo.relative(Path(os.path.abspath(policies)))
    parent = where.prefix.rpartition("/")[0] if "/" in where.prefix else ""
    return f"{parent}/policies" if parent else "policies"


def tree_side(repo: GitRepo, ref: str) -> TreeSide:
    commit = repo.resolve(ref)
    label = ref if ref == commit else f"{ref} ({commit[:12]})"
    return TreeSide(repo, commit, label)


def resolve_sides(specs: Path, base: str | None, head: str | None, policies: Path | None = None) -> Sides:
    """Default base: merge base with ``origin/main`` or ``main``; default head: the work tree."""
    repo = GitRepo(Path(os.path.abspath(specs)).parent if not specs.exists() else specs)
    where = locate_specs(repo, specs)
    if base is not None:
        base_side: Side = tree_side(repo, base)
    else:
        commit = repo.default_base()
        base_side = TreeSide(repo, commit, f"merge base ({commit[:12]})") if commit else EmptySide()
    head_side: Side = tree_side(repo, head) if head is not None else WorkTreeSide(repo)
    return Sides(repo, where, base_side, head_side, policies_prefix(where, policies, repo))


__all__ = ["EmptySide", "Sides", "locate_specs", "policies_prefix", "resolve_sides", "tree_side"]
