"""Ed25519 signatures over a bundle manifest (``cryptography``).

The signature covers the canonical JSON of the manifest without its ``signature`` member, and the
manifest lists the sha256 of every other file, so one signature covers the whole bundle. Ed25519
signatures are deterministic (RFC 8032), so a signed bundle is still byte-identical across runs.

Keys: private keys are PKCS#8 PEM (``openssl genpkey -algorithm ed25519 -out bundle-key.pem``);
public keys are SubjectPublicKeyInfo PEM (``openssl pkey -in bundle-key.pem -pubout``) or the raw
32 bytes. The verifier never trusts a key found inside the bundle: ``keyId`` is only a hint.
"""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from paybill.contract.bundle import SIGNING_KEY_ENV as SIGNING_KEY_ENV  # PEM text of the private key, or a path
from paybill.contract.bundle import sha256_hex, signed_payload
from paybill.guard.files import FileRefused, read_regular

ALGORITHM = "ed25519"
MAX_KEY_BYTES = 64 * 1024
"""A PEM key is a few hundred bytes; a key file is read up to this size, never further."""


class SigningKeyError(ValueError):
    """A key could not be read or is not an Ed25519 key (message says which and why)."""


PublicKeyLike = Ed25519PublicKey | bytes | str | Path


def _pem_or_path(value: str | bytes | Path, what: str) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str) and value.lstrip().startswith("-----BEGIN"):
        return value.encode("ascii", "replace")
    path = Path(value)
    try:
        return read_regular(path, MAX_KEY_BYTES)
    except FileRefused as exc:
        raise SigningKeyError(f"cannot read {what}: {exc}") from None
    except OSError as exc:
        raise SigningKeyError(f"cannot read {what} '{path}': {exc.strerror or exc}") from None


def load_private_key(value: str | bytes | Path) -> Ed25519PrivateKey:
    """A private key from PEM text/bytes or a path to a PEM file."""
    data = _pem_or_path(value, "signing key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise SigningKeyError(f"signing key is not an unencrypted PEM private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"signing key is a {type(key).__name__}, not an Ed25519 key")
    return key


def private_key_from_env(environ: dict[str, str] | None = None) -> Ed25519PrivateKey | None:
    """The signing key named by ``PAYBILL_BUNDLE_SIGNING_KEY`` (PEM text or path), or None when unset."""
    value = (environ if environ is not None else os.environ).get(SIGNING_KEY_ENV, "")
    return load_private_key(value) if value.strip() else None


def load_public_key(value: PublicKeyLike) -> Ed25519PublicKey:
    """A public key from an object, PEM text/bytes, raw 32 bytes, or a path to a PEM file."""
    if isinstance(value, Ed25519PublicKey):
        return value
    if isinstance(value, bytes) and len(value) == 32:
        return Ed25519PublicKey.from_public_bytes(value)
    data = _pem_or_path(value, "public key")
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise SigningKeyError(f"public key is not a PEM public key ({exc})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise SigningKeyError(f"public key is a {type(key).__name__}, not an Ed25519 key")
    return key


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return sha256_hex(raw)[:16]


def sign_manifest(manifest: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    """The manifest with a ``signature`` member added (any earlier one replaced)."""
    value = base64.b64encode(key.sign(signed_payload(manifest))).decode("ascii")
    return {**manifest, "signature": {"algorithm": ALGORITHM, "keyId": key_id(key.public_key()), "value": value}}


def verify_manifest(manifest: dict[str, Any], public_key: Ed25519PublicKey) -> str | None:
    """None when the manifest carries a valid signature by ``public_key``, else why not."""
    signature = manifest.get("signature")
    if not isinstance(signature, dict):
        return "bundle is not signed, and a public key is configured"
    if signature.get("algorithm") != ALGORITHM:
        return f"signature algorithm {signature.get('algorithm')!r} is not {ALGORITHM}"
    try:
        raw = base64.b64decode(str(signature.get("value", "")), validate=True)
    except (binascii.Error, ValueError):
        return "signature is not valid base64"
    try:
        public_key.verify(raw, signed_payload(manifest))
    except InvalidSignature:
        return "signature does not match the configured public key"
    return None
