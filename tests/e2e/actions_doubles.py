"""Doubles for the marketplace actions paybill's workflows use, at the process boundary.

Each stands in for what the real action does to the job's machine, no more:

* ``actions/checkout``: fetches the event's commit from the test's bare "origin" repository into
  the workspace with the step's ``fetch-depth`` (0: every branch, as the real action does), so
  ``git merge-base`` and ``git cat-file`` in the scripts see what they would on GitHub;
* ``actions/setup-python``: puts ``python`` and ``paybill`` on PATH; paybill is the one under test
  (PyPI is not reachable here), so ``python -m pip install ...`` is recorded in ``$PIP_LOG`` and
  does nothing, while every other ``python`` call runs the real interpreter;
* ``hashicorp/setup-terraform``: puts ``terraform`` on PATH, the recording stand-in
  ``tests/apply/fake_terraform.py`` (real Terraform cannot be downloaded here);
* ``actions/upload-artifact`` / ``actions/download-artifact`` (v4 semantics): a folder per workflow
  run; names are immutable (a second upload of a name fails the step, as on GitHub); a ``pattern``
  matching nothing downloads nothing;
* ``actions/cache/save`` / ``actions/cache/restore`` (v4): a folder per key shared by every run; a
  key is never overwritten (the real save warns and moves on); restore takes the exact key, else the
  newest key starting with a ``restore-keys`` prefix, and says which (``cache-hit``, ``cache-matched-key``);
* ``actions/github-script``: runs the step's script under Node with a ``github`` client that
  records calls against a stored comment thread, so the JavaScript itself is exercised;
* ``gh`` (preinstalled on GitHub's runners; not here): :data:`GH_DOUBLE`, the ``label`` and ``issue``
  subcommands the drift workflow calls, over a JSON file of issues, ``--jq`` run by the real ``jq``.
"""

from __future__ import annotations

import fnmatch
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from e2e.actions_runner import ActionDouble, StepContext, StepFailed

ROOT = Path(__file__).resolve().parents[2]
FAKE_TERRAFORM = ROOT / "tests" / "apply" / "fake_terraform.py"

GITHUB_SCRIPT_HARNESS = r"""
const fs = require("fs");
const [scriptFile, stateFile] = process.argv.slice(2);
const state = JSON.parse(fs.readFileSync(stateFile, "utf8"));
const record = (method, params) => { state.calls.push({ method, params }); };
const github = {
  paginate: async (method, params) => { record("paginate:" + method.name, params); return state.comments; },
  rest: { issues: {
    listComments: async function listComments(params) {
      record("listComments", params);
      return { data: state.comments };
    },
    createComment: async (params) => {
      record("createComment", params);
      state.comments.push({ id: 1000 + state.comments.length, user: { type: "Bot" }, body: params.body });
    },
    updateComment: async (params) => {
      record("updateComment", params);
      const found = state.comments.find((c) => c.id === params.comment_id);
      if (!found) throw new Error("no comment " + params.comment_id);
      found.body = params.body;
    },
  } },
};
const core = { setFailed: (m) => { record("setFailed", m); process.exitCode = 1; }, info: () => {} };
const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor;
const body = fs.readFileSync(scriptFile, "utf8");
new AsyncFunction("require", "github", "context", "core", body)(require, github, state.context, core).then(
  () => fs.writeFileSync(stateFile, JSON.stringify(state)),
  (error) => { console.error(String(error && error.stack || error)); process.exit(1); });
"""


GH_DOUBLE = r'''
import json, os, subprocess, sys
state_file = os.environ["GH_STATE"]
state = json.load(open(state_file)) if os.path.exists(state_file) else {"labels": [], "issues": [], "calls": []}
args = sys.argv[1:]
state["calls"].append(args)

def option(name, default=None):
    return args[args.index(name) + 1] if name in args else default

def save():
    json.dump(state, open(state_file, "w"), indent=1)

def body():
    return open(option("--body-file")).read()

code = 0
if args[:2] == ["label", "create"]:
    if args[2] in state["labels"]:
        print(f"label {args[2]} already exists", file=sys.stderr); code = 1
    else:
        state["labels"].append(args[2])
elif args[:2] == ["issue", "list"]:
    wanted = option("--search", "").removeprefix("in:title ").strip()
    found = [i for i in state["issues"] if option("--label") in i["labels"] and i["state"] == option("--state", "open")
             and wanted.lower() in i["title"].lower()]
    fields = option("--json").split(",")
    data = json.dumps([{k: i[k] for k in fields} for i in found])
    if option("--jq"):
        done = subprocess.run(["jq", "-r", option("--jq")], input=data, capture_output=True, text=True)
        sys.stdout.write(done.stdout); sys.stderr.write(done.stderr); code = done.returncode
    else:
        print(data)
elif args[:2] == ["issue", "create"]:
    number = 1 + len(state["issues"])
    state["issues"].append({"number": number, "title": option("--title"), "labels": [option("--label")],
                            "state": "open", "body": body(), "comments": []})
    print(f"https://github.com/acme/platform/issues/{number}")
elif args[:2] in (["issue", "edit"], ["issue", "close"]):
    [issue] = [i for i in state["issues"] if i["number"] == int(args[2])]
    if args[1] == "edit":
        issue["body"] = body()
    else:
        issue["state"] = "closed"
        issue["comments"].append(option("--comment"))
else:
    print(f"gh double: unsupported {args}", file=sys.stderr); code = 2
save()
sys.exit(code)
'''


