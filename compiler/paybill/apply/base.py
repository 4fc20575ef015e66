"""The base side of an apply: the manifest as it was at the base commit (what is already applied).

A push's ``github.event.before`` is the commit whose ``generated/`` is live; comparing content hashes
with it is what lets a one-tenant merge apply one stack. An absent base (first push of a branch:
empty or all-zero SHA) or a base commit without a manifest means "nothing applied yet": apply every
stack. Any other git failure is an error (PB1202), never read as "apply everything" or "nothing".
"""

from __future__ import annotations

import contextlib
import posixpath
import re
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

import orjson

from paybill.apply.errors import BASE, STATE_MOVES, ApplyError, Problem
from paybill.apply.manifest import Manifest, Stack, parse_manifest_text
from paybill.contract.files import read_regular

MANIFEST_PATH = "generated/manifest.json"


def no_base(revision: str | None) -> bool:
    """True when the revision says there is no base (GitHub sends 40 zeros for a new branch)."""
    return not revision or set(revision) == {"0"}


def resolve_base(repo: Path, revision: str | None, manifest_path: str = MANIFEST_PATH) -> str | None:
    """The full commit id ``revision`` names in ``repo`` (``HEAD~1``, a branch, a short id), or None when
    there is no base; PB1202 when the clone does not have it.

    The job plan records this id, not the name it was given: ``HEAD~1`` or ``main`` name another
    commit tomorrow, and the plan is an artifact read after the run (which commit was the base of
    this apply?). Every later read of the base (its manifest, its stack files) uses the id too, so a
    ref that moves during the run cannot mix two bases.
    """
    if revision is None or no_base(revision):
        return None
    try:
        found = subprocess.run(["git", "rev-parse", "--verify", "-q", "--end-of-options", f"{revision}^{{commit}}"],
                               cwd=repo, capture_output=True, text=True, check=False)
    except OSError as error:
        raise ApplyError([Problem(BASE, manifest_path, f"cannot run git: {error}",
                                  "install git, or pass --previous-manifest")]) from None
    commit = found.stdout.strip()
    if found.returncode != 0 or not re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", commit):
        raise ApplyError([Problem(BASE, manifest_path, f"the base commit {revision} is not in this clone",
                                  "fetch it (actions/checkout with fetch-depth: 2, or 0), or pass no base "
                                  "to apply every stack")])
    return commit


