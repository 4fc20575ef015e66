"""``manifest.json``: what was generated, from which specs, in which order to apply it.

Apply tooling reads this file instead of walking the tree:

* ``stacks``: every emitted Terraform stack with its source spec files, the stacks it reads
  (``dependsOn``), its apply ``wave`` (1-based; a wave only needs earlier waves), its files and a
  content ``hash`` (sha256 over ``<path>\\t<sha256 of file>\\n`` lines of its files, sorted).
* ``waves``: stack addresses per wave, in apply order (destroy in reverse).
* ``removed``: stacks of deleted tenants whose destroy is not recorded yet (``spec.decommission``),
  with the state backend, the ``path`` of their decommission configuration
  (``terraform/removed/<kind>/<name>/main.tf.json``: the same resources, protections lifted; see
  :mod:`paybill.emit.terraform.decommission`) and its ``hash``, the resources to ``unprotect`` (apply
  before the destroy), and ``retainUntil`` (``lifecycleSince`` + the plan's ``backupRetentionDays``,
  or null when the tenant has no ``lifecycleSince``): the apply workflow destroys from that day on.
* ``outputs``: every other generated file (agent bundles, SQL, tenant entitlements...), grouped
  generically by top-level folder, path -> sha256, so new emitters appear without changes here.
* ``inputs``: every spec file that went in, path -> sha256 of its bytes.

The manifest describes the whole tree, so the compile pipeline runs it after every other emitter
(see :data:`paybill.compile.pipeline.FINAL_EMITTERS`), handing the tree built so far in
``ctx.tree``. It has no timestamps and no absolute paths: the same specs give the same
bytes. Its ``generatedBy`` marker is what lets ``paybill compile`` replace the folder safely.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import orjson

from paybill import API_VERSION
from paybill.emit.contract import EmitContext, Emitter, OutputTree
from paybill.emit.terraform.backend import backend_block
from paybill.emit.terraform.emitter import RemovedInfo
from paybill.graph.model import DependencyGraph, stack_node_id
from paybill.resolve import ResolvedModel

MANIFEST_PATH = "manifest.json"
_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def stack_hash(files: Mapping[str, str]) -> str:
    """Content hash of a stack from its files' hashes (path -> ``sha256:...``)."""
    lines = "".join(f"{path}\t{digest}\n" for path, digest in sorted(files.items()))
    return sha256(lines.encode())


def _stack_files(tree: Mapping[str, bytes], paths: list[str], addresses: list[str]) -> dict[str, list[str]]:
    """Stack address -> its files (everything under ``terraform/<address>/``)."""
    prefixes = {f"terraform/{address}/": address for address in addresses}
    files: dict[str, list[str]] = {address: [] for address in addresses}
    for path in paths:
        if not path.startswith("terraform/"):
            continue
        folder = path.rpartition("/")[0] + "/"
        address = prefixes.get(folder)
        if address is not None:
            files[address].append(path)
    return files


def _removed(model: ResolvedModel, decommissioned: Mapping[str, RemovedInfo],
             digests: Mapping[str, str]) -> list[dict[str, Any]]:
    entries = []
    for unit in model.removed:
        resolved = model.tenants[unit.owner.name]
        tenant, cloud = resolved.tenant, resolved.cloud
        plan = resolved.plan.plan
        entry: dict[str, Any] = {
            "address": unit.address,
            "kind": unit.kind,
            "cloud": cloud.name,
            "provider": cloud.provider,
            "sources": [unit.owner.path],
            "backend": backend_block(cloud.cloud.spec.state_backend, unit.address),
            "reason": "lifecycle: deleted",
            "lifecycleSince": tenant.spec.lifecycle_since,
            "retainUntil": tenant.retain_until(plan.spec.sizing.database.backup_retention_days),
        }
        info = decommissioned.get(unit.address)
        if info is not None:
            entry.update({
                "path": info.path,
                "hash": stack_hash({info.path: digests[info.path]}) if info.path in digests else None,
                "resources": info.resources,
                "unprotect": list(info.unprotect),
            })
        entries.append(entry)
    return entries


def build_manifest(ctx: EmitContext, tree: Mapping[str, bytes]) -> dict[str, Any]:
    """The manifest document for ``tree`` (its ``manifest.json``, if any, is left out).

    Files are hashed only when ``ctx.digests`` lacks them: a file written early
    (:mod:`paybill.emit.files`) is never read back.
    """
    index = ctx.index
    graph: DependencyGraph | None = ctx.graph
    terraform = ctx.facts.terraform
    infos = sorted(terraform.stacks if terraform is not None else [], key=lambda s: s.address)
    waves = graph.stack_waves() if graph is not None else {}
    # A kept file's digest is in ctx.digests (never read), as is a file written early.
    paths = sorted((tree.keys() | ctx.kept.keys()) - {MANIFEST_PATH})
    known = ctx.digests
    for path in paths:
        if path not in known:
            known[path] = hashlib.sha256(tree[path]).digest()
    digests = {path: "sha256:" + known[path].hex() for path in paths}
    stack_files = _stack_files(tree, paths, [info.address for info in infos])
    stacks: list[dict[str, Any]] = []
    for info in infos:
        files = stack_files[info.address] or [info.path]
        stacks.append({
            "address": info.address,
            "kind": info.kind,
            "cloud": info.cloud,
            "provider": info.provider,
            "sources": list(info.sources),
            "dependsOn": list(info.depends_on),
            "wave": waves.get(stack_node_id(info.address), 1),
            "resources": info.resources,
            "files": files,
            "hash": stack_hash({f: digests[f] for f in files if f in digests}),
        })
    grouped: dict[int, list[str]] = {}
    for entry in stacks:
        grouped.setdefault(entry["wave"], []).append(entry["address"])
    decommissioned = {info.address: info for info in (terraform.decommissioned if terraform is not None else [])}
    claimed = {f for files in stack_files.values() for f in files} | {info.path for info in decommissioned.values()}
    outputs: dict[str, dict[str, str]] = {}
    for path in paths:
        if path not in claimed:
            top = path.split("/", 1)[0] if "/" in path else "."
            outputs.setdefault(top, {})[path] = digests[path]
    inputs = {doc.path: "sha256:" + doc.text_hash for doc in index.all_documents() if doc.text_hash}
    return {
        "apiVersion": API_VERSION,
        "kind": "Manifest",
        "generatedBy": "paybill",
        "inputs": dict(sorted(inputs.items())),
        "stacks": stacks,
        "waves": [sorted(grouped[w]) for w in sorted(grouped)],
        "removed": _removed(ctx.model(), decommissioned, digests),
        "outputs": outputs,
    }


def render_manifest(manifest: dict[str, Any]) -> bytes:
    return orjson.dumps(manifest, option=_OPTIONS) + b"\n"


def emit_manifest(ctx: EmitContext) -> OutputTree:
    tree = ctx.tree
    manifest = build_manifest(ctx, tree)
    ctx.facts.manifest = manifest
    return {MANIFEST_PATH: render_manifest(manifest)}


MANIFEST_EMITTER = Emitter(name="manifest", emit=emit_manifest)
