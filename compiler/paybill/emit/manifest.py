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
from collections.abc import Callable, Iterable, Iterator, Mapping
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


DigestOf = Callable[[str], "str | None"]
"""Path -> ``sha256:<hex>`` of that output file (None: not in the tree)."""


def _removed(model: ResolvedModel, decommissioned: Mapping[str, RemovedInfo], digest_of: DigestOf
             ) -> Iterator[dict[str, Any]]:
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
            digest = digest_of(info.path)
            entry.update({
                "path": info.path,
                "hash": stack_hash({info.path: digest}) if digest is not None else None,
                "resources": info.resources,
                "unprotect": list(info.unprotect),
            })
        yield entry


# The manifest is rendered piece by piece, each piece by orjson with the same options as the whole
# document (sorted keys, two-space indent) and indented to its depth: the same bytes as one
# ``orjson.dumps`` of the whole document (tests/compile/test_compile_pipeline.py re-renders it),
# without ever holding the document. At 100,000 tenants the document was ~200 MB of dicts and lists
# and its bytes 96 MB more, at the end of the compile, when the process is at its largest.

def _value(value: Any, depth: int) -> bytes:
    """``value`` rendered as it appears at ``depth`` (JSON strings hold no raw newline, so re-indenting is safe)."""
    return orjson.dumps(value, option=_OPTIONS).replace(b"\n", b"\n" + b"  " * depth)


def _list(items: Iterable[Any], depth: int) -> Iterator[bytes]:
    """A JSON array at ``depth`` whose elements are rendered one at a time."""
    pad = b"\n" + b"  " * (depth + 1)
    first = True
    for item in items:
        yield (b"[" if first else b",") + pad + _value(item, depth + 1)
        first = False
    yield b"[]" if first else b"\n" + b"  " * depth + b"]"


def _object(fields: Iterable[tuple[str, Iterable[bytes]]], depth: int) -> Iterator[bytes]:
    """A JSON object at ``depth``; ``fields`` come in key order, each value as rendered pieces."""
    pad = b"\n" + b"  " * (depth + 1)
    first = True
    for key, pieces in fields:
        yield (b"{" if first else b",") + pad + orjson.dumps(key) + b": "
        yield from pieces
        first = False
    yield b"{}" if first else b"\n" + b"  " * depth + b"}"


def _one(value: Any, depth: int) -> Iterator[bytes]:
    yield _value(value, depth)


def manifest_chunks(ctx: EmitContext, tree: Mapping[str, bytes]) -> Iterator[bytes]:
    """The bytes of ``manifest.json`` for ``tree`` (its own ``manifest.json``, if any, left out), in pieces.

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
    listed = frozenset(paths)

    def digest_of(path: str) -> str | None:
        return "sha256:" + known[path].hex() if path in listed else None

    stack_files = _stack_files(tree, paths, [info.address for info in infos])
    grouped: dict[int, list[str]] = {}
    for info in infos:
        grouped.setdefault(waves.get(stack_node_id(info.address), 1), []).append(info.address)

    def stacks() -> Iterator[dict[str, Any]]:
        for info in infos:
            files = stack_files[info.address] or [info.path]
            yield {
                "address": info.address,
                "kind": info.kind,
                "cloud": info.cloud,
                "provider": info.provider,
                "sources": list(info.sources),
                "dependsOn": list(info.depends_on),
                "wave": waves.get(stack_node_id(info.address), 1),
                "resources": info.resources,
                "files": files,
                "hash": stack_hash({f: d for f in files if (d := digest_of(f)) is not None}),
            }

    decommissioned = {info.address: info for info in (terraform.decommissioned if terraform is not None else [])}
    claimed = {f for files in stack_files.values() for f in files} | {info.path for info in decommissioned.values()}
    outputs: dict[str, list[str]] = {}
    for path in paths:
        if path not in claimed:
            outputs.setdefault(path.split("/", 1)[0] if "/" in path else ".", []).append(path)

    def output_group(group: list[str]) -> Iterator[bytes]:
        yield from _object(((path, _one(digest_of(path), 3)) for path in group), 2)

    inputs = {doc.path: "sha256:" + doc.text_hash for doc in index.all_documents() if doc.text_hash}
    fields: list[tuple[str, Iterable[bytes]]] = [
        ("apiVersion", _one(API_VERSION, 1)),
        ("generatedBy", _one("paybill", 1)),
        ("inputs", _one(inputs, 1)),
        ("kind", _one("Manifest", 1)),
        ("outputs", _object(((top, output_group(outputs[top])) for top in sorted(outputs)), 1)),
        ("removed", _list(_removed(ctx.model(), decommissioned, digest_of), 1)),
        ("stacks", _list(stacks(), 1)),
        ("waves", _one([sorted(grouped[w]) for w in sorted(grouped)], 1)),
    ]
    yield from _object(fields, 0)
    yield b"\n"


MANIFEST_CHUNK = 4 << 20
"""Bytes of manifest text gathered before one write, when the manifest is written as it is rendered."""


def _gathered(pieces: Iterable[bytes]) -> Iterator[bytes]:
    """``pieces`` joined into chunks of about :data:`MANIFEST_CHUNK` bytes.

    Each piece is copied out at once: orjson allocates about 4 KB for every result, however short,
    so holding the pieces of one chunk (a digest string each: ~80 bytes of text) took 50 times
    their size, and ``b"".join`` of the whole manifest's pieces would have taken about 1 GB.
    """
    buffer = bytearray()
    for piece in pieces:
        buffer += piece
        if len(buffer) >= MANIFEST_CHUNK:
            yield bytes(buffer)
            buffer.clear()
    if buffer:
        yield bytes(buffer)


def emit_manifest(ctx: EmitContext) -> OutputTree:
    """``manifest.json``; when the compile streams its output (``ctx.writer``) it is written as it is
    rendered, and only its size and digest stay (``ctx.written``, ``ctx.digests``)."""
    chunks = manifest_chunks(ctx, ctx.tree)
    if ctx.writer is None:
        return {MANIFEST_PATH: b"".join(_gathered(chunks))}
    written = ctx.writer.write_stream(MANIFEST_PATH, _gathered(chunks))
    ctx.written[MANIFEST_PATH] = written
    ctx.digests[MANIFEST_PATH] = written.digest
    return {}


MANIFEST_EMITTER = Emitter(name="manifest", emit=emit_manifest)
