"""Create ``paybill/<agent>/<slug>`` with one commit, without touching the user's checkout.

The tree is built with git plumbing through a *temporary index file* (``GIT_INDEX_FILE``):
``read-tree`` of the base commit, one ``update-index --index-info`` for every added, changed and
removed file (blobs written by one ``hash-object -w --stdin-paths``), ``write-tree``, ``commit-tree``.
Then ``update-ref`` creates the branch, refusing if it appeared meanwhile. The work tree, the real
index and HEAD are never read or written, so uncommitted work is safe and the current branch never moves.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping
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


def create_branch(repo: GitRepo, base_commit: str, files: Mapping[str, bytes | None], branch: str, message: str,
                  author: Identity, committer: Identity | None = None) -> str:
    """Commit ``files`` (repository path -> bytes, or None to remove the file) on top of ``base_commit``
    as ``branch``; returns the sha."""
    current = repo.current_branch()
    if branch in PROTECTED or branch == current or not branch.startswith("paybill/"):
        raise GitError(f"refusing to commit to '{branch}': proposals only create paybill/<agent>/<slug> branches")
    committer = committer or author
    modes = {e.path: e.mode for e in repo.ls_tree(base_commit, "")}
    written = sorted(path for path, data in files.items() if data is not None)
    with tempfile.TemporaryDirectory(prefix="paybill-propose-") as tmp:
        blobs = _write_blobs(repo, [files[path] or b"" for path in written], tmp)
        lines = [f"{modes.get(path, '100644')} {blob}\t{path}" for path, blob in zip(written, blobs, strict=True)]
        lines += [f"0 {ZERO}\t{path}" for path, data in sorted(files.items()) if data is None and path in modes]
        env = {"GIT_INDEX_FILE": os.path.join(tmp, "index")}
        repo.run("read-tree", base_commit, env=env)
        if lines:
            repo.run("update-index", "-z", "--index-info", stdin="".join(line + "\0" for line in lines).encode(),
                     env=env)
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


def _write_blobs(repo: GitRepo, contents: list[bytes], scratch: str) -> list[str]:
    """Write blobs into the object store with one ``hash-object --stdin-paths`` (a proposal that
    recompiles ``generated/`` may carry thousands of files; one git process each would dominate)."""
    if not contents:
        return []
    folder = os.path.join(scratch, "blobs")
    os.mkdir(folder)
    paths = []
    for n, data in enumerate(contents):
        path = os.path.join(folder, str(n))
        with open(path, "wb") as handle:
            handle.write(data)
        paths.append(path)
    feed = "".join(p + "\n" for p in paths).encode()
    out = repo.run("hash-object", "-w", "--no-filters", "--stdin-paths", stdin=feed)
    blobs = out.split()
    if len(blobs) != len(contents):
        raise GitError(f"git hash-object wrote {len(blobs)} of {len(contents)} blobs")
    return blobs


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
