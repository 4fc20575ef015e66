"""A small, read-mostly view of a git repository, built on GitPython.

Why not walk ``commit.tree`` objects in Python: a 10,000-tenant repository has 10,000 blobs per
side, and GitPython fetches each object through a request/response round trip. One ``ls-tree -r``
and one ``cat-file --batch`` fed every hash at once are an order of magnitude faster and still go
through GitPython's ``Git`` command runner (same executable, same environment handling).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import git
from git.exc import BadName, GitCommandError, InvalidGitRepositoryError, NoSuchPathError

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
"""The hash of git's empty tree: the "base" of a repository's first commit."""


class GitError(Exception):
    """A git problem the user can fix (not a repository, unknown ref). Carries a hint."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass(frozen=True, slots=True)
class Completed:
    """Exit status and output of one git command."""

    returncode: int
    stdout: bytes
    stderr: str


@dataclass(frozen=True, slots=True)
class TreeEntry:
    """One file in a tree: repository-relative path, git mode and blob hash."""

    path: str
    mode: str
    blob: str


class GitRepo:
    """The repository containing a path, with the few operations review needs."""

    def __init__(self, path: Path) -> None:
        try:
            self.repo = git.Repo(path, search_parent_directories=True)
        except (InvalidGitRepositoryError, NoSuchPathError):
            raise GitError(f"'{path}' is not inside a git repository",
                           "run paybill from a clone of your spec repository (git init; git commit)") from None
        if self.repo.working_tree_dir is None:
            raise GitError("the repository is bare; plan needs a work tree or explicit --head")
        self.root = Path(self.repo.working_tree_dir).resolve()

    # -- refs ------------------------------------------------------------------------------------
    def resolve(self, ref: str) -> str:
        """The commit hash ``ref`` names, or :class:`GitError`."""
        try:
            return self.repo.commit(ref).hexsha
        except (BadName, ValueError, GitCommandError):
            raise GitError(f"unknown git revision '{ref}'",
                           "give a branch, tag or commit (git log --oneline shows them)") from None

    def has_commits(self) -> bool:
        try:
            self.repo.head.commit  # noqa: B018 - raises on an unborn branch
        except ValueError:
            return False
        return True

    def default_base(self) -> str | None:
        """The merge base of HEAD with ``origin/main`` (or ``main``); None before the first commit.

        Pull requests are reviewed against what they would merge into; the merge base ignores commits
        that landed on main after the branch was cut, exactly like GitHub's "files changed" view.
        """
        if not self.has_commits():
            return None
        head = self.repo.head.commit
        for candidate in ("origin/main", "main", "origin/master", "master"):
            try:
                other = self.repo.commit(candidate)
            except (BadName, ValueError, GitCommandError):
                continue
            bases = self.repo.merge_base(head, other)
            if bases:
                return bases[0].hexsha
        return head.hexsha

    def current_branch(self) -> str | None:
        try:
            return self.repo.active_branch.name
        except TypeError:  # detached HEAD
            return None

    def branch_exists(self, name: str) -> bool:
        return self._run("show-ref", "--verify", "--quiet", f"refs/heads/{name}", check=False).returncode == 0

    # -- trees and blobs -------------------------------------------------------------------------
    def ls_tree(self, commit: str, prefix: str) -> list[TreeEntry]:
        """Every file below ``prefix`` ('' for all) in ``commit``, sorted by path."""
        args = ["ls-tree", "-r", "-z", "--full-tree", commit]
        if prefix:
            args += ["--", prefix]
        out = self._run(*args).stdout
        entries = []
        for record in out.split(b"\0"):
            if not record:
                continue
            meta, _, path = record.partition(b"\t")
            mode, kind, blob = meta.decode().split(" ")
            if kind != "blob":
                continue
            name = path.decode("utf-8", errors="surrogateescape")
            if prefix and not (name == prefix or name.startswith(prefix.rstrip("/") + "/")):
                continue
            entries.append(TreeEntry(name, mode, blob))
        entries.sort(key=lambda e: e.path)
        return entries

    def read_blobs(self, blobs: Iterable[str]) -> dict[str, bytes]:
        """The contents of many blobs through one ``git cat-file --batch`` process."""
        wanted = sorted(set(blobs))
        if not wanted:
            return {}
        out = self._run("cat-file", "--batch", stdin=("\n".join(wanted) + "\n").encode()).stdout
        result: dict[str, bytes] = {}
        pos = 0
        for sha in wanted:
            end = out.index(b"\n", pos)
            header = out[pos:end].decode().split(" ")
            pos = end + 1
            if len(header) < 3 or header[1] == "missing":
                raise GitError(f"git object {sha} is missing from the repository")
            size = int(header[2])
            result[sha] = out[pos : pos + size]
            pos += size + 1  # the LF after the contents
        return result

    def read_blob(self, blob: str) -> bytes:
        return self.read_blobs([blob])[blob]

    # -- plumbing --------------------------------------------------------------------------------
    def _run(self, *args: str, stdin: bytes | None = None, check: bool = True,
             env: dict[str, str] | None = None) -> Completed:
        """Run git in this repository through GitPython's command runner; bytes in, bytes out."""
        with tempfile.TemporaryFile() as feed:
            if stdin is not None:
                feed.write(stdin)
                feed.seek(0)
            status, out, err = self.repo.git.execute(
                ["git", *args], istream=feed if stdin is not None else None, with_extended_output=True,
                with_exceptions=False, stdout_as_string=False, strip_newline_in_stdout=False, env=env,
            )
        message = err.decode("utf-8", errors="replace") if isinstance(err, bytes) else str(err or "")
        completed = Completed(status, out or b"", message)
        if check and completed.returncode != 0:
            raise GitError(f"git {args[0]} failed: {completed.stderr.strip()}")
        return completed

    def run_bytes(self, *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None) -> bytes:
        """Run git and return its standard output as bytes (raises :class:`GitError`)."""
        return self._run(*args, stdin=stdin, env=env).stdout

    def run(self, *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None) -> str:
        """Run git and return its standard output as text (raises :class:`GitError`)."""
        return self._run(*args, stdin=stdin, env=env).stdout.decode("utf-8", errors="surrogateescape")

    def relative(self, path: Path) -> str:
        """``path`` relative to the work tree root, ``/``-separated ('' for the root itself)."""
        absolute = path.absolute().resolve()
        try:
            rel = absolute.relative_to(self.root).as_posix()
        except ValueError:
            raise GitError(f"'{path}' is outside the repository at '{self.root}'") from None
        return "" if rel == "." else rel
