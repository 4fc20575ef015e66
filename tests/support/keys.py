"""Ed25519 bundle-signing key pairs for tests, as `openssl genpkey` and `openssl pkey -pubout` write them."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from paybill.guard.signing import key_id


def write_keypair(folder: Path, name: str, seed: int | None = None) -> tuple[Path, Path, str]:
    """``folder/<name>.pem`` (PKCS#8) and ``folder/<name>.pub.pem`` (SubjectPublicKeyInfo): (private, public,
    key id). ``seed``: the same key on every run (its 32 bytes are ``seed .. seed + 31``); None: a fresh one."""
    key = Ed25519PrivateKey.generate() if seed is None else \
        Ed25519PrivateKey.from_private_bytes(bytes(range(seed, seed + 32)))
    private, public = folder / f"{name}.pem", folder / f"{name}.pub.pem"
    private.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo))
    return private, public, key_id(key.public_key())