@dataclass
class GitHubSide:
    """What lives on GitHub across runs: the origin repository, artifacts, the pull request's comments."""

    origin: Path
    scratch: Path
    git_env: dict[str, str]
    comments: list[dict[str, Any]] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)

    def artifacts(self, run_id: str) -> Path:
        folder = self.scratch / "artifacts" / run_id
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def doubles(self) -> dict[str, ActionDouble]:
        return {"actions/checkout": self.checkout, "actions/setup-python": self.setup_python,
                "hashicorp/setup-terraform": self.setup_terraform, "actions/upload-artifact": self.upload,
                "actions/download-artifact": self.download, "actions/github-script": self.github_script,
                "actions/cache/save": self.cache_save, "actions/cache/restore": self.cache_restore}

    @property
    def caches(self) -> Path:
        folder = self.scratch / "caches"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    # -- the doubles -------------------------------------------------------------------------------

    def checkout(self, step: StepContext, inputs: dict[str, Any]) -> dict[str, str]:
        github = step.runner.github
        sha = str(inputs.get("ref") or github["sha"])
        depth = int(str(inputs.get("fetch-depth", "1")) or "1")
        git = self._git(step.workspace)
        git("init", "--quiet")
        git("remote", "add", "origin", self.origin.as_uri())
        if depth == 0:
            git("fetch", "--quiet", "--no-tags", "origin", "+refs/heads/*:refs/remotes/origin/*")
        else:
            branch = str(github.get("head_ref") or github.get("ref", "")).removeprefix("refs/heads/") or "main"
            git("fetch", "--quiet", "--no-tags", f"--depth={depth}", "origin", f"+{sha}:refs/remotes/origin/{branch}")
        git("checkout", "--quiet", "--detach", sha)
        return {}

    def setup_python(self, step: StepContext, inputs: dict[str, Any]) -> dict[str, str]:
        assert str(inputs.get("python-version")) == "3.11", inputs
        tools = step.workspace.parent / "tools"
        tools.mkdir(exist_ok=True)
        _script(tools / "python", '#!/bin/sh\nif [ "$1" = "-m" ] && [ "$2" = "pip" ]; then\n'
                                  '  echo "$*" >> "$PIP_LOG"; exit 0\nfi\n'
                                  f'exec "{sys.executable}" "$@"\n')
        _script(tools / "paybill", f'#!/bin/sh\nexec "{sys.executable}" -m paybill "$@"\n')
        _add_path(step, tools)
        return {"python-version": "3.11.7"}

    def setup_terraform(self, step: StepContext, inputs: dict[str, Any]) -> dict[str, str]:
        assert str(inputs.get("terraform_wrapper")) == "false", "paybill reads terraform's own output"
        tools = step.workspace.parent / "terraform-bin"
        tools.mkdir(exist_ok=True)
        _script(tools / "terraform", f'#!/bin/sh\nexec "{sys.executable}" "{FAKE_TERRAFORM}" "$@"\n')
        _add_path(step, tools)
        return {}

    def upload(self, step: StepContext, inputs: dict[str, Any]) -> dict[str, str]:
        name, source = str(inputs["name"]), step.workspace / str(inputs["path"])
        store = self.artifacts(str(step.runner.github["run_id"])) / name
        if store.exists() and str(inputs.get("overwrite", "false")) == "true":
            shutil.rmtree(store)
        if store.exists():
            raise StepFailed(f"an artifact named {name} already exists in this run (v4 artifacts are immutable)")
        if not source.exists():
            if str(inputs.get("if-no-files-found", "warn")) == "error":
                raise StepFailed(f"no files found at {inputs['path']}")
            return {}
        if source.is_dir():
            shutil.copytree(source, store)
        else:
            store.mkdir()
            shutil.copy2(source, store / source.name)
        return {"artifact-id": name}

    def cache_save(self, step: StepContext, inputs: dict[str, Any]) -> dict[str, str]:
        key, source = str(inputs["key"]), step.workspace / str(inputs["path"])
        stored = self.caches / key
        if stored.exists():
            return {}  # GitHub: "Unable to reserve cache with key ...": a warning, the step succeeds
        if not source.is_dir():
            raise StepFailed(f"Path Validation Error: {inputs['path']} does not exist")
        shutil.copytree(source, stored / "content", symlinks=True)
        (stored / "order").write_text(str(len(list(self.caches.iterdir()))), encoding="utf-8")
        return {}

    def cache_restore(self, step: StepContext, inputs: dict[str, Any]) -> dict[str, str]:
        key = str(inputs["key"])
        matched: str | None = key if (self.caches / key).exists() else None
        if matched is None:
            prefixes = [p.strip() for p in str(inputs.get("restore-keys") or "").splitlines() if p.strip()]
            for prefix in prefixes:
                found = [c for c in self.caches.iterdir() if c.name.startswith(prefix)]
                if found:
                    newest = max(found, key=lambda c: int((c / "order").read_text(encoding="utf-8")))
                    matched = newest.name
                    break
        if matched is None:
            return {"cache-hit": "false"}
        target = step.workspace / str(inputs["path"])
        shutil.copytree(self.caches / matched / "content", target, symlinks=True, dirs_exist_ok=True)
        return {"cache-hit": "true" if matched == key else "false", "cache-primary-key": key,
                "cache-matched-key": matched}

    def download(self, step: StepContext, inputs: dict[str, Any]) -> dict[str, str]:
        store = self.artifacts(str(step.runner.github["run_id"]))
        target = step.workspace / str(inputs.get("path") or ".")
        if inputs.get("name"):
            found = store / str(inputs["name"])
            if not found.exists():
                raise StepFailed(f"Artifact not found for name: {inputs['name']}")
            shutil.copytree(found, target, dirs_exist_ok=True)
            return {"download-path": str(target)}
        pattern = str(inputs.get("pattern") or "*")
        merge = str(inputs.get("merge-multiple", "false")) == "true"
        for artifact in sorted(p for p in store.iterdir() if fnmatch.fnmatchcase(p.name, pattern)):
            shutil.copytree(artifact, target if merge else target / artifact.name, dirs_exist_ok=True)
        return {"download-path": str(target)}

    def github_script(self, step: StepContext, inputs: dict[str, Any]) -> dict[str, str]:
        node = shutil.which("node")
        assert node is not None, "node is needed to run actions/github-script's JavaScript (Node 20 is on the machine)"
        folder = step.workspace.parent
        (folder / "harness.js").write_text(GITHUB_SCRIPT_HARNESS, encoding="utf-8")
        (folder / "script.js").write_text(str(inputs["script"]), encoding="utf-8")
        github = step.runner.github
        owner, repo = str(github["repository"]).split("/")
        number = github.get("event", {}).get("pull_request", {}).get("number")
        context = {"repo": {"owner": owner, "repo": repo}, "issue": {"owner": owner, "repo": repo, "number": number}}
        state = folder / "github-state.json"
        state.write_text(json.dumps({"comments": self.comments, "calls": [], "context": context}), encoding="utf-8")
        done = subprocess.run([node, str(folder / "harness.js"), str(folder / "script.js"), str(state)],
                              cwd=step.workspace, capture_output=True, text=True, check=False, timeout=60)
        if done.returncode != 0:
            raise StepFailed(done.stdout + done.stderr)
        after = json.loads(state.read_text(encoding="utf-8"))
        self.comments[:] = after["comments"]
        self.calls += after["calls"]
        return {}

    def _git(self, cwd: Path) -> Any:
        def git(*args: str) -> str:
            done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False,
                                  env=self.git_env)
            if done.returncode != 0:
                raise StepFailed(f"git {' '.join(args)}: {done.stderr}")
            return done.stdout
        return git


def _script(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    path.chmod(0o755)


def _add_path(step: StepContext, folder: Path) -> None:
    with open(step.env["GITHUB_PATH"], "a", encoding="utf-8") as handle:
        handle.write(f"{folder}\n")
