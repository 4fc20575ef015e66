"""What ``paybill plan`` reads of a committed ``manifest.json``, kept by the compile that wrote it.

A plan from two commits' committed trees (:mod:`paybill.plan.committed`) needs, of each side's
manifest, only its ``inputs`` (to find and check that side's compile record), each stack's address,
files, hash and ``dependsOn``, and the digests of the SQL catalogs. At 10,000 tenants the manifest is
9.5 MB: reading both sides' from git (``cat-file`` inflates 19 MB), parsing them and hashing them
again for the records was ~0.25 s of CPU, a quarter of a one-tenant ``paybill plan`` process
(issue 14: <= 1 s).

So every compile that leaves a :mod:`~paybill.changes.record` also leaves this entry, named by the
*git blob id* of the manifest bytes it produced (:func:`~paybill.load.document.git_blob_id`) and
holding the manifest's SHA-256 and those facts. ``git diff-tree`` already lists both sides' blob ids
of ``manifest.json`` when it lists what changed, so the plan finds each side's entry without reading a
manifest: an equal blob id proves the committed manifest holds exactly the bytes the facts were taken
from (git names objects by it, as the records' blob ids of spec files rely on). The entry is stamped
with the compiler's source digest and checked by its own digest like every cache entry
(:mod:`paybill.store`); absent, damaged, foreign or of another shape, the plan reads and parses the
manifests as before (same report: ``tests/review/test_plan_committed.py``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

from paybill import store
from paybill.load.document import git_blob_id

NAMESPACE = "manifest-index"
MAX_INDEXED_BYTES = 32 << 20
"""A manifest larger than this (about 30,000 tenants) gets no index: parsing it takes about three times
its size in Python objects at the end of the compile, when the compile's memory is at its peak (96 MB at
100,000 tenants cost ~220 MB there, past the 1.5 GB budget of issue 14). A plan then reads such a
manifest from git, as it does for any side without an index."""
_Stack = tuple[str, list[str], str, list[str]]
"""A stack as the plan reads it: address, files, hash, ``dependsOn``."""


def _sql_index(path: str) -> bool:
    """A database's catalog (``sql/<database>/migrations.json``): the only SQL outputs a plan compares."""
    return path.startswith("sql/") and path.endswith("/migrations.json") and path.count("/") == 2


def plan_view(manifest: Mapping[str, Any]) -> dict[str, Any] | None:
    """The part of a manifest document a plan reads, or None when it is not paybill's (no
    ``generatedBy: paybill``, or ``inputs`` not display path -> ``sha256:<hex>``)."""
    if manifest.get("generatedBy") != "paybill":
        return None
    inputs = manifest.get("inputs")
    if not isinstance(inputs, dict) or not all(isinstance(d, str) and d.startswith("sha256:")
                                               for d in inputs.values()):
        return None
    stacks = [{"address": s["address"], "files": s.get("files", []), "hash": s.get("hash"),
               "dependsOn": s.get("dependsOn", [])}
              for s in manifest.get("stacks", []) if isinstance(s, dict) and "address" in s]
    sql = (manifest.get("outputs") or {}).get("sql") or {}
    return {"generatedBy": "paybill", "inputs": inputs, "stacks": stacks,
            "outputs": {"sql": {path: digest for path, digest in sql.items() if _sql_index(path)}}}


def save_manifest_index(folder: Path | None, manifest: bytes, manifest_sha256: str | None = None) -> bool:
    """Keep what a plan reads of ``manifest`` (the bytes a compile produced) under their git blob id
    (never raises; False when nothing was written)."""
    if folder is None or len(manifest) > MAX_INDEXED_BYTES:
        return False
    try:
        document = orjson.loads(manifest)
    except orjson.JSONDecodeError:
        return False
    view = plan_view(document) if isinstance(document, dict) else None
    if view is None:
        return False
    stacks: list[_Stack] = [(s["address"], s["files"], s["hash"], s["dependsOn"]) for s in view["stacks"]]
    value = (manifest_sha256 or hashlib.sha256(manifest).hexdigest(), view["inputs"], stacks,
             view["outputs"]["sql"])
    return store.write(folder, store.key(NAMESPACE, git_blob_id(manifest)), value)


def load_manifest_index(folder: Path | None, blob_id: str) -> tuple[str, dict[str, Any]] | None:
    """(hex SHA-256 of the manifest, :func:`plan_view` of it) for the manifest whose git blob id is
    ``blob_id``, as a compile by this compiler saved it; None when there is no such entry (or it is
    damaged, foreign or not of this shape)."""
    saved = store.read(folder, store.key(NAMESPACE, blob_id))
    if not isinstance(saved, tuple) or len(saved) != 4:
        return None
    digest, inputs, stacks, sql = saved
    if not isinstance(digest, str) or not isinstance(inputs, dict) or not isinstance(stacks, list) \
            or not isinstance(sql, dict):
        return None
    try:
        view = [{"address": address, "files": files, "hash": hash_, "dependsOn": depends}
                for address, files, hash_, depends in stacks]
    except (TypeError, ValueError):
        return None
    return digest, {"generatedBy": "paybill", "inputs": inputs, "stacks": view, "outputs": {"sql": sql}}


__all__ = ["load_manifest_index", "plan_view", "save_manifest_index"]
