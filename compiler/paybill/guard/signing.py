"""Ed25519 signatures over a bundle manifest (``cryptography``).

The signature covers the canonical JSON of the manifest without its ``signature`` member, and the
manifest lists the sha256 of every other file, so one signature covers the whole bundle. Ed25519
signatures are deterministic (RFC 8032), so a signed bundle is still byte-identical across runs.

Keys: private keys are PKCS#8 PEM (``openssl genpkey -algorithm ed25519 -out bundle-key.pem``);
public keys are SubjectPublicKeyInfo PEM (``openssl pkey -in bundle-key.pem -pubout``) or the raw
32 bytes. The verifier never trusts a key found inside the bundle: ``keyId`` (the first 16 hex digits of
the sha256 of the raw public key) only says which of the trusted keys to verify with.

Several trusted keys (:class:`TrustedKeys`, at most :data:`MAX_TRUSTED_KEYS`) exist for key rotation:
verifiers trust the old and the new key while bundles signed by either are in flight, then drop the
old one. A signature naming a key id that is not trusted is refused without trying the others.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

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

MAX_TRUSTED_KEYS = 16
"""Trusted public keys at most: a rotation needs two; a verifier never tries more than this many."""


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


@dataclass(frozen=True)
class TrustedKeys:
    """The public keys a bundle may be signed by, by key id (:func:`key_id`), in the order given."""

    by_id: dict[str, Ed25519PublicKey]

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(self.by_id)


PublicKeys: TypeAlias = "PublicKeyLike | Sequence[PublicKeyLike] | TrustedKeys"
"""One trusted key, several (a list or tuple: a rotation), or keys already loaded."""


def trusted_keys(value: PublicKeys) -> TrustedKeys:
    """Load one or several public keys (each as :func:`load_public_key` takes it); the same key twice
    counts once. Raises :class:`SigningKeyError` for an unreadable key, none, or more than
    :data:`MAX_TRUSTED_KEYS`."""
    if isinstance(value, TrustedKeys):
        return value
    values: Sequence[PublicKeyLike] = value if isinstance(value, (list, tuple)) else (value,)
    if not values:
        raise SigningKeyError("no public key given")
    if len(values) > MAX_TRUSTED_KEYS:
        raise SigningKeyError(f"{len(values)} public keys given; at most {MAX_TRUSTED_KEYS} are trusted at once")
    by_id: dict[str, Ed25519PublicKey] = {}
    for item in values:
        key = load_public_key(item)
        by_id.setdefault(key_id(key), key)
    return TrustedKeys(by_id)


@dataclass(frozen=True)
class SignatureProblem:
    """Why a manifest's signature is not accepted: ``reason`` is ``unsigned`` or ``signature``."""

    reason: str
    message: str


def check_signature(manifest: dict[str, Any], keys: TrustedKeys | Ed25519PublicKey) -> SignatureProblem | None:
    """None when the manifest carries a valid signature by one of ``keys``, else why not.

    The key is the one the signature's ``keyId`` names; a ``keyId`` that names no trusted key is
    refused as such (the usual mistake in a rotation: the verifier was not given the new key yet).
    A signature without ``keyId`` (made by hand) is tried against each trusted key (bounded).
    """
    trusted = keys if isinstance(keys, TrustedKeys) else TrustedKeys({key_id(keys): keys})
    signature = manifest.get("signature")
    if not isinstance(signature, dict):
        return SignatureProblem("unsigned", "bundle is not signed, and a public key is configured")
    if signature.get("algorithm") != ALGORITHM:
        return SignatureProblem("signature", f"signature algorithm {signature.get('algorithm')!r} is not {ALGORITHM}")
    try:
        raw = base64.b64decode(str(signature.get("value", "")), validate=True)
    except (binascii.Error, ValueError):
        return SignatureProblem("signature", "signature is not valid base64")
    named = signature.get("keyId")
    if named is not None and not isinstance(named, str):
        return SignatureProblem("signature", "signature keyId is not a string")
    if named is not None and named not in trusted.by_id:
        return SignatureProblem("signature", f"signature is by key {named[:64]!r}, which is not a trusted public key "
                                             f"(trusted: {', '.join(trusted.ids)})")
    candidates = [trusted.by_id[named]] if named is not None else list(trusted.by_id.values())
    payload = signed_payload(manifest)
    for key in candidates:
        try:
            key.verify(raw, payload)
        except InvalidSignature:
            continue
        return None
    which = f"trusted public key {named}" if named is not None else "configured public key"
    return SignatureProblem("signature", f"signature does not match the {which} (manifest or signature edited)")


def verify_manifest(manifest: dict[str, Any], keys: TrustedKeys | Ed25519PublicKey) -> str | None:
    """None when the manifest carries a valid signature by one of ``keys``, else why not."""
    problem = check_signature(manifest, keys)
    return problem.message if problem is not None else None
