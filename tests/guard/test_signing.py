"""Ed25519 signing of bundle manifests: keys from a path or the environment, deterministic bytes."""

from __future__ import annotations

import json
import shutil

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from guard_support import SPECS, compile_bundles

from paybill.guard import BundleError, Guard
from paybill.guard.signing import (
    MAX_TRUSTED_KEYS,
    SigningKeyError,
    check_signature,
    key_id,
    load_private_key,
    load_public_key,
    private_key_from_env,
    sign_manifest,
    trusted_keys,
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


# Several trusted keys: a key rotation (old and new trusted while bundles signed by either are in flight).


def _second_key(tmp_path):
    """A second signing key pair: the new key of a rotation (private object, public PEM file)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    private = Ed25519PrivateKey.from_private_bytes(bytes(range(2, 34)))
    pem = tmp_path / "new.pub.pem"
    pem.write_bytes(private.public_key().public_bytes(serialization.Encoding.PEM,
                                                      serialization.PublicFormat.SubjectPublicKeyInfo))
    return private, pem


def test_a_bundle_signed_by_any_trusted_key_loads(signed_bundles, keys, tmp_path):
    new_private, new_pem = _second_key(tmp_path)
    new_signed = compile_bundles(SPECS, tmp_path / "new", signing_key=new_private)
    for trusted in ([keys["public_pem"], new_pem], [new_pem, keys["public_pem"]], (new_pem, str(keys["public_pem"]))):
        assert Guard.load(signed_bundles / "ops-agent", trusted).agent == "ops-agent"
        assert Guard.load(new_signed / "ops-agent", trusted).agent == "ops-agent"
    with pytest.raises(BundleError, match=f"signature is by key '{key_id(new_private.public_key())}', which is not a "
                                          f"trusted public key \\(trusted: {key_id(keys['public'])}\\)") as refused:
        Guard.load(new_signed / "ops-agent", [keys["public_pem"]])
    assert refused.value.reason == "signature"


def test_trusted_keys_are_bounded_deduplicated_and_readable(keys, signed_bundles, tmp_path):
    assert trusted_keys([keys["public_pem"], keys["public"], str(keys["public_pem"])]).ids == (key_id(keys["public"]),)
    for value, words in (([], "no public key given"), ([keys["public_pem"]] * (MAX_TRUSTED_KEYS + 1), "at most 16"),
                         ([keys["public_pem"], tmp_path / "missing.pem"], "cannot read public key")):
        with pytest.raises(BundleError, match=words) as refused:
            Guard.load(signed_bundles / "ops-agent", value)
        assert refused.value.reason == "key"


def test_the_key_id_picks_the_key_and_is_not_trusted_itself(signed_bundles, keys, tmp_path):
    """keyId is outside what the signature covers: it chooses the key, it proves nothing."""
    new_private, new_pem = _second_key(tmp_path)
    manifest = json.loads((signed_bundles / "ops-agent" / "manifest.json").read_text())
    trusted = trusted_keys([keys["public_pem"], new_pem])
    assert check_signature(manifest, trusted) is None
    relabelled = {**manifest, "signature": {**manifest["signature"], "keyId": key_id(new_private.public_key())}}
    problem = check_signature(relabelled, trusted)
    assert problem is not None and problem.reason == "signature"
    assert "does not match the trusted public key" in problem.message
    anonymous = {**manifest, "signature": {k: v for k, v in manifest["signature"].items() if k != "keyId"}}
    assert check_signature(anonymous, trusted) is None, "a hand-made signature without keyId: each key is tried"
    assert check_signature(anonymous, trusted_keys([new_pem])).reason == "signature"
    numbered = {**manifest, "signature": {**manifest["signature"], "keyId": 7}}
    assert check_signature(numbered, trusted).message == "signature keyId is not a string"


def test_a_signature_swapped_in_from_another_bundle_is_refused(signed_bundles, keys, tmp_path):
    folder = tmp_path / "ops-agent"
    shutil.copytree(signed_bundles / "ops-agent", folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    other = json.loads((signed_bundles / "billing-agent" / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps({**manifest, "signature": other["signature"]}))
    with pytest.raises(BundleError, match="does not match the trusted public key") as refused:
        Guard.load(folder, [keys["public_pem"], keys["other_pem"]])
    assert refused.value.reason == "signature"


def test_an_edited_manifest_is_refused_whichever_keys_are_trusted(signed_bundles, keys, tmp_path):
    folder = tmp_path / "ops-agent"
    shutil.copytree(signed_bundles / "ops-agent", folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps({**manifest, "tests": manifest["tests"] + 1}))
    for trusted in ([keys["public_pem"]], [keys["other_pem"], keys["public_pem"]]):
        with pytest.raises(BundleError, match="does not match the trusted public key") as refused:
            Guard.load(folder, trusted)
        assert refused.value.reason == "signature"
