"""``paybill apply plan | run | atlantis`` as commands: git base, files, exit codes, diagnostics."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .support import make_workspace, manifest, removed, stack

ROOT = Path(__file__).resolve().parents[2]


def paybill(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "paybill", *args], cwd=cwd, capture_output=True, text=True,
                          env=env or {**os.environ}, timeout=300, check=False)


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "a",
           "GIT_AUTHOR_EMAIL": "a@b.c", "GIT_COMMITTER_NAME": "a", "GIT_COMMITTER_EMAIL": "a@b.c"}
    return subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True).stdout.strip()


def test_a_plan_with_nothing_to_apply_says_so(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "repo")
    git(ws.root, "init", "-q", "-b", "main")
    ws.write(manifest([stack("pool/p", 1), stack("tenant/a", 2)]))
    git(ws.root, "add", "generated")
    git(ws.root, "commit", "-qm", "one")
    done = paybill(ws.root, "apply", "plan", "--base", git(ws.root, "rev-parse", "HEAD"), "--out", "plan.json")
    assert done.returncode == 0, done.stderr
    assert done.stderr == "nothing to apply: no stack changed\n"  # was "0 phases, 0 jobs: "
    ws.write(manifest([stack("pool/p", 1)], [removed("tenant/a", "2999-01-01")]))  # deleted, retained for long
    git(ws.root, "add", "generated")
    git(ws.root, "commit", "-qm", "two")
    held = paybill(ws.root, "apply", "plan", "--base", "HEAD~1", "--out", "plan.json")
    assert held.returncode == 0, held.stderr
    assert "::notice::" in held.stdout and "tenant/a" in held.stdout
    assert held.stderr == "nothing to apply now: the held stacks are listed above\n"


def _imported(tmp_path: Path) -> Path:
    """`paybill init`'s repository, compiled and committed on main as its first commit."""
    repo = tmp_path / "platform"
    assert paybill(tmp_path, "init", "--no-git", str(repo)).returncode == 0
    git(repo, "init", "-q", "-b", "main")
    assert paybill(repo, "compile").returncode == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "import")
    return repo


def test_plan_from_the_base_commit_then_run_a_shard_with_the_fake_terraform(tmp_path: Path) -> None:
    """Real Terraform cannot be downloaded here: the shard runs the fake one (fake_terraform.py)."""
    ws = make_workspace(tmp_path / "repo")
    git(ws.root, "init", "-q", "-b", "main")
    before = manifest([stack("pool/p", 1), stack("tenant/a", 2), stack("tenant/b", 2)])
    ws.write(before)
    git(ws.root, "add", "generated")
    git(ws.root, "commit", "-qm", "one")
    base = git(ws.root, "rev-parse", "HEAD")
    after = manifest([stack("pool/p", 1), stack("tenant/a", 2, hash="new"), stack("tenant/b", 2)],
                     [removed("tenant/old", "2000-01-01")])
    ws.write(after)
    git(ws.root, "add", "generated")
    git(ws.root, "commit", "-qm", "two")
    outputs = ws.root / "gh-output"
    done = paybill(ws.root, "apply", "plan", "--base", base, "--commit", "abc", "--out", "plan.json",
                   "--github-output", str(outputs))
    assert done.returncode == 0, done.stderr
    plan = json.loads((ws.root / "plan.json").read_text())
    assert [(p["label"], [u["address"] for s in p["shards"] for u in s["units"]]) for p in plan["phases"]] == [
        ("destroy", ["tenant/old"]), ("wave 2", ["tenant/a"])]
    # the summary names the shards `apply run --shard` takes (it was "2 phases, 2 jobs: destroy (1 in 1), ...")
    assert done.stderr == ("2 phases, 2 jobs: destroy: 1 stack in shard 1.1; wave 2: 1 stack in shard 2.1\n"
                           "run each shard, phase by phase: paybill apply run --plan plan.json --shard ID\n")
    values = dict(line.split("=", 1) for line in outputs.read_text().splitlines())
    assert json.loads(values["phases"])["phase2"]["matrix"]["include"] == [
        {"shard": "2.1", "name": "wave 2, 1/1: tenant/a"}]
    assert values["destroys"] == "1" and values["jobs"] == "2"
    # no base (workflow_dispatch, a new branch): everything
    done = paybill(ws.root, "apply", "plan", "--base", "0" * 40)
    assert done.returncode == 0 and json.loads(done.stdout)["summary"]["apply"] == 3
    # outside GitHub Actions the plan names the checked-out commit (was null), unless generated/ has local changes
    local = {k: v for k, v in os.environ.items() if k != "GITHUB_SHA"}
    done = paybill(ws.root, "apply", "plan", "--base", base, env=local)
    assert json.loads(done.stdout)["commit"] == git(ws.root, "rev-parse", "HEAD")
    (ws.generated / "manifest.json").write_text((ws.generated / "manifest.json").read_text() + "\n")
    assert json.loads(paybill(ws.root, "apply", "plan", "--base", base, env=local).stdout)["commit"] is None
    git(ws.root, "checkout", "--", "generated")
    # a re-run of the same plan and shard resumes from the results of the first attempt
    env = ws.env()
    run = paybill(ws.root, "apply", "run", "--plan", "plan.json", "--shard", "2.1", "--terraform", ws.terraform,
                  "--results", "results", env=env)
    assert run.returncode == 0, run.stderr
    assert "::group::apply tenant/a: applied (1 attempt)" in run.stdout and "shard 2.1: 1 applied" in run.stdout
    again = paybill(ws.root, "apply", "run", "--plan", "plan.json", "--shard", "2.1", "--terraform", ws.terraform,
                    "--results", "results2", "--resume", "results", env=env)
    assert again.returncode == 0 and "shard 2.1: 1 skipped" in again.stdout
    assert len(ws.calls()) == 3


