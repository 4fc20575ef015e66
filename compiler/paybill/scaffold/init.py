"""Write a new spec repository from the packaged templates."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from paybill import __version__
from paybill.models.json_schema import render_schemas
from paybill.scaffold.readme import policies_readme, pre_commit_config, repository_readme
from paybill.scaffold.source import InstallSource, render_workflow, running_source
from paybill.scaffold.targets import CLOUDS, DEFAULT_CLOUD, RETARGETED, retarget, retarget_path

WORKFLOWS = {"paybill-pr.yaml": ".github/workflows/paybill-pr.yml",
             "paybill-apply.yaml": ".github/workflows/paybill-apply.yml",
             "paybill-apply-shard.yaml": ".github/workflows/paybill-apply-shard.yml",
             "paybill-drift.yaml": ".github/workflows/paybill-drift.yml"}
"""Workflow templates are stored as ``.yaml`` (package data) and written under their GitHub names."""


CODE_TARGET = "PB0980"
"""``paybill init`` cannot scaffold into the target folder (not empty, or not writable)."""
CODE_INSIDE_REPO = "PB0981"
"""``paybill init`` target is inside an existing git work tree (without ``--in-existing-repo``)."""


class ScaffoldError(Exception):
    """The target cannot be scaffolded (not empty, not writable); carries its code and a hint."""

    code: str = CODE_TARGET

    def __init__(self, message: str, hint: str, code: str = CODE_TARGET) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.code = code


def enclosing_work_tree(target: Path) -> Path | None:
    """The top of the git work tree ``target`` (which may not exist yet) would be inside, if any."""
    probe = target.absolute()
    while not probe.is_dir():
        if probe.parent == probe:
            return None
        probe = probe.parent
    try:
        found = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=probe, capture_output=True, text=True,
                               check=False)
    except OSError:  # no git executable: nothing can be inside a repository we could commit to
        return None
    top = found.stdout.strip()
    return Path(top) if found.returncode == 0 and top else None


@dataclass(frozen=True, slots=True)
class Scaffolded:
    """What ``paybill init`` did: the files written and the repository they belong to."""

    files: list[str]
    git_initialised: bool
    outer_repository: Path | None
    """The existing work tree the new files were written into (``--in-existing-repo``), else None."""
    install: InstallSource
    """The default install source written into the workflows (its requirement may be None)."""


def _walk(node: Traversable, prefix: str = "") -> list[tuple[str, Traversable]]:
    found = []
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        rel = f"{prefix}{child.name}"
        if child.is_dir():
            found += _walk(child, rel + "/")
        elif not child.name.startswith((".", "__")):
            found.append((rel, child))
    return found


def template_files(cloud: str = DEFAULT_CLOUD) -> dict[str, bytes]:
    """Target path -> bytes for everything ``paybill init --cloud CLOUD`` writes (deterministic)."""
    target = CLOUDS[cloud]
    package = resources.files("paybill.scaffold")
    files: dict[str, bytes] = {}
    for rel, node in _walk(package / "templates"):
        if rel.startswith("github/"):
            files[WORKFLOWS[rel.removeprefix("github/")]] = node.read_bytes()
        elif rel.startswith(RETARGETED):
            files[retarget_path(rel, target)] = retarget(node.read_text(encoding="utf-8"), target).encode("utf-8")
        else:
            files[rel] = node.read_bytes()
    files[f"specs/clouds/{target.cloud}.yaml"] = (package / "clouds" / f"{target.cloud}.yaml").read_bytes()
    files["policies/README.md"] = policies_readme().encode()
    files[".pre-commit-config.yaml"] = b""  # filled by scaffold() (depends on --hooks-repo)
    files["README.md"] = repository_readme(target).encode()
    # .paybill/ holds local state: the compile cache and `paybill billing`'s event store (customers'
    # names and e-mail addresses among it), which `git add -A` must not sweep into the history; nor the
    # job plan and results of a `paybill apply` run by hand (the workflows write them as artifacts).
    files[".gitignore"] = b"/.venv-checkov/\n/plan.md\n/.paybill/\n/apply-plan.json\n/apply-results/\n"
    for name, text in render_schemas().items():
        files[f"schemas/{name}"] = text.encode()
    return dict(sorted(files.items()))


def scaffold(target: Path, *, hooks_repo: str | None = None, git: bool = True,
             in_existing_repo: bool = False, pip_requirement: str | None = None,
             cloud: str = DEFAULT_CLOUD) -> Scaffolded:
    """Write the repository into ``target`` (absent or empty).

    Inside an existing git work tree ``git init`` would be skipped and every later ``git commit``
    would land in the outer repository (whose root ``.github/`` is the only one GitHub reads), so that
    is refused unless ``in_existing_repo`` says it is meant.

    The workflows install paybill from ``pip_requirement`` unless the repository variable
    ``PAYBILL_PIP_REQUIREMENT`` is set; without it, from where the running paybill came from
    (:func:`paybill.scaffold.source.running_source`).

    The example cloud, pool and tenants are on ``cloud`` (:mod:`paybill.scaffold.targets`).
    """
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ScaffoldError(f"'{target}' already exists and is not an empty folder",
                            "paybill init never overwrites files; pick a new folder")
    outer = enclosing_work_tree(target)
    if outer is not None and not in_existing_repo:
        raise ScaffoldError(
            f"'{target}' is inside the existing git repository at '{outer}'; paybill init would not run git init "
            "and your commits would go to that repository",
            "pick a folder outside it for a new spec repository, or pass --in-existing-repo to add the specs to "
            "that repository on purpose", CODE_INSIDE_REPO)
    source = InstallSource(pip_requirement, "given with --pip-requirement") if pip_requirement else running_source()
    files = template_files(cloud)
    files[".pre-commit-config.yaml"] = pre_commit_config(hooks_repo, __version__).encode()
    for workflow in WORKFLOWS.values():
        files[workflow] = render_workflow(files[workflow].decode("utf-8"), source.requirement).encode("utf-8")
    try:
        for rel, data in files.items():
            path = target / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    except OSError as exc:
        raise ScaffoldError(f"cannot write into '{target}': {exc.strerror or exc}",
                            "check the folder's permissions") from None
    initialised = False
    if git and outer is None:
        done = subprocess.run(["git", "init", "--quiet", "--initial-branch=main"], cwd=target, check=False,
                              capture_output=True)
        initialised = done.returncode == 0
    return Scaffolded(sorted(files), initialised, outer, source)
