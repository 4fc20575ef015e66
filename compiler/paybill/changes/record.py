"""What a successful compile of one set of spec files produced: the manifest's hash and the diagnostics.

``paybill plan`` can skip compiling the head side of a change when the head commit carries its
compiled ``generated/`` (CI's ``compile --check`` refuses a pull request without a fresh one), but
only with proof that the committed tree is what *this* compiler makes of the head's specs, and
with the warnings that compile reported (a plan lists them). A committed ``manifest.json`` alone
proves neither: anyone can write one. So every ``paybill compile`` that succeeds (and every
``compile --check`` that finds the folder fresh) leaves a record in the cache folder
(:mod:`paybill.store`: stamped with the compiler's own source digest, so another compiler's record
is foreign), named by a digest of its inputs (each spec file's display path and the SHA-256 of its
bytes, exactly as the manifest's ``inputs`` lists them) and holding:

* the SHA-256 of the ``manifest.json`` it produced (every stack file, SQL folder, bundle and
  entitlement is covered by a hash in it, so the manifest's hash stands for the whole tree);
* the diagnostics it reported (warnings only: a compile with an error leaves no record).
* the git blob id of each input (:func:`~paybill.load.document.git_blob_id`: the SHA-1 git gives
  those very bytes), so ``paybill plan`` can tell that a commit's spec files are exactly these
  inputs from ``git ls-tree`` alone, without reading and hashing ~10,000 blobs.

A plan that finds a record for the head manifest's inputs, with that manifest's hash, knows the
head's tree and warnings without compiling (:mod:`paybill.plan.committed`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from paybill import store
from paybill.diagnostics import Diagnostic, Position, Severity

NAMESPACE = "compile-record"
_Row = tuple[str, str, str, int, int, str | None, str]


@dataclass(frozen=True)
class CompileRecord:
    manifest_sha256: str
    """Hex SHA-256 of the ``manifest.json`` bytes the compile produced."""
    diagnostics: tuple[Diagnostic, ...]
    """The compile's diagnostics, in its order (no errors: only a successful compile records)."""
    blob_ids: Mapping[str, str]
    """Display path -> git blob id of the bytes the compile parsed, for exactly the inputs' files
    (empty when the compile did not know them all: then it proves nothing by blob id)."""


def inputs_digest(inputs: Mapping[str, str]) -> str:
    """One name for a set of inputs: display path -> ``sha256:<hex>`` of the file's bytes."""
    keys = sorted(inputs)  # str -> str: "path\tdigest\n" per input, without a frame per line (paths
    # sorted as strings, not as (path, digest) tuples: ~15% less of a ~5 ms sort at 10,000 tenants)
    lines = "\n".join(map("\t".join, zip(keys, map(inputs.__getitem__, keys), strict=True))) + "\n" if keys else ""
    return hashlib.sha256(lines.encode("utf-8", "surrogateescape")).hexdigest()


def _row(d: Diagnostic) -> _Row:
    return (d.code, d.message, d.path, d.position.line, d.position.col, d.hint, d.severity.value)


def save_record(folder: Path | None, inputs: Mapping[str, str], manifest_sha256: str,
                diagnostics: Sequence[Diagnostic], blob_ids: Mapping[str, str] | None = None) -> bool:
    """Record a successful compile (never raises; False when nothing could be written or it had errors).

    ``manifest_sha256``: hex SHA-256 of the ``manifest.json`` bytes it produced (the compile knows it
    without reading back a manifest it wrote as it rendered it). ``blob_ids``: display path -> git
    blob id of each input's bytes; kept only when it names every input and nothing else."""
    if folder is None or any(d.severity is Severity.ERROR for d in diagnostics):
        return False
    blobs = dict(blob_ids or {})
    if blobs.keys() != inputs.keys() or not all(blobs.values()):
        blobs = {}
    value = (manifest_sha256, [_row(d) for d in diagnostics], dict(sorted(blobs.items())))
    return store.write(folder, store.key(NAMESPACE, inputs_digest(inputs)), value)


def load_record(folder: Path | None, inputs: Mapping[str, str]) -> CompileRecord | None:
    """The record of a successful compile of exactly ``inputs`` by this compiler, or None."""
    saved = store.read(folder, store.key(NAMESPACE, inputs_digest(inputs)))
    if not isinstance(saved, tuple) or len(saved) != 3 or not isinstance(saved[1], list) \
            or not isinstance(saved[2], dict):
        return None  # absent, or a well-formed entry of another shape: not ours
    digest: object = saved[0]
    blobs: dict[object, object] = saved[2]
    # every value a non-empty str (marshal makes no str subclass): checked at C speed, ~10,000 per record
    if blobs and (blobs.keys() != inputs.keys() or not set(map(type, blobs.values())) <= {str}
                  or not all(blobs.values())):
        return None
    try:
        diagnostics = tuple(Diagnostic(code, message, path, Position(line, col), hint, Severity(severity))
                            for code, message, path, line, col, hint, severity in saved[1])
    except (TypeError, ValueError):
        return None
    if not isinstance(digest, str) or any(d.severity is Severity.ERROR for d in diagnostics):
        return None
    # the keys are the inputs' (display paths), the values were checked above: the entry's own dict
    return CompileRecord(digest, diagnostics, cast(dict[str, str], blobs))


__all__ = ["CompileRecord", "inputs_digest", "load_record", "save_record"]
