"""The workflows ``paybill init`` writes install paybill from an explicit, configurable pip requirement.

The install step's shell script is taken from the scaffolded workflow and run for real with bash, in a
fresh virtual environment, the way GitHub Actions runs it (``bash --noprofile --norc -eo pipefail``).
What cannot run here is GitHub itself: the repository variable is given as the environment variable
the workflow's ``env:`` expression would produce. Dependencies of paybill come from this test
environment's site-packages (a ``.pth`` line) and pip runs with ``PIP_NO_INDEX=1``, so only the
requirement under test can be installed and nothing is downloaded.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from importlib import metadata
from pathlib import Path

import pytest
import yaml

from paybill.scaffold.init import WORKFLOWS
from paybill.scaffold.source import DEFAULT_MARKER, running_source, source_of

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = re.compile(r"\$\{\{ vars\.PAYBILL_PIP_REQUIREMENT \|\| '((?:[^']|'')*)' \}\}")


def dist(tmp_path: Path, direct_url: dict | None) -> metadata.Distribution:
    info = tmp_path / "paybill-0.3.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: paybill\nVersion: 0.3.0\n", encoding="utf-8")
    if direct_url is not None:
        (info / "direct_url.json").write_text(json.dumps(direct_url), encoding="utf-8")
    return metadata.PathDistribution(info)


@pytest.mark.parametrize(("direct_url", "requirement"), [
    (None, "paybill==0.3.0"),
    ({"url": "https://github.com/acme/paybill.git",
      "vcs_info": {"vcs": "git", "requested_revision": "v0.3.0", "commit_id": "a" * 40}},
     "paybill @ git+https://github.com/acme/paybill.git@v0.3.0"),
    ({"url": "https://github.com/acme/paybill.git", "vcs_info": {"vcs": "git", "requested_revision": "main",
                                                               "commit_id": "b" * 40}},
     f"paybill @ git+https://github.com/acme/paybill.git@{'b' * 40}"),
    ({"url": "https://files.example.com/paybill-0.3.0-py3-none-any.whl", "archive_info": {}},
     "paybill @ https://files.example.com/paybill-0.3.0-py3-none-any.whl"),
    ({"url": "file:///home/alice/paybill", "dir_info": {"editable": True}}, None),
    ({"url": "file:///tmp/paybill-0.3.0-py3-none-any.whl", "archive_info": {}}, None),
])
def test_the_default_requirement_is_the_version_and_source_of_the_running_paybill(tmp_path, direct_url,
                                                                                    requirement) -> None:
    assert source_of(dist(tmp_path, direct_url)).requirement == requirement


def test_the_repository_workflows_leave_the_default_to_init_and_install_the_same_way() -> None:
    steps = []
    for path in sorted(WORKFLOWS.values()):
        text = (ROOT / path).read_text(encoding="utf-8")
        assert DEFAULT_MARKER in text and "paybill==0.1.0\"" not in text
        steps.append(install_script(yaml.safe_load(text)))
    assert steps[0] == steps[1], "both workflows install paybill with the same script"


def scaffolded(tmp_path: Path, run, *extra: str) -> Path:
    target = tmp_path / "platform"
    code, out, err = run(tmp_path, "init", str(target), "--no-git", *extra)
    assert code == 0, out + err
    return target


def test_init_writes_the_requirement_it_is_given_into_both_workflows(tmp_path, run) -> None:
    requirement = "paybill @ git+https://github.com/acme/paybill@v0.1.0"
    target = scaffolded(tmp_path, run, "--pip-requirement", requirement)
    for path in WORKFLOWS.values():
        assert default_requirement(target / path) == requirement


def test_init_refuses_a_requirement_that_would_break_the_workflow(tmp_path, run) -> None:
    code, _, err = run(tmp_path, "init", "p", "--no-git", "--pip-requirement", "paybill ${{ secrets.X }}")
    assert code == 2 and "--pip-requirement cannot be used" in err
    assert not (tmp_path / "p").exists()


@pytest.mark.parametrize(("requirement", "says"), [
    ("rm -rf /", "'rm -rf /' is not a pip requirement ("),
    ("-e .", "'-e .' is not a pip requirement ("),
    ("paybill==", "'paybill==' is not a pip requirement ("),
    ("git+https://github.com/acme/paybill@v0.1.0", "is a URL, not a pip requirement: name the project, "
                                                   "'paybill @ git+https://github.com/acme/paybill@v0.1.0'"),
    ("flask==3.0", "'flask==3.0' installs 'flask', not paybill"),
    ("   ", "it is empty; give a pip requirement for paybill"),
])
def test_init_refuses_what_is_not_a_pip_requirement_for_paybill(tmp_path, run, requirement, says) -> None:
    """It was written into the workflows unchecked: the typo surfaced as a failed install in CI's first run."""
    code, out, err = run(tmp_path, "init", "p", "--no-git", "--pip-requirement", requirement)
    assert code == 2, out + err
    assert "Error: --pip-requirement cannot be used: " in err and says in err, err
    assert "Traceback" not in err
    assert not (tmp_path / "p").exists()