def test_errors_are_compiler_style_with_exit_codes(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "repo")
    done = paybill(ws.root, "apply", "plan")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("generated/manifest.json:1:1: error[PB1201]: cannot read the manifest")
    assert "\n  hint: run `paybill compile` first" in done.stderr
    ws.write(manifest([stack("tenant/a")]))
    git(ws.root, "init", "-q", "-b", "main")
    done = paybill(ws.root, "apply", "plan", "--base", "deadbeef" * 5)
    assert done.returncode == 1 and "error[PB1202]: the base commit" in done.stderr
    paybill(ws.root, "apply", "plan", "--out", "plan.json")
    done = paybill(ws.root, "apply", "run", "--plan", "plan.json", "--shard", "9.9")
    assert done.returncode == 1 and "plan.json:1:1: error[PB1210]: the job plan has no shard '9.9'" in done.stderr
    assert "hint: shards in this plan: 1.1" in done.stderr
    done = paybill(ws.root, "apply", "run", "--plan", "plan.json", "--shard", "1.1", "--terraform",
                   str(ws.root / "missing-tofu"))
    assert done.returncode == 1 and "error[PB1208]" in done.stderr
    assert paybill(ws.root, "apply", "plan", "--max-jobs", "0").returncode == 2
    assert paybill(ws.root, "apply", "plan", "--base", "x", "--previous-manifest", "y").returncode == 2


def test_atlantis_yaml_follows_the_repo_config_reference() -> None:
    """Checked against https://www.runatlantis.io/docs/repo-level-atlantis-yaml (keys, types, and
    when_modified relative to each project's dir)."""
    done = paybill(ROOT, "apply", "atlantis")
    assert done.returncode == 0, done.stderr
    document = yaml.safe_load(done.stdout)
    assert document["version"] == 3
    assert set(document) <= {"version", "automerge", "delete_source_branch_on_merge", "parallel_plan",
                             "parallel_apply", "abort_on_execution_order_fail", "projects", "workflows",
                             "allowed_regexp_prefixes"}
    project_keys = {"name", "branch", "dir", "workspace", "execution_order_group", "delete_source_branch_on_merge",
                    "repo_locking", "autoplan", "terraform_version", "apply_requirements", "workflow"}
    generated = json.loads((ROOT / "generated" / "manifest.json").read_text())
    waves = {s["address"]: s["wave"] for s in generated["stacks"]}
    names = [p["name"] for p in document["projects"]]
    assert len(names) == len(set(names)) == len(waves)
    groups = [p["execution_order_group"] for p in document["projects"]]
    assert groups == sorted(groups) and set(groups) == set(waves.values())
    for project in document["projects"]:
        assert set(project) <= project_keys and isinstance(project["execution_order_group"], int)
        assert (ROOT / project["dir"] / "main.tf.json").is_file()
        address = project["dir"].removeprefix("generated/terraform/")
        assert project["execution_order_group"] == waves[address]
        watched = project["autoplan"]["when_modified"]
        assert watched[0] == "*.tf.json"
        for pattern in watched[1:]:  # relative to the project's dir, and each one a real spec file
            assert (ROOT / project["dir"] / pattern).resolve().is_file(), pattern
        assert set(watched[1:]) == {os.path.relpath(s, project["dir"]) for s in
                                    next(x for x in generated["stacks"] if x["address"] == address)["sources"]}


def test_atlantis_yaml_snapshot(snapshot) -> None:
    done = paybill(ROOT, "apply", "atlantis")
    assert done.stdout == snapshot


@pytest.mark.parametrize("args", [["apply", "--help"], ["apply", "run", "--help"]])
def test_help(args: list[str]) -> None:
    assert paybill(ROOT, *args).returncode == 0


