"""A local runner for the GitHub Actions workflows paybill ships (``.github/workflows``), for end-to-end tests.

The workflows are what users copy; their ``run:`` scripts glue paybill's commands together (merge
bases, outputs, matrices, artifacts), and a mistake there breaks a user's CI while every command
still passes its own tests. ``act`` needs Docker images from the network, so this runs the workflow
files themselves here, the way the GitHub runner does for the parts paybill writes:

* jobs in ``needs`` order with job-level ``if:`` and status functions, ``outputs``, ``strategy.matrix``
  (``include`` and axes, from a ``fromJSON`` expression), ``environment`` gates (recorded), and
  reusable workflows (``uses: ./.github/workflows/...``) with ``with:`` inputs and ``secrets: inherit``;
* steps with ``if:``, ``env`` at every level, ``continue-on-error``, ``run:`` under ``bash -e`` (the
  runner's default shell) in a fresh workspace per job, and the ``GITHUB_OUTPUT`` / ``GITHUB_ENV`` /
  ``GITHUB_PATH`` / ``GITHUB_STEP_SUMMARY`` files;
* ``${{ }}`` expressions (:mod:`e2e.actions_expr`).

What cannot run here is replaced at the process boundary, named by the test: marketplace actions
(``uses: owner/name@v``) by Python doubles (:data:`ActionDouble`: checkout clones the test's
"origin", artifacts go to a folder, ``github-script`` runs its script under Node with a recording
``github`` client, ...), and steps a test names in ``replaced`` (each with the reason; the runner
fails if the named step does not exist, so a renamed step cannot silently stop being covered).
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from e2e.actions_expr import Functions, condition, interpolate, render

STATUS_FUNCTION = re.compile(r"\b(always|success|failure|cancelled)\s*\(")


@dataclass
class StepRecord:
    name: str
    outcome: str
    """success, failure or skipped (before continue-on-error)."""
    conclusion: str
    outputs: dict[str, str] = field(default_factory=dict)
    output: str = ""
    """What a ``run:`` step printed (stdout and stderr), for assertions and failure messages."""


@dataclass
class JobRecord:
    job: str
    """``workflow.yml/job`` (``/callee-job`` appended for a reusable workflow's jobs) and the matrix."""
    result: str
    outputs: dict[str, str] = field(default_factory=dict)
    steps: list[StepRecord] = field(default_factory=list)
    summary: str = ""
    environment: str | None = None

    def step(self, name: str) -> StepRecord:
        found = [s for s in self.steps if s.name == name]
        assert found, f"{self.job}: no step {name!r} among {[s.name for s in self.steps]}"
        return found[0]

    def describe(self) -> str:
        lines = [f"{self.job}: {self.result}"]
        for s in self.steps:
            lines.append(f"  {s.name}: {s.outcome}/{s.conclusion}")
            if s.outcome == "failure":
                lines.append("    " + s.output[-3000:].replace("\n", "\n    "))
        return "\n".join(lines)


@dataclass
class StepContext:
    """What an action double sees: the job's workspace, its environment, the runner's folders."""

    runner: Runner
    workspace: Path
    env: dict[str, str]
    job: str


ActionDouble = Callable[[StepContext, dict[str, Any]], dict[str, str]]
"""Stands in for a marketplace action: receives the evaluated ``with:`` inputs, returns step outputs."""


@dataclass
class Runner:
    """Runs workflow files from ``workflows`` against one event (``github`` context) and the test's doubles."""

    workflows: Path
    """The folder holding the workflow files (``.github/workflows`` of the commit under test)."""
    scratch: Path
    github: dict[str, Any]
    actions: dict[str, ActionDouble]
    """Keyed by ``owner/name`` (the version after ``@`` is ignored)."""
    vars: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    replaced: dict[str, str] = field(default_factory=dict)
    """Step name -> why it does not run here."""
    env: dict[str, str] = field(default_factory=dict)
    """The runner machine's environment (PATH with the tools the test provides, HOME, ...)."""
    jobs: list[JobRecord] = field(default_factory=list)
    _seen_replaced: set[str] = field(default_factory=set)
    _count: itertools.count[int] = field(default_factory=itertools.count)

    # -- workflows and jobs ----------------------------------------------------------------------

    def run(self, workflow: str, inputs: Mapping[str, Any] | None = None) -> dict[str, JobRecord]:
        """Every job of ``workflow`` (a file name in :attr:`workflows`); returns the records by job id."""
        document = yaml.load((self.workflows / workflow).read_text(encoding="utf-8"), Loader=yaml.BaseLoader)
        declared = (document.get("on") or {}).get("workflow_call", {}) if isinstance(document.get("on"), dict) else {}
        given = dict(inputs or {})
        for name, spec in (declared.get("inputs") or {}).items():
            if name not in given:
                assert spec.get("required") != "true", f"{workflow}: required input {name} not given"
                given[name] = spec.get("default", "")
        contexts: dict[str, Any] = {"github": self.github, "vars": self.vars, "secrets": self.secrets,
                                    "inputs": given, "env": {}}
        env = {k: render(interpolate(str(v), contexts, _no_status())) for k, v in (document.get("env") or {}).items()}
        for job in document["jobs"].values():
            names = {str(s.get("name")) for s in job.get("steps") or []}
            self._seen_replaced.update(names & set(self.replaced))
        records: dict[str, JobRecord] = {}
        for job_id in _ordered(document["jobs"]):
            records[job_id] = self._job(workflow, job_id, document["jobs"][job_id], records, contexts, env)
        if inputs is None:
            missing = set(self.replaced) - self._seen_replaced
            assert not missing, f"steps named in `replaced` do not exist: {sorted(missing)}"
        return records

    def _job(self, workflow: str, job_id: str, job: dict[str, Any], done: dict[str, JobRecord],
             contexts: dict[str, Any], env: dict[str, str]) -> JobRecord:
        needs = _needs(job)
        results = [done[n].result for n in needs]
        status = "failure" if "failure" in results else "success"
        ctx = {**contexts, "needs": {n: {"result": done[n].result, "outputs": done[n].outputs} for n in needs}}
        when = job.get("if")
        skipped = (when is None or not STATUS_FUNCTION.search(str(when))) and any(r != "success" for r in results)
        if skipped or not condition(when, ctx, Functions(lambda: status, _no_hash)):
            record = JobRecord(f"{workflow}/{job_id}", "skipped")
            self.jobs.append(record)
            return record
        matrix = (job.get("strategy") or {}).get("matrix")
        instances = _expand(interpolate(matrix, ctx, _no_status()) if isinstance(matrix, str) else matrix)
        records = [self._instance(workflow, job_id, job, {**ctx, "matrix": m}, env) for m in instances]
        if matrix is None and "uses" not in job:
            return records[0]
        result = "failure" if any(r.result == "failure" for r in records) else "success"
        outputs: dict[str, str] = {}
        for r in records:
            outputs.update(r.outputs)
        return JobRecord(f"{workflow}/{job_id}", result, outputs)

    def _instance(self, workflow: str, job_id: str, job: dict[str, Any], ctx: dict[str, Any],
                  env: dict[str, str]) -> JobRecord:
        label = f"{workflow}/{job_id}" + (f" {ctx['matrix']}" if ctx.get("matrix") else "")
        if "uses" in job:
            callee = str(job["uses"])
            assert callee.startswith("./.github/workflows/"), f"{label}: only local reusable workflows run here"
            inputs = {k: interpolate(str(v), ctx, _no_status()) for k, v in (job.get("with") or {}).items()}
            assert job.get("secrets") in (None, "inherit"), f"{label}: secrets must be inherited"
            called = self.run(callee.removeprefix("./.github/workflows/"), inputs)
            result = "failure" if any(r.result == "failure" for r in called.values()) else "success"
            return JobRecord(label, result)
        job_env = {**env, **_values(job.get("env"), ctx)}
        record = JobRecord(label, "success", environment=job.get("environment"))
        self.jobs.append(record)
        number = next(self._count)
        workspace = self.scratch / f"job-{number}" / "workspace"
        temp = self.scratch / f"job-{number}" / "temp"
        workspace.mkdir(parents=True)
        temp.mkdir()
        extra_env: dict[str, str] = {}
        extra_path: list[str] = []
        steps_ctx: dict[str, Any] = {}
        for i, step in enumerate(job.get("steps") or []):
            name = str(step.get("name") or step.get("uses") or f"step {i}")
            status = "failure" if any(s.conclusion == "failure" for s in record.steps) else "success"
            step_ctx = {**ctx, "steps": steps_ctx, "env": {**job_env, **extra_env}, "job": {"status": status}}
            functions = Functions(lambda status=status: status, lambda patterns: _hash_files(workspace, patterns))
            if not condition(step.get("if"), step_ctx, functions):
                record.steps.append(StepRecord(name, "skipped", "skipped"))
                steps_ctx[step.get("id", f"__{i}")] = {"outcome": "skipped", "conclusion": "skipped", "outputs": {}}
                continue
            files = {kind: temp / f"{kind}-{i}" for kind in ("output", "env", "path", "summary")}
            for file in files.values():
                file.touch()
            step_env = {k: render(interpolate(str(v), step_ctx, functions)) for k, v in (step.get("env") or {}).items()}
            full_env = {**self.env, **self._github_env(workspace, files), **job_env, **extra_env, **step_env}
            full_env["PATH"] = os.pathsep.join([*reversed(extra_path), full_env.get("PATH", "")])
            outcome, outputs, output = self._step(label, name, step, step_ctx, functions, workspace, full_env, files)
            extra_env.update(_key_values(files["env"].read_text(encoding="utf-8")))
            extra_path += [line for line in files["path"].read_text(encoding="utf-8").splitlines() if line]
            record.summary += files["summary"].read_text(encoding="utf-8")
            continue_on_error = str(step.get("continue-on-error", "false")).lower() == "true"
            conclusion = "success" if outcome == "failure" and continue_on_error else outcome
            record.steps.append(StepRecord(name, outcome, conclusion, outputs, output))
            if "id" in step:
                steps_ctx[step["id"]] = {"outcome": outcome, "conclusion": conclusion, "outputs": outputs}
        if any(s.conclusion == "failure" for s in record.steps):
            record.result = "failure"
        out_ctx = {**ctx, "steps": steps_ctx, "env": job_env}
        record.outputs = _values(job.get("outputs"), out_ctx)
        return record

    def _step(self, label: str, name: str, step: dict[str, Any], ctx: dict[str, Any], functions: Functions,
              workspace: Path, env: dict[str, str], files: dict[str, Path]) -> tuple[str, dict[str, str], str]:
        if name in self.replaced:
            return "success", {}, f"(not run here: {self.replaced[name]})"
        if "uses" in step:
            action = str(step["uses"]).split("@", 1)[0]
            assert action in self.actions, f"{label}: no double for action {action} (step {name!r})"
            inputs = {k: interpolate(str(v), ctx, functions) for k, v in (step.get("with") or {}).items()}
            try:
                outputs = self.actions[action](StepContext(self, workspace, env, label), inputs)
            except StepFailed as failed:
                return "failure", {}, str(failed)
            return "success", outputs, ""
        script = interpolate(str(step["run"]), ctx, functions)
        assert isinstance(script, str)
        path = files["output"].with_name(f"script-{files['output'].name}.sh")
        path.write_text(script, encoding="utf-8")
        shell = str(step.get("shell", "")) or "bash -e {0}"
        command = shell.replace("{0}", str(path)).split()
        cwd = workspace / str(step.get("working-directory", "."))
        done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=600)
        outputs = _key_values(files["output"].read_text(encoding="utf-8"))
        return ("success" if done.returncode == 0 else "failure"), outputs, done.stdout + done.stderr

    def _github_env(self, workspace: Path, files: dict[str, Path]) -> dict[str, str]:
        github = self.github
        return {"CI": "true", "GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": str(workspace),
                "GITHUB_SHA": str(github.get("sha", "")), "GITHUB_REF": str(github.get("ref", "")),
                # the branch or tag name of a push (GitHub's GITHUB_REF_NAME: refs/heads/main -> main)
                "GITHUB_REF_NAME": str(github.get("ref", "")).removeprefix("refs/heads/").removeprefix("refs/tags/"),
                "GITHUB_BASE_REF": str(github.get("base_ref", "")), "GITHUB_HEAD_REF": str(github.get("head_ref", "")),
                "GITHUB_EVENT_NAME": str(github.get("event_name", "")),
                "GITHUB_REPOSITORY": str(github.get("repository", "")),
                "GITHUB_RUN_ID": str(github.get("run_id", "")),
                "GITHUB_RUN_ATTEMPT": str(github.get("run_attempt", "1")),
                "GITHUB_SERVER_URL": str(github.get("server_url", "")),
                "GITHUB_OUTPUT": str(files["output"]), "GITHUB_ENV": str(files["env"]),
                "GITHUB_PATH": str(files["path"]), "GITHUB_STEP_SUMMARY": str(files["summary"])}


