"""A real spec repository driven with the `paybill` command line only, as a user (and CI) would.

Every command runs as a subprocess (``python -m paybill``) in the repository's root; nothing here
imports the compiler. Each check is a small function so a changed detail of an interface is a
one-line fix.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EPOCH = 1_775_001_600  # 2026-04-01T00:00:00Z: commit dates are fixed, one hour apart


@dataclass(frozen=True)
class Result:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def json(self) -> Any:
        return json.loads(self.stdout)

    def describe(self) -> str:
        return f"paybill {' '.join(self.args)} -> {self.returncode}\n{self.stdout[-4000:]}\n{self.stderr[-4000:]}"


@dataclass
class Repo:
    """One git repository, its work tree, and the commands a user runs in it."""

    root: Path
    tick: int = 0

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if k not in {"GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_AUTHOR_DATE", "GIT_COMMITTER_DATE"}}
        env.update(GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1", NO_COLOR="1")
        return env

    def git(self, *args: str, env: dict[str, str] | None = None) -> str:
        done = subprocess.run(["git", *args], cwd=self.root, capture_output=True, text=True, check=False,
                              env={**self.env, **(env or {})})
        assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
        return done.stdout

    def paybill(self, *args: str, expect: int | None = 0, cwd: Path | None = None) -> Result:
        done = subprocess.run([sys.executable, "-m", "paybill", *args], cwd=cwd or self.root, capture_output=True,
                              text=True, check=False, env=self.env, timeout=300)
        result = Result(tuple(args), done.returncode, done.stdout, done.stderr)
        assert "Traceback (most recent call last)" not in result.output, result.describe()
        if expect is not None:
            assert result.returncode == expect, result.describe()
        return result

    # -- files ---------------------------------------------------------------------------------

    def path(self, rel: str) -> Path:
        return self.root / rel

    def read(self, rel: str) -> str:
        return self.path(rel).read_text(encoding="utf-8")

    def edit(self, rel: str, old: str, new: str) -> None:
        text = self.read(rel)
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {rel}"
        self.path(rel).write_text(text.replace(old, new), encoding="utf-8")

    def show(self, rev: str, rel: str) -> str | None:
        done = subprocess.run(["git", "show", f"{rev}:{rel}"], cwd=self.root, capture_output=True, text=True,
                              check=False, env=self.env)
        return done.stdout if done.returncode == 0 else None

    # -- commits -------------------------------------------------------------------------------

    def commit(self, message: str, author: tuple[str, str], trailers: tuple[str, ...] = ()) -> str:
        """Stage the specs, policies and generated/ (what a user commits after `paybill compile`)."""
        self.tick += 1
        date = f"{EPOCH + 3600 * self.tick} +0000"
        name, email = author
        self.git("add", "--all", "--", ".")
        body = message + ("\n\n" + "\n".join(trailers) if trailers else "")
        self.git("-c", f"user.name={name}", "-c", f"user.email={email}", "commit", "--quiet", "-m", body,
                 env={"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date, "GIT_COMMITTER_NAME": name,
                      "GIT_COMMITTER_EMAIL": email})
        return self.git("rev-parse", "HEAD").strip()


# -- reading compiled output -------------------------------------------------------------------

def terraform_calls(log: Path) -> list[dict[str, Any]]:
    """The calls ``tests/apply/fake_terraform.py`` recorded in ``log`` (one JSON object per line), in order."""
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


def manifest_at(repo: Repo, rev: str) -> dict[str, Any]:
    """``generated/manifest.json`` as committed at ``rev``."""
    text = repo.show(rev, "generated/manifest.json")
    assert text is not None, f"no manifest at {rev}"
    return json.loads(text)


def changed_stacks(before: dict[str, Any], after: dict[str, Any]) -> set[str]:
    """Addresses of the stacks whose compiled configuration differs between two manifests (or is new)."""
    old = {s["address"]: s["hash"] for s in before["stacks"]}
    return {s["address"] for s in after["stacks"] if old.get(s["address"]) != s["hash"]}


def walk(value: Any, trail: str = "") -> Iterator[tuple[str, Any]]:
    """Every (path, value) pair of a JSON document, depth first, in document order."""
    yield trail, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from walk(item, f"{trail}.{key}" if trail else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from walk(item, f"{trail}[{i}]")


def protections(config: dict[str, Any]) -> list[str]:
    """Where a Terraform JSON configuration still protects something from `terraform destroy`."""
    found = []
    for trail, value in walk(config):
        leaf = trail.rsplit(".", 1)[-1]
        if value is True and (leaf == "prevent_destroy" or "deletion_protection" in leaf):
            found.append(trail)
    return found


def stack_backend(config: dict[str, Any]) -> dict[str, Any]:
    backend = config["terraform"]["backend"]
    assert isinstance(backend, dict) and len(backend) == 1, backend
    return backend