def test_run_help_names_the_environment_variables_the_shard_workflow_sets() -> None:
    """paybill-apply-shard.yml passes the database URL command as PAYBILL_DATABASE_URL_COMMAND and the
    executable as PAYBILL_TERRAFORM, not as options: the help must say they are read."""
    text = " ".join(paybill(ROOT, "apply", "run", "--help").stdout.split())
    workflow = (ROOT / ".github" / "workflows" / "paybill-apply-shard.yml").read_text()
    for variable in ("PAYBILL_DATABASE_URL_COMMAND", "PAYBILL_TERRAFORM"):
        assert f"{variable}:" in workflow and f"env {variable}" in text, variable


def test_a_pooled_tenants_edit_migrates_no_database(tmp_path: Path) -> None:
    """Found driving the README's flow on `paybill init`'s repository: a plan change of a pooled tenant
    scheduled a `db migrate` job of its pool, because the pool's migrations.json lists the digest of
    every spec it is compiled from. Only a change of the SQL files is something to migrate."""
    repo = _imported(tmp_path)
    base = git(repo, "rev-parse", "HEAD")
    tenant = repo / "specs" / "tenants" / "vandelay.yaml"
    tenant.write_text(tenant.read_text().replace("plan: free", "plan: starter"))
    assert paybill(repo, "compile").returncode == 0
    assert git(repo, "diff", "--name-only", "--", "generated/sql") == \
        "generated/sql/pool-aws-use1-shared/migrations.json"  # its sources digests, no SQL
    done = paybill(repo, "apply", "plan", "--base", base, "--out", "plan.json")
    assert done.returncode == 0, done.stderr
    plan = json.loads((repo / "plan.json").read_text())
    units = [(u["action"], u["address"], u.get("migrate")) for p in plan["phases"] for s in p["shards"]
             for u in s["units"]]
    assert units == [("apply", "tenant/vandelay", None)]


def test_a_stack_whose_comment_alone_changed_is_not_applied(tmp_path: Path) -> None:
    """A tenant whose pooled-to-silo migration finished drops its pool: the pool leaves the stack's
    ``sources``, which its ``main.tf.json`` repeats in the ``//`` comment Terraform ignores, so the stack
    hash changed and apply ran a job that could change nothing. Only the comment may differ: a stack with
    a real change applies whether or not its sources changed, and without a base commit to compare files
    with (``--previous-manifest``) every changed stack applies."""
    ws = make_workspace(tmp_path / "repo")
    git(ws.root, "init", "-q", "-b", "main")

    def config(sources: list[str], bucket: str) -> str:
        return json.dumps({"//": {"generated_by": "paybill", "sources": sources, "stack": "x"},
                           "resource": {"aws_s3_bucket": {"data": {"bucket": bucket}}}}, indent=2)

    both, one = ["specs/pools/p.yaml", "specs/tenants/t.yaml"], ["specs/tenants/t.yaml"]
    names = ("tenant/comment", "tenant/real", "tenant/same-sources")
    ws.write(manifest([stack(name, 2, sources=tuple(both)) for name in names]))
    for name in names:
        (ws.generated / "terraform" / name / "main.tf.json").write_text(config(both, "b"), encoding="utf-8")
    git(ws.root, "add", "generated")
    git(ws.root, "commit", "-qm", "one")
    base = git(ws.root, "rev-parse", "HEAD")
    ws.write(manifest([stack("tenant/comment", 2, hash="new", sources=tuple(one)),
                       stack("tenant/real", 2, hash="new", sources=tuple(one)),
                       stack("tenant/same-sources", 2, hash="new", sources=tuple(both))]))
    files = {"tenant/comment": config(one, "b"), "tenant/real": config(one, "changed"),
             "tenant/same-sources": config(both, "changed")}
    for name, text in files.items():
        (ws.generated / "terraform" / name / "main.tf.json").write_text(text, encoding="utf-8")
    git(ws.root, "add", "generated")
    git(ws.root, "commit", "-qm", "two")

    def applied(*args: str) -> tuple[list[str], str]:
        done = paybill(ws.root, "apply", "plan", *args, "--out", "plan.json")
        assert done.returncode == 0, done.stderr
        plan = json.loads((ws.root / "plan.json").read_text())
        return [u["address"] for p in plan["phases"] for s in p["shards"] for u in s["units"]], done.stdout

    units, printed = applied("--base", base)
    assert units == ["tenant/real", "tenant/same-sources"]
    assert "::notice::stack tenant/comment is not applied: only its comment" in printed
    previous = tmp_path / "previous.json"
    previous.write_text(git(ws.root, "show", f"{base}:generated/manifest.json"), encoding="utf-8")
    assert applied("--previous-manifest", str(previous))[0] == list(names)
    (ws.generated / "terraform" / "tenant" / "comment" / "main.tf.json").write_text("not json", encoding="utf-8")
    assert applied("--base", base)[0] == list(names)


