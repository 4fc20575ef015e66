"""Ed25519 signing of bundle manifests: keys from a path or the environment, deterministic bytes."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from guard_support import SPECS, compile_bundles

from paybill.guard import Guard
from paybill.guard.signing import (
    SigningKeyError,
    key_id,
    load_private_key,
    load_public_key,
    private_key_from_env,
    sign_manifest,
    verify_manifest,
)


def test_signed_manifests_carry_the_key_id_and_verify(signed_bundles, keys):
    manifest = json.loads((signed_bundles / "billing-agent" / "manifest.json").read_text())
    assert manifest["signature"]["algorithm"] == "ed25519"
    assert manifest["signature"]["keyId"] == key_id(keys["public"])
    assert verify_manifest(manifest, keys["public"]) is None
    tampered = {**manifest, "revision": "0" * 64}
    assert "does not match" in verify_manifest(tampered, keys["public"])


def test_signing_is_deterministic_and_changes_only_the_manifest(signed_bundles, bundles):
    for agent in ("billing-agent", "ops-agent"):
        for name in ("policies.cedar", "tests.json", "entities.json"):
            assert (signed_bundles / agent / name).read_bytes() == (bundles / agent / name).read_bytes()
    manifest = {"format": "x", "files": {}}
    key = load_private_key(_pem())
    assert sign_manifest(manifest, key) == sign_manifest(manifest, key)


def _pem() -> bytes:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.from_private_bytes(bytes(32)).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def test_the_environment_variable_takes_pem_text_or_a_path(keys, tmp_path, monkeypatch):
    pem_text = keys["private_pem"].read_text()
    for value in (pem_text, str(keys["private_pem"])):
        monkeypatch.setenv("PAYBILL_BUNDLE_SIGNING_KEY", value)
        key = private_key_from_env()
        assert key is not None and key_id(key.public_key()) == key_id(keys["public"])
    monkeypatch.setenv("PAYBILL_BUNDLE_SIGNING_KEY", str(keys["private_pem"]))
    out = compile_bundles(SPECS, tmp_path)
    assert Guard.load(out / "ops-agent", keys["public_pem"]).agent == "ops-agent"
    monkeypatch.delenv("PAYBILL_BUNDLE_SIGNING_KEY")
    assert private_key_from_env() is None


def test_public_keys_in_every_accepted_form(signed_bundles, keys):
    raw = keys["public"].public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    for form in (keys["public"], keys["public_pem"], str(keys["public_pem"]), keys["public_pem"].read_bytes(), raw):
        assert key_id(load_public_key(form)) == key_id(keys["public"])
        assert Guard.load(signed_bundles / "ops-agent", form).agent == "ops-agent"


def test_keys_that_are_not_ed25519_are_rejected(tmp_path):
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    path = tmp_path / "rsa.pem"
    path.write_bytes(rsa_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    with pytest.raises(SigningKeyError, match="not an Ed25519 key"):
        load_private_key(path)
    with pytest.raises(SigningKeyError, match="cannot read signing key"):
        load_private_key(tmp_path / "missing.pem")
    with pytest.raises(SigningKeyError, match="not a PEM public key"):
        load_public_key(b"garbage")
