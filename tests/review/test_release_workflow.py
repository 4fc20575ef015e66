"""``.github/workflows/release.yml``: build, twine check and trusted publishing on a version tag.

GitHub cannot run here; the workflow is checked against the official workflow JSON Schema, its
scripts with ShellCheck (as the other workflows in ``test_workflows.py``), and its structure. The
build and ``twine check`` it runs are run for real by
``test_install_source.py::test_a_scaffolded_repository_installs_paybill_from_a_built_wheel_and_validates``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from importlib import resources
from pathlib import Path

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[2]
RELEASE = ROOT / ".github" / "workflows" / "release.yml"


def workflow() -> dict:
    return yaml.load(RELEASE.read_text(encoding="utf-8"), Loader=yaml.BaseLoader)  # "on" stays a string


def test_release_workflow_matches_the_github_workflow_schema() -> None:
    schema_file = resources.files("check_jsonschema") / "builtin_schemas" / "vendor" / "github-workflows.json"
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    document = yaml.safe_load(RELEASE.read_text(encoding="utf-8"))
    document["on"] = document.pop(True)
    errors = list(jsonschema.Draft7Validator(schema).iter_errors(document))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]


def test_release_scripts_pass_shellcheck(tmp_path: Path) -> None:
    shellcheck = shutil.which("shellcheck") or str(ROOT / ".venv/bin/shellcheck")
    for job in workflow()["jobs"].values():
        for step in job.get("steps", []):
            if "run" not in step:
                continue
            path = tmp_path / "step.sh"
            path.write_text("#!/usr/bin/env bash\nset -eo pipefail\n"
                            + re.sub(r"\$\{\{.*?\}\}", "GHA_EXPRESSION", step["run"]), encoding="utf-8")
            result = subprocess.run([shellcheck, "--severity=warning", "--shell=bash", str(path)],
                                    capture_output=True, text=True, check=False)
            assert result.returncode == 0, f"{step.get('name')}:\n{result.stdout}"


def test_release_builds_checks_and_publishes_with_trusted_publishing_on_a_version_tag() -> None:
    release = workflow()
    assert release["on"] == {"push": {"tags": ["v*"]}}
    assert release["permissions"] == {"contents": "read"}, "no write access outside the publish job"
    build, publish = release["jobs"]["build"], release["jobs"]["publish"]
    runs = "\n".join(step.get("run", "") for step in build["steps"])
    assert "python -m build" in runs and "twine check --strict dist/*" in runs
    assert 'tomllib.load(open("pyproject.toml", "rb"))["project"]["version"]' in runs
    assert publish["needs"] == "build"
    assert publish["permissions"] == {"id-token": "write"}
    uses = [step.get("uses", "") for step in publish["steps"]]
    assert "pypa/gh-action-pypi-publish@release/v1" in uses
    assert not any("with" in step and "password" in step["with"] for step in publish["steps"]), \
        "trusted publishing needs no token"


def test_the_version_check_accepts_the_tag_of_this_version_only(tmp_path: Path) -> None:
    """Run the tag check's script for real, as the build job would for two tags."""
    (step,) = [s for s in workflow()["jobs"]["build"]["steps"] if s.get("name", "").startswith("The tag names")]
    version = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    script = tmp_path / "step.sh"
    script.write_text(step["run"], encoding="utf-8")

    def check(tag: str) -> subprocess.CompletedProcess[str]:
        path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])  # python 3.11+
        return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], cwd=tmp_path,
                              env={"PATH": path, "TAG": tag}, capture_output=True, text=True, check=False)

    assert check(f"v{version}").returncode == 0
    wrong = check("v999.0.0")
    assert wrong.returncode == 1 and "does not match version" in wrong.stdout
