"""The base side of an apply: the manifest as it was at the base commit (what is already applied).

A push's ``github.event.before`` is the commit whose ``generated/`` is live; comparing content hashes
with it is what lets a one-tenant merge apply one stack. An absent base (first push of a branch:
empty or all-zero SHA) or a base commit without a manifest means "nothing applied yet": apply every
stack. Any other git failure is an error (PB1202), never read as "apply everything" or "nothing".
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from paybill.apply.errors import BASE, ApplyError, Problem
from paybill.apply.manifest import Manifest, parse_manifest_text

MANIFEST_PATH = "generated/manifest.json"


def no_base(revision: str | None) -> bool:
    """True when the revision says there is no base (GitHub sends 40 zeros for a new branch)."""
    return not revision or set(revision) == {"0"}


def base_manifest(repo: Path, revision: str | None, manifest_path: str = MANIFEST_PATH) -> Manifest | None:
    """The manifest at ``revision`` in ``repo``, or None when there is no base or it has no manifest."""
    if revision is None or no_base(revision):
        return None
    where = f"{revision}:{manifest_path}"
    try:
        exists = subprocess.run(["git", "cat-file", "-e", f"{revision}^{{commit}}"], cwd=repo,
                                capture_output=True, check=False)
        if exists.returncode != 0:
            raise ApplyError([Problem(BASE, manifest_path, f"the base commit {revision} is not in this clone",
                                      "fetch it (actions/checkout with fetch-depth: 2, or 0), or pass no base "
                                      "to apply every stack")])
        shown = subprocess.run(["git", "show", where], cwd=repo, capture_output=True, check=False)
    except OSError as error:
        raise ApplyError([Problem(BASE, manifest_path, f"cannot run git: {error}",
                                  "install git, or pass --previous-manifest")]) from None
    if shown.returncode != 0:
        listed = subprocess.run(["git", "ls-tree", "--name-only", revision, manifest_path], cwd=repo,
                                capture_output=True, text=True, check=False)
        if listed.returncode == 0 and not listed.stdout.strip():
            return None  # the base commit predates generated/: nothing of it is applied
        raise ApplyError([Problem(BASE, manifest_path, f"cannot read {where}: "
                                  f"{shown.stderr.decode(errors='replace').strip()}",
                                  "check the base revision and that the clone has it")])
    return parse_manifest_text(shown.stdout, where)


def checked_out_commit(folder: Path) -> str | None:
    """The commit checked out where ``folder`` is, when ``folder`` is exactly as that commit has it (so the
    results can name what was applied, and a re-run can resume); None outside git or with local changes."""
    def git(*args: str) -> subprocess.CompletedProcess[str] | None:
        try:
            return subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, check=False,
                                  timeout=60)
        except (OSError, subprocess.SubprocessError):
            return None

    head = git("rev-parse", "--verify", "-q", "HEAD")
    sha = head.stdout.strip() if head is not None and head.returncode == 0 else ""
    if not re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", sha):
        return None
    dirty = git("status", "--porcelain", "--", ".")
    return sha if dirty is not None and dirty.returncode == 0 and not dirty.stdout.strip() else None