class StepFailed(Exception):
    """Raised by an action double to fail its step (as the real action would), with the reason."""


# -- helpers -------------------------------------------------------------------------------------------

def _needs(job: dict[str, Any]) -> list[str]:
    needs = job.get("needs") or []
    return [needs] if isinstance(needs, str) else list(needs)


def _values(mapping: dict[str, Any] | None, contexts: dict[str, Any]) -> dict[str, str]:
    """An ``env:`` or ``outputs:`` mapping with its expressions evaluated, as text."""
    return {k: render(interpolate(str(v), contexts, _no_status())) for k, v in (mapping or {}).items()}


def _no_status() -> Functions:
    return Functions(lambda: "success", _no_hash)


def _no_hash(patterns: list[str]) -> str:
    raise AssertionError(f"hashFiles({patterns}) outside a step")


def _hash_files(workspace: Path, patterns: list[str]) -> str:
    """``hashFiles``: SHA-256 over the matching files' hashes, '' when none match (as GitHub does)."""
    matched = sorted({p for pattern in patterns for p in workspace.glob(pattern) if p.is_file()})
    if not matched:
        return ""
    digest = hashlib.sha256()
    for path in matched:
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _key_values(text: str) -> dict[str, str]:
    """The ``name=value`` and ``name<<DELIMITER`` ... ``DELIMITER`` lines of GITHUB_OUTPUT / GITHUB_ENV."""
    found: dict[str, str] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            body = []
            i += 1
            while i < len(lines) and lines[i] != delimiter:
                body.append(lines[i])
                i += 1
            assert i < len(lines), f"GITHUB_OUTPUT: {name} has no closing {delimiter}"
            found[name] = "\n".join(body)
        elif "=" in line:
            name, value = line.split("=", 1)
            found[name] = value
        elif line.strip():
            raise AssertionError(f"GITHUB_OUTPUT/GITHUB_ENV: unreadable line {line!r}")
        i += 1
    return found


def _ordered(jobs: dict[str, Any]) -> list[str]:
    done: list[str] = []
    while len(done) < len(jobs):
        ready = [j for j in jobs if j not in done and all(n in done for n in _needs(jobs[j]))]
        assert ready, f"cycle among jobs {sorted(set(jobs) - set(done))}"
        done += ready
    return done


def _expand(matrix: Any) -> list[dict[str, Any] | None]:
    """A job's matrix instances (``[None]`` without a matrix): axes crossed, then ``include`` entries added."""
    if matrix is None:
        return [None]
    assert isinstance(matrix, dict), f"matrix must be a mapping, got {matrix!r}"
    axes = {k: v for k, v in matrix.items() if k not in ("include", "exclude")}
    combos: list[dict[str, Any]] = []
    if axes:
        combos = [dict(zip(axes, values, strict=True)) for values in itertools.product(*axes.values())]
    for extra in matrix.get("include") or []:
        combos.append(dict(extra))
    assert combos, "an empty matrix: GitHub fails such a job"
    return list(combos)
