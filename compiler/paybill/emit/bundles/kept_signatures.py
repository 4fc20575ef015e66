"""Checking a signed output tree without the private key (``paybill compile --check --public-key``).

A signed tree differs from an unsigned compile only in the bundle manifests' ``signature`` members
(and in ``manifest.json``, which lists the bundle manifests' digests). CI should not hold the
signing key to prove the tree fresh, so the check compiles unsigned and, for each agent, takes the
``signature`` member of the manifest already in the output folder: it is attached to the freshly
compiled manifest only when it verifies over that fresh manifest with a trusted public key. The
result is exactly a tree a signed compile could have written, and it is compared byte for byte
with the folder as usual, so:

* a stale bundle (specs changed since it was signed): its signature does not cover the fresh
  manifest and is not attached; the manifest (and any changed file) differs;
* an edited manifest or a swapped-in signature: the on-disk bytes differ from the fresh signed
  ones, or the signature does not verify;
* a bundle signed by an untrusted key, or not signed: nothing is attached; the check refuses
  (:func:`signature_problems` says why, for each bundle).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from paybill.contract.bundle import MANIFEST_FILE
from paybill.guard.files import read_regular
from paybill.guard.signing import TrustedKeys, check_signature

BUNDLES_FOLDER = "bundles"
MAX_MANIFEST_BYTES = 1024 * 1024
"""A bundle manifest is a few KiB (one digest per spec file the agent reads); larger is not one."""


@dataclass(frozen=True)
class KeptSignatures:
    """The ``signature`` members of the bundle manifests in the output folder (agent -> member) and
    the public keys one must verify with before it is kept on a freshly compiled manifest."""

    signatures: dict[str, dict[str, Any]]
    trusted: TrustedKeys

    def attach(self, agent: str, manifest: dict[str, Any]) -> dict[str, Any]:
        """``manifest`` with the agent's kept signature when it verifies over this very manifest, else as is."""
        signature = self.signatures.get(agent)
        if signature is None:
            return manifest
        signed = {**manifest, "signature": signature}
        return signed if check_signature(signed, self.trusted) is None else manifest


def _manifest(path: Path) -> dict[str, Any] | None:
    """The parsed bundle manifest at ``path``, or None when it is missing, not a regular file or not JSON."""
    try:
        value = json.loads(read_regular(path, MAX_MANIFEST_BYTES))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def read_kept_signatures(out: Path, trusted: TrustedKeys) -> KeptSignatures:
    """The signatures of ``out/bundles/<agent>/manifest.json`` (agents by folder name)."""
    found: dict[str, dict[str, Any]] = {}
    folder = out / BUNDLES_FOLDER
    try:
        agents = sorted(entry.name for entry in folder.iterdir() if entry.is_dir())
    except OSError:
        agents = []
    for agent in agents:
        manifest = _manifest(folder / agent / MANIFEST_FILE)
        signature = manifest.get("signature") if manifest is not None else None
        if isinstance(signature, dict):
            found[agent] = signature
    return KeptSignatures(found, trusted)


def is_bundle_manifest(path: str) -> bool:
    """Whether an output path (relative to the output folder) is a bundle's manifest."""
    parts = path.split("/")
    return len(parts) == 3 and parts[0] == BUNDLES_FOLDER and parts[2] == MANIFEST_FILE


def signature_problems(tree: Mapping[str, bytes], out: Path, trusted: TrustedKeys) -> dict[str, str]:
    """Bundle manifest path -> why its copy in ``out`` is not a trusted signature of what the specs
    compile to, for every bundle manifest of ``tree`` (a check's fresh tree).

    Run after a compile with :class:`KeptSignatures`: a fresh manifest without a signature is one
    whose on-disk signature was not kept; one with a signature differs from ``out``'s copy only when
    that copy was edited after signing. A bundle missing from ``out`` is left to the tree diff.
    """
    problems: dict[str, str] = {}
    for path in sorted(p for p in tree if is_bundle_manifest(p)):
        fresh = json.loads(tree[path])
        if not (out / path).exists():
            continue
        found = _manifest(out / path)
        if "signature" in fresh:  # kept: a trusted key signed what the specs compile to
            if found is not None and found != fresh:
                problems[path] = "edited since it was signed: it is not the signed manifest the specs compile to"
            continue
        if found is None:
            problems[path] = "not a readable bundle manifest"
            continue
        problem = check_signature(found, trusted)
        if problem is not None:
            problems[path] = problem.message if problem.reason != "unsigned" else \
                "not signed: compile with PAYBILL_BUNDLE_SIGNING_KEY set"
        else:  # it verifies over the manifest on disk, which is then not the one the specs compile to
            named = found["signature"].get("keyId", "no keyId")
            problems[path] = (f"signed by a trusted key ({named}), but over other content than the specs compile "
                              "to now (stale: compile with the signing key)")
    return problems
