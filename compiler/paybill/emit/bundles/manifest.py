"""``manifest.json`` of a bundle: its revision, sources, file hashes, tool versions, signature.

The revision is a content hash (:func:`paybill.contract.bundle.bundle_revision`), so two compiles of
the same specs with the same tools give the same revision and the same bytes; nothing here depends
on time, machine or absolute paths. The optional signature (Ed25519, deterministic) covers the
manifest, which covers every file.
"""

from __future__ import annotations

from importlib import metadata
from typing import TYPE_CHECKING, Any

from paybill import __version__
from paybill.contract.bundle import BUNDLE_FORMAT, bundle_revision, json_file, sha256_hex
from paybill.emit.bundles.facts import AgentFacts

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from paybill.emit.bundles.kept_signatures import KeptSignatures


def tool_versions() -> dict[str, str]:
    cedarpy = metadata.version("cedarpy")
    # cedarpy's major.minor is the Cedar engine's major.minor (its documented versioning rule).
    return {"paybill": __version__, "cedarpy": cedarpy, "cedar": ".".join(cedarpy.split(".")[:2])}


def build_manifest(facts: AgentFacts, files: dict[str, bytes], counts: dict[str, int],
                   key: Ed25519PrivateKey | None, kept: KeptSignatures | None = None) -> bytes:
    """The manifest's bytes: signed with ``key``, or else carrying the signature ``kept`` holds for this
    agent when it verifies over this manifest (``paybill compile --check`` without the private key)."""
    hashes = {name: sha256_hex(data) for name, data in sorted(files.items())}
    manifest: dict[str, Any] = {
        "format": BUNDLE_FORMAT,
        "agent": facts.name,
        "revision": bundle_revision(hashes),
        "files": hashes,
        "sources": [{"path": path, "sha256": digest}
                    for path, digest in sorted({d.path: d.text_hash for d in facts.sources()}.items())],
        "compiler": tool_versions(),
        **counts,
    }
    if key is not None:
        from paybill.guard.signing import sign_manifest  # cryptography, only for a signed bundle

        manifest = sign_manifest(manifest, key)
    elif kept is not None:
        manifest = kept.attach(facts.name, manifest)
    return json_file(manifest)
