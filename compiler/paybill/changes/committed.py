"""Use the base side's committed ``generated/`` instead of compiling the base again, when it is fresh.

In a paybill repository ``generated/`` is committed and CI keeps it fresh (``compile --check``): the
base commit's tree *is* what is deployed. Reading it from git objects costs one ``cat-file`` batch;
compiling 10,000 tenants costs tens of seconds. It is used only when it provably belongs to the base
specs: its ``manifest.json`` was written by paybill, lists exactly the base side's spec files with
their sha256 (the input hash), and every stack file matches the content hash the manifest records
(so a hand-edited file is noticed). Otherwise the base is compiled like the head.

Most of those files are usually the same bytes as the head side's compile produces (a one-tenant
change leaves 10,000 other stacks alone): given that tree, a committed file whose git blob hash is
the hash of the head's bytes for that path *is* those bytes (git names blobs by their content), so
it is taken from the head's tree instead of being read from git objects. Every file is still checked
against the manifest, so the result is the same as reading them all.

Besides the stacks, each database's ``sql/<database>/migrations.json`` is read (checked against the
sha256 the manifest's ``outputs.sql`` records): its catalog is what :mod:`paybill.plan.databases`
compares.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
from collections.abc import Mapping
from typing import Any

from paybill.gitio.repo import GitError, GitRepo
from paybill.gitio.snapshot import Snapshot
from paybill.gitio.sources import blob_hash

MANIFEST = "manifest.json"


def file_digest(data: bytes) -> str:
    """A file's digest as the manifest records it (``sha256:<hex>``)."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def stack_hash(files: Mapping[str, str]) -> str:
    """A stack's hash as the manifest records it: over its files' paths and digests, sorted."""
    lines = "".join(f"{path}\t{digest}\n" for path, digest in sorted(files.items()))
    return file_digest(lines.encode())


def generated_prefix(specs_prefix: str) -> str:
    parent = posixpath.dirname(specs_prefix.rstrip("/")) if "/" in specs_prefix else ""
    return posixpath.join(parent, "generated") if parent else "generated"


def _sql_index(path: str) -> bool:
    return path.startswith("sql/") and path.endswith("/migrations.json") and path.count("/") == 2


def committed_terraform(repo: GitRepo, snapshot: Snapshot, prefix: str, known: Mapping[str, bytes] | None = None,
                        digests: Mapping[str, bytes] | None = None) -> tuple[dict[str, bytes] | None, str]:
    """(terraform and database-catalog part of the output tree, why) - the tree is None when it cannot
    be trusted. ``known``: output files the caller holds (path -> bytes, the head side's compiled
    tree); a committed file with the same git blob hash is taken from it rather than read.
    ``digests``: the SHA-256 of some of those files (``CompileResult.digests``), not computed again."""
    if snapshot.commit is None:
        return None, "the base side is not a commit"
    try:
        entries = {e.path[len(prefix) + 1:]: e for e in repo.ls_tree(snapshot.commit, prefix)}
    except GitError:
        return None, f"cannot list {prefix}/"
    if MANIFEST not in entries:
        return None, f"no {prefix}/{MANIFEST} in the base commit"
    manifest: dict[str, Any] = json.loads(repo.read_blob(entries[MANIFEST].blob))
    if manifest.get("generatedBy") != "paybill" or not isinstance(manifest.get("inputs"), dict):
        return None, f"{prefix}/{MANIFEST} was not written by paybill"
    inputs = {doc.path: "sha256:" + doc.text_hash for doc in snapshot.index.all_documents() if doc.text_hash}
    if manifest["inputs"] != inputs:
        return None, f"{prefix}/ in the base commit is stale (its inputs differ from the base specs)"
    wanted = {path: entry for path, entry in entries.items() if path.startswith("terraform/") or _sql_index(path)}
    known, digests = known or {}, digests or {}
    tree: dict[str, bytes] = {}
    hashed: dict[str, str] = {}
    for path, entry in wanted.items():
        data = known.get(path)
        if data is not None and blob_hash(data) == entry.blob:
            tree[path] = data
            if path in digests:
                hashed[path] = "sha256:" + digests[path].hex()
    contents = repo.read_blobs(e.blob for path, e in wanted.items() if path not in tree)
    tree.update((path, contents[entry.blob]) for path, entry in wanted.items() if path not in tree)
    tree = dict(sorted(tree.items()))
    recorded = (manifest.get("outputs") or {}).get("sql") or {}
    for path in sorted(p for p in tree if _sql_index(p)):
        if recorded.get(path) != file_digest(tree[path]):
            return None, f"{prefix}/{path} does not match its manifest hash"
    for stack in manifest.get("stacks", []):
        files = {f: hashed.get(f) or file_digest(tree[f]) for f in stack.get("files", []) if f in tree}
        if len(files) != len(stack.get("files", [])) or stack_hash(files) != stack.get("hash"):
            return None, f"{prefix}/{stack.get('files', ['?'])[0]} does not match its manifest hash"
    return tree, f"committed {prefix}/ of the base commit (fresh)"