def test_without_out_standard_output_is_the_json_plan_and_the_notices_go_to_standard_error(tmp_path: Path) -> None:
    """`paybill apply plan --base X > plan.json` (or `| jq`) must read a plan even when stacks are held or
    vanished: their workflow commands once came first on standard output and broke the JSON."""
    ws = make_workspace(tmp_path / "repo")
    git(ws.root, "init", "-q", "-b", "main")
    ws.write(manifest([stack("pool/p", 1), stack("tenant/gone", 2), stack("tenant/lost", 2)]))
    git(ws.root, "add", "generated")
    git(ws.root, "commit", "-qm", "one")
    base = git(ws.root, "rev-parse", "HEAD")
    ws.write(manifest([stack("pool/p", 1)], [removed("tenant/gone", "2999-01-01")]))
    git(ws.root, "add", "generated")
    git(ws.root, "commit", "-qm", "two")
    done = paybill(ws.root, "apply", "plan", "--base", base)
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)
    assert plan["summary"]["apply"] == 0
    assert "::notice::tenant/gone: held until 2999-01-01" in done.stderr
    assert "::warning::stack tenant/lost is gone from the manifest" in done.stderr
    with_out = paybill(ws.root, "apply", "plan", "--base", base, "--out", "plan.json")
    assert with_out.returncode == 0 and "::notice::tenant/gone: held" in with_out.stdout


@pytest.mark.parametrize("special", ["fifo", "device"])
def test_a_manifest_or_job_plan_that_is_a_fifo_or_device_is_refused_not_waited_on(tmp_path: Path,
                                                                                 special: str) -> None:
    # `apply plan --manifest FIFO` and `apply run --plan /dev/zero` hung (read_bytes waited or never ended)
    ws = make_workspace(tmp_path / "repo")
    ws.write(manifest([stack("tenant/a")]))
    if special == "fifo":
        target = tmp_path / "fifo"
        os.mkfifo(target)
        kind = "a FIFO"
    else:
        target, kind = Path("/dev/zero"), "a device"
    for args, code in ((("apply", "plan", "--manifest", str(target), "--base", "HEAD"), "PB1201"),
                       (("apply", "plan", "--previous-manifest", str(target)), "PB1201"),
                       (("apply", "run", "--plan", str(target), "--shard", "1.1"), "PB1210")):
        done = subprocess.run([sys.executable, "-m", "paybill", *args], cwd=ws.root, capture_output=True, text=True,
                              timeout=60, check=False)
        assert done.returncode == 1, done.stderr
        assert f"error[{code}]" in done.stderr and f"is {kind}, not a regular file" in done.stderr, done.stderr


