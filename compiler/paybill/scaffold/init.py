"""Write a new spec repository from the packaged templates."""

from __future__ import annotations

import subprocess
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from paybill import __version__
from paybill.models.json_schema import render_schemas
from paybill.scaffold.readme import REPOSITORY_README, policies_readme, pre_commit_config

WORKFLOWS = {"paybill-pr.yaml": ".github/workflows/paybill-pr.yml",
             "paybill-apply.yaml": ".github/workflows/paybill-apply.yml",
             "paybill-drift.yaml": ".github/workflows/paybill-drift.yml"}
"""Workflow templates are stored as ``.yaml`` (package data) and written under their GitHub names."""


CODE_TARGET = "PB0980"
"""``paybill init`` cannot scaffold into the target folder (not empty, or not writable)."""


class ScaffoldError(Exception):
    """The target cannot be scaffolded (not empty, not writable); carries its code and a hint."""

    code = CODE_TARGET

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def _walk(node: Traversable, prefix: str = "") -> list[tuple[str, Traversable]]:
    found = []
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        rel = f"{prefix}{child.name}"
        if child.is_dir():
            found += _walk(child, rel + "/")
        elif not child.name.startswith((".", "__")):
            found.append((rel, child))
    return found


def template_files() -> dict[str, bytes]:
    """Target path -> bytes for everything ``paybill init`` writes (deterministic)."""
    root = resources.files("paybill.scaffold") / "templates"
    files: dict[str, bytes] = {}
    for rel, node in _walk(root):
        if rel.startswith("github/"):
            files[WORKFLOWS[rel.removeprefix("github/")]] = node.read_bytes()
        else:
            files[rel] = node.read_bytes()
    files["policies/README.md"] = policies_readme().encode()
    files[".pre-commit-config.yaml"] = b""  # filled by scaffold() (depends on --hooks-repo)
    files["README.md"] = REPOSITORY_README.encode()
    files[".gitignore"] = b"/.venv-checkov/\n/plan.md\n"
    for name, text in render_schemas().items():
        files[f"schemas/{name}"] = text.encode()
    return dict(sorted(files.items()))


def scaffold(target: Path, *, hooks_repo: str | None = None, git: bool = True) -> list[str]:
    """Write the repository into ``target`` (absent or empty); returns the files written."""
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ScaffoldError(f"'{target}' already exists and is not an empty folder",
                            "paybill init never overwrites files; pick a new folder")
    files = template_files()
    files[".pre-commit-config.yaml"] = pre_commit_config(hooks_repo, __version__).encode()
    try:
        for rel, data in files.items():
            path = target / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    except OSError as exc:
        raise ScaffoldError(f"cannot write into '{target}': {exc.strerror or exc}",
                            "check the folder's permissions") from None
    if git:
        inside = subprocess.run(["git", "rev-parse", "--is-inside-work-tree"], cwd=target, capture_output=True,
                                check=False).returncode == 0
        if not inside:
            subprocess.run(["git", "init", "--quiet", "--initial-branch=main"], cwd=target, check=False,
                           capture_output=True)
    return sorted(files)