@pytest.mark.parametrize("requirement", ["paybill", "paybill==0.1.0", "Paybill[extra]>=0.1,<1",
                                         "paybill==0.1.0; python_version >= '3.11'",
                                         "paybill @ https://example.com/paybill-0.1.0-py3-none-any.whl"])
def test_init_accepts_every_pip_requirement_for_paybill(tmp_path, run, requirement) -> None:
    target = scaffolded(tmp_path, run, "--pip-requirement", requirement)
    assert default_requirement(target / WORKFLOWS["paybill-pr.yaml"]) == requirement


def install_script(workflow: dict) -> str:
    for job in workflow["jobs"].values():
        for step in job.get("steps", []):
            if step.get("name") == "Install paybill":
                return step["run"]
    raise AssertionError("no 'Install paybill' step")


def default_requirement(workflow: Path) -> str:
    """What ``env.PAYBILL_PIP_REQUIREMENT`` evaluates to when the repository variable is not set."""
    match = DEFAULT.search(workflow.read_text(encoding="utf-8"))
    assert match, f"{workflow} has no PAYBILL_PIP_REQUIREMENT default"
    return match.group(1).replace("''", "'")


def fresh_venv(where: Path) -> Path:
    """A new virtual environment that sees this environment's packages except paybill's own code."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    python = where / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    # pip and paybill's dependencies; paybill's editable hook (a .pth there) is not processed from here.
    Path(purelib, "test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    return where


def run_install_step(repo: Path, venv: Path, requirement: str) -> subprocess.CompletedProcess[str]:
    script = install_script(yaml.safe_load((repo / WORKFLOWS["paybill-pr.yaml"]).read_text(encoding="utf-8")))
    step = repo.parent / "install-step.sh"
    step.write_text(script, encoding="utf-8")
    env = {**os.environ, "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
           "PAYBILL_PIP_REQUIREMENT": requirement, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("VIRTUAL_ENV", None)
    return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(step)], cwd=repo, env=env,
                          capture_output=True, text=True, check=False, timeout=300)


def test_the_install_step_without_a_requirement_stops_with_the_instruction(tmp_path, run) -> None:
    repo = scaffolded(tmp_path, run)
    # The tests run from an editable checkout, which CI cannot reach: init writes no default then.
    assert default_requirement(repo / WORKFLOWS["paybill-pr.yaml"]) == (running_source().requirement or "")
    done = run_install_step(repo, fresh_venv(tmp_path / "venv"), "")
    assert done.returncode == 1
    assert done.stdout.startswith("::error title=paybill install source::no install source for paybill: set the "
                                  "repository variable PAYBILL_PIP_REQUIREMENT")


def test_the_install_step_stops_with_the_instruction_when_pip_cannot_resolve_it(tmp_path, run) -> None:
    repo = scaffolded(tmp_path, run)
    done = run_install_step(repo, fresh_venv(tmp_path / "venv"), "paybill==0.0.0.dev999")
    assert done.returncode == 1
    assert ("::error title=paybill install source::pip cannot install paybill from "
            "PAYBILL_PIP_REQUIREMENT='paybill==0.0.0.dev999': set the repository variable") in done.stdout
    assert not (tmp_path / "venv" / "bin" / "paybill").exists()


@pytest.mark.slow
def test_a_scaffolded_repository_installs_paybill_from_a_built_wheel_and_validates(tmp_path, run) -> None:
    # Build the sdist and the wheel exactly as the release workflow does, from a copy of the sources.
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "compiler", source / "compiler",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc"))
    dist_dir = tmp_path / "dist"
    built = subprocess.run([sys.executable, "-m", "build", "--outdir", str(dist_dir), str(source)],
                           capture_output=True, text=True, check=False, timeout=300)
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    artifacts = [str(path) for path in sorted(dist_dir.iterdir())]
    assert len(artifacts) == 2, artifacts  # the sdist and the wheel
    checked = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", *artifacts],
                             capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout
    (wheel,) = dist_dir.glob("paybill-*-py3-none-any.whl")

    repo = scaffolded(tmp_path, run, "--pip-requirement", f"paybill @ {wheel.as_uri()}")
    venv = fresh_venv(tmp_path / "venv")
    done = run_install_step(repo, venv, default_requirement(repo / WORKFLOWS["paybill-pr.yaml"]))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("paybill, version ")
    where = subprocess.run([str(venv / "bin" / "python"), "-c", "import paybill; print(paybill.__file__)"],
                           capture_output=True, text=True, check=True).stdout
    assert where.startswith(str(venv)), f"paybill imported from {where}, not from the installed wheel"
    validated = subprocess.run([str(venv / "bin" / "paybill"), "validate", "specs"], cwd=repo,
                               capture_output=True, text=True, check=False)
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert validated.stdout.startswith("ok: 16 files checked")