def base_manifest(repo: Path, revision: str | None, manifest_path: str = MANIFEST_PATH) -> Manifest | None:
    """The manifest at ``revision`` in ``repo``, or None when there is no base or it has no manifest."""
    commit = resolve_base(repo, revision, manifest_path)
    if commit is None:
        return None
    where = f"{revision}:{manifest_path}"
    try:
        shown = subprocess.run(["git", "show", f"{commit}:{manifest_path}"], cwd=repo, capture_output=True,
                               check=False)
    except OSError as error:
        raise ApplyError([Problem(BASE, manifest_path, f"cannot run git: {error}",
                                  "install git, or pass --previous-manifest")]) from None
    if shown.returncode != 0:
        listed = subprocess.run(["git", "ls-tree", "--name-only", commit, manifest_path], cwd=repo,
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


COMMENT_KEY = "//"
"""The top-level key of a stack's ``main.tf.json`` that Terraform ignores: paybill's comment, naming the
stack and the spec files it was compiled from (``sources``)."""


def comment_only_changes(repo: Path, revision: str | None, generated: Path, pairs: Iterable[tuple[Stack, Stack]],
                         manifest_path: str = MANIFEST_PATH) -> set[str]:
    """The addresses, among ``pairs`` of (base, current) stacks, whose configuration differs from the base
    commit's only in the ``//`` comment: nothing for Terraform to apply.

    The manifest's stack ``hash`` is over the files' bytes (and stays so: ``plan`` checks committed stacks
    against it), so a change of the comment alone, such as a tenant whose finished pooled-to-silo migration
    drops ``placement.pool`` (its pool leaves ``sources``), changed the hash and scheduled a no-op apply job.
    Only stacks whose ``sources`` changed can differ in their comment alone (the rest of it is constant),
    so only those are read: each file of the base commit (one ``git cat-file --batch``) and on disk, parsed,
    compared without the comment. Anything that cannot be proven equal (no base commit, a file missing,
    unreadable or not JSON, another file list) counts as a change, so a real change is never skipped.
    """
    candidates = [(old, new) for old, new in pairs if old.sources != new.sources and old.files == new.files]
    if not candidates or revision is None or no_base(revision):
        return set()
    prefix = posixpath.dirname(manifest_path)
    names = sorted({_name(revision, prefix, file) for _, new in candidates for file in new.files})
    base_files = _blobs(repo, names)
    same: set[str] = set()
    for _, new in candidates:
        if all(_same_but_comment(base_files.get(_name(revision, prefix, file)), generated / file)
               for file in new.files):
            same.add(new.address)
    return same


def state_moves(repo: Path, revision: str | None, generated: Path, pairs: Iterable[tuple[Stack, Stack]],
                manifest_path: str = MANIFEST_PATH) -> dict[str, tuple[object, object]]:
    """Address -> (base, current) ``terraform.backend`` of the ``pairs`` whose backend changed since the
    base commit: a tenant moved to another cloud or region keeps its stack address, but its state lives
    elsewhere, and ``apply run`` (``init -input=false`` in a fresh checkout) would start there empty,
    create every resource again and leave the old ones, with their data, unmanaged. Only what can be
    read on both sides is compared (no base commit, or a file missing on one side: nothing is said)."""
    pairs = list(pairs)
    if not pairs or revision is None or no_base(revision):
        return {}
    prefix = posixpath.dirname(manifest_path)
    names = sorted({_name(revision, prefix, file) for old, _ in pairs for file in old.files})
    base_files = _blobs(repo, names)
    moved: dict[str, tuple[object, object]] = {}
    for old, new in pairs:
        before = [b for b in (_backend(base_files.get(_name(revision, prefix, f))) for f in old.files) if b]
        after = []
        for file in new.files:
            try:
                after.append(_backend((generated / file).read_bytes()))
            except OSError:
                continue
        after = [b for b in after if b]
        if len(before) == 1 and len(after) == 1 and before[0] != after[0]:
            moved[new.address] = (before[0], after[0])
    return moved


SPEC_FILE_LIMIT = 16 * 1024 * 1024
"""Bytes read of one spec file in the checkout (``paybill compile`` refuses far smaller ones)."""


class SpecFiles(NamedTuple):
    """The spec files a changed tenant stack was compiled from that differ between the base commit and the
    checkout (display path -> bytes; a file on one side only is listed on that side)."""

    base: dict[str, bytes]
    head: dict[str, bytes]
    tenants: tuple[str, ...]
    """The tenants whose stack changed (their documents are in these files when their own file changed)."""


def changed_tenant_specs(repo: Path, revision: str | None, generated: Path, pairs: Iterable[tuple[Stack, Stack]],
                         manifest_path: str = MANIFEST_PATH) -> SpecFiles:
    """The spec files behind the changed tenant stacks of ``pairs`` that differ between ``revision`` and the
    checkout: what the isolation and placement checks of ``paybill plan`` (PB0948, PB0949) need to run
    again on main (:func:`paybill.changes.isolation_moves.unsafe_moves`, which the command calls).

    A tenant's isolation and placement are in its own file, so a tenant whose file is the same on both
    sides moved nothing, and a plan or cloud edit that changes thousands of tenant stacks reads each of
    those files once per side and parses only the few that differ. Files are read, never parsed, here:
    ``apply`` stays free of the compiler. Display paths (``specs/tenants/a.yaml``, a stack's ``sources``)
    are relative to the folder that holds ``generated/``, as in the base commit. A file that cannot be
    read on one side is left out of it: a tenant whose document is then found on the other side only
    cannot be checked, which the check reports (:func:`paybill.changes.isolation_moves.unsafe_moves`).
    """
    tenant_pairs = [(old, new) for old, new in pairs if old.kind == "tenant" and new.kind == "tenant"]
    if not tenant_pairs or revision is None or no_base(revision):
        return SpecFiles({}, {}, ())
    parent = posixpath.dirname(posixpath.dirname(manifest_path))
    base_paths = sorted({source for old, _ in tenant_pairs for source in old.sources})
    head_paths = sorted({source for _, new in tenant_pairs for source in new.sources})
    names = {path: _name(revision, parent, path) for path in base_paths}
    base_blobs = _blobs(repo, sorted(names.values()))
    base = {path: base_blobs[names[path]] for path in base_paths if names[path] in base_blobs}
    head: dict[str, bytes] = {}
    for path in head_paths:
        with contextlib.suppress(OSError):
            head[path] = read_regular(generated.parent / path, SPEC_FILE_LIMIT)
    for path in set(base) & set(head):
        if base[path] == head[path]:
            del base[path], head[path]
    tenants = tuple(sorted(new.address.partition("/")[2] for _, new in tenant_pairs))
    return SpecFiles(base, head, tenants)


def state_move_problems(moved: dict[str, tuple[object, object]], acknowledged: Iterable[str], path: str,
                        base: str | None) -> list[Problem]:
    """PB1211 for every stack of :func:`state_moves` whose migrated state was not acknowledged."""
    done = set(acknowledged)
    return [Problem(STATE_MOVES, path,
                    f"the Terraform state of stack {address} moves since {base}: {describe_backend(before)} -> "
                    f"{describe_backend(after)}; `apply run` would initialise the new backend empty, create the "
                    "stack again and leave the old resources, with their data, unmanaged",
                    "migrate the state first (`terraform init -migrate-state` in the stack's folder; for a tenant "
                    "moving to another cloud, follow the PB0920 runbook: copy the data and decommission the old "
                    f"resources from their own state), then re-run with --state-migrated {address}")
            for address, (before, after) in sorted(moved.items()) if address not in done]


def describe_backend(backend: object) -> str:
    """``s3 bucket=b, key=k, region=r``: a backend block in one line (what ``paybill plan``'s PB0944 says)."""
    if not isinstance(backend, dict) or len(backend) != 1:
        return orjson.dumps(backend, option=orjson.OPT_SORT_KEYS).decode()
    (kind, settings), = backend.items()
    if not isinstance(settings, dict):
        return str(kind)
    shown = [f"{k}={v}" for k, v in sorted(settings.items()) if k in ("bucket", "key", "prefix", "region",
                                                                        "storage_account_name", "container_name",
                                                                        "resource_group_name", "namespace",
                                                                        "path", "workspace_dir")]
    return f"{kind} {', '.join(shown)}" if shown else str(kind)


def _backend(data: bytes | None) -> object | None:
    """The ``terraform.backend`` block of a ``.tf.json`` file, None when it has none or is not JSON."""
    if data is None:
        return None
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    terraform = document.get("terraform") if isinstance(document, dict) else None
    return terraform.get("backend") if isinstance(terraform, dict) else None


def _name(revision: str, prefix: str, file: str) -> str:
    return f"{revision}:{prefix}/{file}" if prefix else f"{revision}:{file}"


def _same_but_comment(before: bytes | None, path: Path) -> bool:
    if before is None:
        return False
    try:
        after = path.read_bytes()
    except OSError:
        return False
    if before == after:
        return True
    old = _without_comment(before)
    return old is not None and old == _without_comment(after)


def _without_comment(data: bytes) -> object | None:
    """A ``.tf.json`` file's configuration without its comment (None when it is not a JSON object)."""
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(document, dict):
        return None
    document.pop(COMMENT_KEY, None)
    return document


def _blobs(repo: Path, names: list[str]) -> dict[str, bytes]:
    """``<revision>:<path>`` -> contents, through one ``git cat-file --batch``; absent names are left out."""
    try:
        done = subprocess.run(["git", "cat-file", "--batch"], cwd=repo, input="".join(f"{n}\n" for n in names).encode(),
                              capture_output=True, check=False, timeout=600)
    except (OSError, subprocess.SubprocessError):
        return {}
    if done.returncode != 0:
        return {}
    out, pos = done.stdout, 0
    found: dict[str, bytes] = {}
    for name in names:
        end = out.find(b"\n", pos)
        if end < 0:
            break
        header = out[pos:end].split(b" ")
        pos = end + 1
        if len(header) != 3 or not header[2].isdigit():
            continue  # "<name> missing": no contents follow
        size = int(header[2])
        if header[1] == b"blob":
            found[name] = out[pos:pos + size]
        pos += size + 1
    return found