def test_plan_out_and_github_output_to_a_fifo_nobody_reads_fail_at_once(tmp_path: Path) -> None:
    # both waited forever for a reader (open() of a FIFO for writing blocks)
    ws = make_workspace(tmp_path / "repo")
    ws.write(manifest([stack("tenant/a")]))
    git(ws.root, "init", "-q", "-b", "main")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for option in ("--out", "--github-output"):
        done = subprocess.run([sys.executable, "-m", "paybill", "apply", "plan", option, str(fifo)], cwd=ws.root,
                              capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 1, done.stderr
        assert f"Could not open file '{fifo}': a FIFO no process is reading" in done.stderr, done.stderr
    appended = tmp_path / "github_output"
    appended.write_text("earlier=1\n")
    assert paybill(ws.root, "apply", "plan", "--github-output", str(appended)).returncode == 0
    lines = appended.read_text().splitlines()
    assert lines[0] == "earlier=1" and any(line.startswith("jobs=") for line in lines), lines


def test_atlantis_out_to_a_fifo_or_a_missing_folder_fails_at_once(tmp_path: Path) -> None:
    # a FIFO nobody reads hung; a missing folder was an internal error (FileNotFoundError, exit 70)
    ws = make_workspace(tmp_path / "repo")
    ws.write(manifest([stack("tenant/a")]))
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for target, reason in ((fifo, "a FIFO no process is reading"), (tmp_path / "no" / "atlantis.yaml",
                                                                      "No such file or directory")):
        done = subprocess.run([sys.executable, "-m", "paybill", "apply", "atlantis", "--out", str(target)],
                              cwd=ws.root, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 1, done.stderr
        assert f"Could not open file '{target}': {reason}" in done.stderr and "internal error" not in done.stderr


def test_a_stack_whose_backend_moved_is_refused_until_its_state_was_migrated(tmp_path: Path) -> None:
    """A silo tenant moved to another cloud keeps its stack address, but its backend changes (s3 -> gcs):
    `apply run` (`init -input=false` in a fresh checkout) would start from an empty state there, create
    the stack again and leave the old resources, with the tenant's data, unmanaged, and nothing would
    ever decommission them. The plan refuses (PB1211) until the state move is acknowledged."""
    ws = make_workspace(tmp_path / "repo")
    git(ws.root, "init", "-q", "-b", "main")

    def config(backend: dict[str, object], bucket: str) -> str:
        return json.dumps({"//": {"stack": "x"}, "terraform": {"backend": backend},
                           "resource": {"aws_s3_bucket": {"data": {"bucket": bucket}}}}, indent=2)

    s3 = {"s3": {"bucket": "tfstate-use1", "key": "paybill/tenant/moved/terraform.tfstate", "region": "us-east-1"}}
    names = ("tenant/moved", "tenant/stays")
    ws.write(manifest([stack(name) for name in names]))
    for name in names:
        (ws.generated / "terraform" / name / "main.tf.json").write_text(config(s3, "b"), encoding="utf-8")
    git(ws.root, "add", "generated")
    git(ws.root, "commit", "-qm", "one")
    base = git(ws.root, "rev-parse", "HEAD")
    ws.write(manifest([stack(name, hash="new") for name in names]))
    gcs = {"gcs": {"bucket": "tfstate-gcp", "prefix": "paybill/tenant/moved"}}
    (ws.generated / "terraform" / "tenant" / "moved" / "main.tf.json").write_text(config(gcs, "c"), encoding="utf-8")
    (ws.generated / "terraform" / "tenant" / "stays" / "main.tf.json").write_text(config(s3, "c"), encoding="utf-8")
    git(ws.root, "add", "generated")
    git(ws.root, "commit", "-qm", "two")

    done = paybill(ws.root, "apply", "plan", "--base", base, "--out", "plan.json")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "error[PB1211]: the Terraform state of stack tenant/moved moves since" in done.stderr
    assert ("s3 bucket=tfstate-use1, key=paybill/tenant/moved/terraform.tfstate, region=us-east-1 -> "
            "gcs bucket=tfstate-gcp, prefix=paybill/tenant/moved") in done.stderr
    assert "--state-migrated tenant/moved" in done.stderr and "tenant/stays" not in done.stderr
    assert not (ws.root / "plan.json").exists()
    typo = paybill(ws.root, "apply", "plan", "--base", base, "--out", "plan.json", "--state-migrated", "tenant/stays")
    assert typo.returncode == 2 and "(those that do: tenant/moved)" in typo.stderr
    done = paybill(ws.root, "apply", "plan", "--base", base, "--out", "plan.json", "--state-migrated", "tenant/moved")
    assert done.returncode == 0, done.stderr
    plan = json.loads((ws.root / "plan.json").read_text())
    assert [u["address"] for p in plan["phases"] for s in p["shards"] for u in s["units"]] == list(names)
    (ws.root / "plan.json").unlink()
    from_ci = paybill(ws.root, "apply", "plan", "--base", base, "--out", "plan.json",
                      env={**os.environ, "PAYBILL_STATE_MIGRATED": "tenant/moved"})  # the workflow's variable
    assert from_ci.returncode == 0 and (ws.root / "plan.json").exists(), from_ci.stderr


def test_the_job_plan_records_the_base_commit_id_not_the_name_it_was_given(tmp_path: Path) -> None:
    """`--base HEAD~1` (the README's local example) or a branch name was recorded as given: the plan is an
    artifact read after the run, when HEAD~1 names another commit. It records the full id; a name the
    clone cannot resolve is PB1202, as a missing commit is."""
    ws = make_workspace(tmp_path / "repo")
    git(ws.root, "init", "-q", "-b", "main")
    ws.write(manifest([stack("pool/p", 1)]))
    git(ws.root, "add", "generated")
    git(ws.root, "commit", "-qm", "one")
    base = git(ws.root, "rev-parse", "HEAD")
    ws.write(manifest([stack("pool/p", 1), stack("tenant/new", 2)]))
    git(ws.root, "add", "generated")
    git(ws.root, "commit", "-qm", "two")
    for name in ("HEAD~1", "main~1", base[:10]):
        done = paybill(ws.root, "apply", "plan", "--base", name)
        assert done.returncode == 0, done.stderr
        plan = json.loads(done.stdout)
        assert plan["base"] == base
        assert plan["summary"]["apply"] == 1
    missing = paybill(ws.root, "apply", "plan", "--base", "no-such-branch")
    assert missing.returncode == 1 and "error[PB1202]" in missing.stderr
    assert "the base commit no-such-branch is not in this clone" in missing.stderr
    dashed = paybill(ws.root, "apply", "plan", "--base=--all")
    assert dashed.returncode == 1 and "error[PB1202]" in dashed.stderr


def test_a_local_apply_leaves_generated_as_compile_wrote_it(tmp_path: Path) -> None:
    """`apply run` ran Terraform in the stack folders of generated/: its .terraform/ (the providers),
    lock file and saved plan stayed there, `compile --check` then listed them as stale and `compile`
    deleted them (providers downloaded again after each compile). Terraform's working files now live in
    .paybill/terraform/<stack>/ (the fake terraform leaves them where the real one does, following
    TF_DATA_DIR), and the lock file is kept there from one run to the next."""
    ws = make_workspace(tmp_path / "ws")
    repo = _imported(tmp_path)
    env = {**ws.env(), "PAYBILL_TERRAFORM": str(ws.terraform)}
    assert paybill(repo, "apply", "plan", "--out", str(tmp_path / "plan.json"), env=env).returncode == 0
    shards = [s["id"] for p in json.loads((tmp_path / "plan.json").read_text())["phases"] for s in p["shards"]
              if all(u["action"] == "apply" and not u.get("migrate") for u in s["units"])]
    assert shards
    for shard in shards:
        done = paybill(repo, "apply", "run", "--plan", str(tmp_path / "plan.json"), "--shard", shard,
                       "--results", str(tmp_path / f"results-{shard}"), env=env)
        assert done.returncode == 0, done.stdout + done.stderr
    applied = {c["dir"] for c in ws.calls() if c["args"][0] == "apply"}
    assert applied and all(d.startswith("generated/terraform/") for d in applied)
    left = sorted(str(p.relative_to(repo)) for p in (repo / "generated").rglob("*")
                  if p.name in (".terraform", ".terraform.lock.hcl", "tfplan"))
    assert left == []
    check = paybill(repo, "compile", "--check")
    assert check.returncode == 0, check.stdout + check.stderr
    some = sorted(applied)[0].removeprefix("generated/terraform/")
    kept = repo / ".paybill" / "terraform" / some / ".terraform.lock.hcl"
    assert kept.is_file() and (repo / ".paybill" / "terraform" / some / ".terraform" / "providers").is_dir()
    kept.write_text("# the providers the first run selected\n")
    done = paybill(repo, "apply", "run", "--plan", str(tmp_path / "plan.json"), "--shard", shards[0],
                   "--results", str(tmp_path / "again"), env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert kept.read_text() == "# the providers the first run selected\n"  # put back for init, taken back after
    assert git(repo, "status", "--porcelain") == ""  # .paybill/ is git-ignored


def _plan_findings(repo: Path, base: str, code: str) -> list[str]:
    """`paybill plan`'s findings of ``code`` for ``base`` -> HEAD, rendered as `apply plan` prints them."""
    done = paybill(repo, "plan", "--base", base, "--head", "HEAD", "--no-terraform", "--format", "json")
    report = json.loads(done.stdout)
    return [f"{f['file']}:{f['line']}:{f['col']}: error[{f['code']}]: {f['message']}\n  hint: {f['hint']}"
            for f in report["findings"] if f["code"] == code]


def test_a_silo_tenant_pooled_without_the_record_is_refused_on_main_as_the_pull_request_plan_refuses_it(
        tmp_path: Path) -> None:
    """A commit that reaches main without `paybill plan`'s check (a direct push, an admin merge) and pools a
    silo tenant without `spec.isolation.pooling` was applied: the apply destroyed its dedicated key,
    database and bucket before anything was copied. `apply plan` refuses it (PB0948), with the plan's
    message, and applies nothing; with the record of the copy the same move is planned."""
    repo = _imported(tmp_path)
    base = git(repo, "rev-parse", "HEAD")
    tenant = repo / "specs" / "tenants" / "acme-corp.yaml"
    silo = tenant.read_text()
    pooled = silo.replace("    model: silo", "    model: pooled").replace(
        "    region: us-east-1\n", "    region: us-east-1\n    pool: aws-use1-shared\n")
    tenant.write_text(pooled)
    assert paybill(repo, "compile").returncode == 0
    git(repo, "commit", "-qam", "acme-corp: pooled, pushed straight to main")
    expected = _plan_findings(repo, base, "PB0948")
    assert len(expected) == 1 and expected[0].startswith("specs/tenants/acme-corp.yaml:15:5: error[PB0948]: ")

    done = paybill(repo, "apply", "plan", "--base", base, "--out", "plan.json")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert expected[0] in done.stderr
    assert "nothing is applied" in done.stderr and not (repo / "plan.json").exists()

    tenant.write_text(pooled.replace("    model: pooled\n", "    model: pooled\n    pooling:\n"
                                     "      from: {model: silo}\n      copiedAt: \"2026-12-07\"\n"))
    assert paybill(repo, "compile").returncode == 0
    git(repo, "commit", "-qam", "acme-corp: pooled, its copy recorded", "--amend")
    done = paybill(repo, "apply", "plan", "--base", base, "--out", "plan.json")
    assert done.returncode == 0, done.stderr
    plan = json.loads((repo / "plan.json").read_text())
    assert "tenant/acme-corp" in [u["address"] for p in plan["phases"] for s in p["shards"] for u in s["units"]]


def test_a_live_silo_tenant_moved_to_another_region_is_refused_on_main(tmp_path: Path) -> None:
    """PB0949 on main: the apply would replace a live tenant's dedicated stores in the new region, empty. The
    backend does not move (same cloud), so PB1211 does not catch it. A tenant still onboarding may move,
    and an edit that changes many tenant stacks but no tenant file (a plan's sizing) is not refused."""
    repo = _imported(tmp_path)
    base = git(repo, "rev-parse", "HEAD")
    tenant = repo / "specs" / "tenants" / "acme-corp.yaml"
    tenant.write_text(tenant.read_text().replace("    region: us-east-1\n", "    region: us-west-2\n"))
    assert paybill(repo, "compile").returncode == 0
    git(repo, "commit", "-qam", "acme-corp: us-west-2")
    expected = _plan_findings(repo, base, "PB0949")
    assert len(expected) == 1 and expected[0].startswith("specs/tenants/acme-corp.yaml:11:5: error[PB0949]: ")
    done = paybill(repo, "apply", "plan", "--base", base, "--out", "plan.json")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert expected[0] in done.stderr and "PB1211" not in done.stderr
    assert not (repo / "plan.json").exists()
    # the way back: revert on main, applied against the commit applied before the refused one (the revert's
    # push compares with the refused commit, which was never applied: moving back looks like a move too)
    assert f"Apply the revert against {base}, the commit applied before this one" in done.stderr
    assert f"by hand: `paybill apply plan --base {base}`" in done.stderr
    refused = git(repo, "rev-parse", "HEAD")
    git(repo, "revert", "--no-edit", "HEAD")
    assert "error[PB0949]" in paybill(repo, "apply", "plan", "--base", refused, "--out", "plan.json").stderr
    back = paybill(repo, "apply", "plan", "--base", base, "--out", "plan.json")
    assert back.returncode == 0 and back.stderr == "nothing to apply: no stack changed\n", back.stderr

    git(repo, "reset", "-q", "--hard", base)
    tenant.write_text(tenant.read_text().replace("lifecycle: active", "lifecycle: onboarding"))
    assert paybill(repo, "compile").returncode == 0
    git(repo, "commit", "-qam", "acme-corp: onboarding")
    onboarding = git(repo, "rev-parse", "HEAD")
    tenant.write_text(tenant.read_text().replace("    region: us-east-1\n", "    region: us-west-2\n"))
    enterprise = repo / "specs" / "plans" / "enterprise.yaml"
    enterprise.write_text(enterprise.read_text().replace("storageGb: 500\n", "storageGb: 600\n", 1))
    assert paybill(repo, "compile").returncode == 0
    git(repo, "commit", "-qam", "acme-corp moves before it holds data; enterprise databases grow")
    done = paybill(repo, "apply", "plan", "--base", onboarding, "--out", "plan.json")
    assert done.returncode == 0, done.stderr
    plan = json.loads((repo / "plan.json").read_text())
    assert {"tenant/acme-corp", "tenant/nakatomi"} <= \
        {u["address"] for p in plan["phases"] for s in p["shards"] for u in s["units"]}


def test_a_changed_tenant_whose_spec_is_readable_on_one_side_only_is_refused_not_applied_unchecked(
        tmp_path: Path) -> None:
    """The move checks need the tenant on both sides; a checkout that is not what generated/ was compiled
    from (its file gone) cannot be checked, and is refused (PB1202) rather than applied unchecked."""
    repo = _imported(tmp_path)
    base = git(repo, "rev-parse", "HEAD")
    tenant = repo / "specs" / "tenants" / "acme-corp.yaml"
    tenant.write_text(tenant.read_text().replace("lifecycle: active", "lifecycle: suspended"))
    assert paybill(repo, "compile").returncode == 0
    git(repo, "commit", "-qam", "acme-corp: suspended")
    tenant.unlink()
    done = paybill(repo, "apply", "plan", "--base", base, "--out", "plan.json")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "error[PB1202]: tenant acme-corp: found among the spec files its stack lists on one side only" \
        in done.stderr
    assert not (repo / "plan.json").exists()


def test_a_shard_of_a_run_another_run_overtook_is_refused_not_applied_over_it(tmp_path: Path) -> None:
    """GitHub keeps one pending run per concurrency group and cancels the one before, and a failed run
    can be re-run days later. A shard re-run after a newer commit was applied put the older commit's
    configuration over it. The plan keeps what was recorded as applied when it was made (`--applied`, the
    workflow's refs/paybill/applied/<branch>); `apply run --applied` refuses it once that moved (PB1212)."""
    ws = make_workspace(tmp_path / "repo")
    git(ws.root, "init", "-q", "-b", "main")
    ws.write(manifest([stack("pool/p", 1), stack("tenant/a", 2)]))
    git(ws.root, "add", "generated")
    git(ws.root, "commit", "-qm", "one")
    applied = git(ws.root, "rev-parse", "HEAD")
    ws.write(manifest([stack("pool/p", 1), stack("tenant/a", 2, hash="new")]))
    git(ws.root, "add", "generated")
    git(ws.root, "commit", "-qm", "two")
    commit = git(ws.root, "rev-parse", "HEAD")
    done = paybill(ws.root, "apply", "plan", "--base", applied, "--applied", applied, "--out", "plan.json")
    assert done.returncode == 0, done.stderr
    assert json.loads((ws.root / "plan.json").read_text())["applied"] == applied
    env = ws.env()
    newer = "f" * 40  # a later push's run applied since this plan was made
    run = paybill(ws.root, "apply", "run", "--plan", "plan.json", "--shard", "1.1", "--terraform", ws.terraform,
                  "--applied", newer, env=env)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert run.stderr.startswith(f"plan.json:1:1: error[PB1212]: the job plan is for commit {commit} against what "
                                 f"was applied then ({applied}), but {newer} was applied since")
    assert ws.calls() == []
    gone = paybill(ws.root, "apply", "run", "--plan", "plan.json", "--shard", "1.1", "--terraform", ws.terraform,
                   "--applied", "", env=env)
    assert gone.returncode == 1 and "nothing is recorded as applied now" in gone.stderr and ws.calls() == []
    for now in (applied, commit):  # not overtaken; or this very run completed and recorded itself
        run = paybill(ws.root, "apply", "run", "--plan", "plan.json", "--shard", "1.1", "--terraform", ws.terraform,
                      "--applied", now, "--results", "results", "--resume", "results", env=env)
        assert run.returncode == 0, run.stderr
    assert [c["args"][0] for c in ws.calls()] == ["init", "plan", "apply"]  # the second run resumed
    local = paybill(ws.root, "apply", "run", "--plan", "plan.json", "--shard", "1.1", "--terraform", ws.terraform,
                    "--results", "results", "--resume", "results", env=env)
    assert local.returncode == 0, local.stderr  # without --applied (a local run) nothing is compared
    typo = paybill(ws.root, "apply", "plan", "--base", applied, "--applied", "main", "--out", "plan.json")
    assert typo.returncode == 2 and "is not a full commit id" in typo.stderr


def test_a_plan_run_in_another_commits_generated_is_refused(tmp_path: Path) -> None:
    """Found applying by hand: a job plan made, then `git pull` (or a compile) before `apply run`. The run
    applied the new commit's configuration of the plan's stacks, recorded under the plan's hashes (so a
    resume skipped them later), and left out what else the new commit changed. The run now refuses when
    generated/manifest.json states a unit's stack with another hash than the plan (PB1213)."""
    ws = make_workspace(tmp_path / "ws")
    repo = _imported(tmp_path)
    env = {**ws.env(), "PAYBILL_TERRAFORM": str(ws.terraform)}
    base = git(repo, "rev-parse", "HEAD")
    tenant = repo / "specs" / "tenants" / "hooli.yaml"
    tenant.write_text(tenant.read_text().replace("plan: starter", "plan: growth"))
    assert paybill(repo, "compile").returncode == 0
    git(repo, "commit", "-qam", "hooli: growth")
    plan = tmp_path / "plan.json"
    assert paybill(repo, "apply", "plan", "--base", base, "--out", str(plan), env=env).returncode == 0
    [shard] = [s["id"] for p in json.loads(plan.read_text())["phases"] for s in p["shards"]]
    tenant.write_text(tenant.read_text().replace("plan: growth", "plan: starter"))
    assert paybill(repo, "compile").returncode == 0  # back to the base's configuration, not committed
    done = paybill(repo, "apply", "run", "--plan", str(plan), "--shard", shard, "--results",
                   str(tmp_path / "results"), env=env)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "generated/manifest.json:1:1: error[PB1213]: the job plan has apply tenant/hooli with hash sha256:" \
        in done.stderr and "generated/ is not what the plan was made from" in done.stderr
    assert ws.calls() == []
    git(repo, "checkout", "--", "generated", "specs")
    done = paybill(repo, "apply", "run", "--plan", str(plan), "--shard", shard, "--results",
                   str(tmp_path / "results"), env=env)
    assert done.returncode == 0, done.stdout + done.stderr
