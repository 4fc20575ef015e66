"""Real git repositories for review tests: several commits with fixed identities and dates, so
commit hashes (and therefore plan output) are the same on every machine and every run."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

from paybill.cli.main import cli
from paybill.scaffold.init import template_files

EPOCH = 1_767_225_600  # 2026-01-01T00:00:00Z


class MarkdownSnapshot(SingleFileSnapshotExtension):
    """One readable ``.md`` file per snapshot: reviewers read the PR comment as GitHub would show it."""

    file_extension = "md"
    _write_mode = WriteMode.TEXT


@pytest.fixture
def md_snapshot(snapshot):
    return snapshot.use_extension(MarkdownSnapshot)


@pytest.fixture(autouse=True)
def isolated_git(monkeypatch: pytest.MonkeyPatch) -> None:
    """No user or system git configuration leaks into a test (hooks, signing, default branch...)."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("NO_COLOR", "1")
    for key in ("GIT_AUTHOR_DATE", "GIT_COMMITTER_DATE", "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        monkeypatch.delenv(key, raising=False)


class SpecRepo:
    """A git repository seeded with the scaffold's example specs and policies."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tick = 0
        root.mkdir(parents=True, exist_ok=True)
        self.git("init", "--quiet", "--initial-branch=main")
        self.git("config", "user.name", "Platform Bot")
        self.git("config", "user.email", "platform@example.com")
        self.git("config", "commit.gpgsign", "false")

    def git(self, *args: str, env: dict[str, str] | None = None) -> str:
        completed = subprocess.run(["git", *args], cwd=self.root, capture_output=True, text=True, check=False,
                                   env={**os.environ, **(env or {})})
        assert completed.returncode == 0, f"git {' '.join(args)}: {completed.stderr}"
        return completed.stdout

    def seed(self) -> SpecRepo:
        for rel, data in template_files().items():
            if rel.startswith(("specs/", "policies/")):
                self.write(rel, data.decode())
        return self

    def path(self, rel: str) -> Path:
        return self.root / rel

    def read(self, rel: str) -> str:
        return self.path(rel).read_text(encoding="utf-8")

    def write(self, rel: str, text: str) -> None:
        self.path(rel).parent.mkdir(parents=True, exist_ok=True)
        self.path(rel).write_text(text, encoding="utf-8")

    def edit(self, rel: str, old: str, new: str, count: int = 1) -> None:
        text = self.read(rel)
        assert old in text, f"{old!r} not in {rel}"
        self.write(rel, text.replace(old, new, count))

    def remove(self, rel: str) -> None:
        self.path(rel).unlink()

    def commit(self, message: str, author: tuple[str, str] = ("Alice Admin", "alice@example.com")) -> str:
        self.tick += 1
        stamp = f"{EPOCH + self.tick * 86_400} +0000"
        env = {"GIT_AUTHOR_NAME": author[0], "GIT_AUTHOR_EMAIL": author[1], "GIT_AUTHOR_DATE": stamp,
               "GIT_COMMITTER_NAME": "Platform Bot", "GIT_COMMITTER_EMAIL": "platform@example.com",
               "GIT_COMMITTER_DATE": stamp}
        self.git("add", "-A")
        self.git("commit", "--quiet", "-m", message, env=env)
        return self.head()

    def head(self) -> str:
        return self.git("rev-parse", "HEAD").strip()


@pytest.fixture
def repo(tmp_path: Path) -> SpecRepo:
    spec_repo = SpecRepo(tmp_path / "platform").seed()
    spec_repo.commit("Initial specs")
    return spec_repo


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch):
    """Run the paybill CLI in-process inside a directory; returns (exit code, stdout, stderr)."""

    def invoke(cwd: Path, *args: str) -> tuple[int, str, str]:
        monkeypatch.chdir(cwd)
        result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
        return result.exit_code, result.stdout, result.stderr

    return invoke
