"""Create ``paybill/<agent>/<slug>`` with one commit, without touching the user's checkout.

The tree is built with git plumbing through a *temporary index file* (``GIT_INDEX_FILE``):
``read-tree`` of the base commit, ``update-index --cacheinfo`` for each edited file (blobs written
with ``hash-object -w``), ``write-tree``, ``commit-tree``. Then ``update-ref`` creates the branch,
refusing if it appeared meanwhile. The work tree, the real index and HEAD are never read or written,
so uncommitted work is safe and the current branch never moves.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass

from paybill.gitio.repo import GitError, GitRepo

PROTECTED = frozenset({"main", "master"})
ZERO = "0" * 40
_SLUG = re.compile(r"[^a-z0-9]+")
MAX_SLUG = 48


def slugify(message: str) -> str:
    """``Upgrade Acme to growth!`` -> ``upgrade-acme-to-growth``; never empty."""
    first = message.strip().splitlines()[0] if message.strip() else ""
    slug = _SLUG.sub("-", first.lower()).strip("-")[:MAX_SLUG].rstrip("-")
    return slug or "change"


def free_branch(repo: GitRepo, agent: str, slug: str) -> str:
    """``paybill/<agent>/<slug>``, with ``-2``, ``-3``... when taken (proposals never overwrite)."""
    base = f"paybill/{agent}/{slug}"
    name, n = base, 1
    while repo.branch_exists(name):
        n += 1
        name = f"{base}-{n}"
    return name


@dataclass(frozen=True, slots=True)
class Identity:
    name: str
    email: str


def commit_message(message: str, agent: str, body: list[str]) -> str:
    text = message.strip()
    if body:
        text += "\n\n" + "\n".join(body)
    return text + f"\n\nPaybill-Agent: {agent}\n"


def create_branch(repo: GitRepo, base_commit: str, files: dict[str, bytes], branch: str, message: str,
                  author: Identity, committer: Identity | None = None) -> str:
    """Commit ``files`` (repository path -> bytes) on top of ``base_commit`` as ``branch``; returns the sha."""
    current = repo.current_branch()
    if branch in PROTECTED or branch == current or not branch.startswith("paybill/"):
        raise GitError(f"refusing to commit to '{branch}': proposals only create paybill/<agent>/<slug> branches")
    committer = committer or author
    modes = {e.path: e.mode for e in repo.ls_tree(base_commit, "")}
    with tempfile.TemporaryDirectory(prefix="paybill-propose-") as tmp:
        env = {"GIT_INDEX_FILE": os.path.join(tmp, "index")}
        repo.run("read-tree", base_commit, env=env)
        for path, data in sorted(files.items()):
            blob = repo.run("hash-object", "-w", "--stdin", stdin=data).strip()
            mode = modes.get(path, "100644")
            repo.run("update-index", "--add", "--cacheinfo", f"{mode},{blob},{path}", env=env)
        tree = repo.run("write-tree", env=env).strip()
    identity = {
        "GIT_AUTHOR_NAME": author.name, "GIT_AUTHOR_EMAIL": author.email,
        "GIT_COMMITTER_NAME": committer.name, "GIT_COMMITTER_EMAIL": committer.email,
    }
    for key in ("GIT_AUTHOR_DATE", "GIT_COMMITTER_DATE"):
        if key in os.environ:
            identity[key] = os.environ[key]
    commit = repo.run("commit-tree", tree, "-p", base_commit, stdin=message.encode("utf-8"), env=identity).strip()
    repo.run("update-ref", "-m", f"paybill propose: {branch}", f"refs/heads/{branch}", commit, ZERO)
    return commit


def committer_identity(repo: GitRepo) -> Identity | None:
    """The user's configured git identity (the person running the agent), if any."""
    name = os.environ.get("GIT_COMMITTER_NAME") or _config(repo, "user.name")
    email = os.environ.get("GIT_COMMITTER_EMAIL") or _config(repo, "user.email")
    return Identity(name, email) if name and email else None


def _config(repo: GitRepo, key: str) -> str | None:
    try:
        return repo.run("config", "--get", key).strip() or None
    except GitError:
        return None
