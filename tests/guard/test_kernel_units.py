"""Unit-level boundaries of the guard's small modules: decisions, signatures, bundle checks.

Each test pins one rule a single-point mutation would break (``tools/mutate.py``).
"""

from __future__ import annotations

import base64
import dataclasses
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from guard_support import copy_bundle

from paybill.contract.bundle import signed_payload
from paybill.guard import BundleError, Decision, Denied, Guard
from paybill.guard.signing import (
    SigningKeyError,
    load_private_key,
    load_public_key,
    sign_manifest,
    verify_manifest,
)


def test_a_decision_is_immutable_and_truthy_only_when_allowed():
    allowed = Decision(True, "check", "read", "tickets", "acme-corp", "inspect")
    denied = Decision(False, "check", "read", "tickets", "acme-corp", "inspect", violations=("acl.not-granted",))
    assert bool(allowed) is True and bool(denied) is False
    with pytest.raises(dataclasses.FrozenInstanceError):
        allowed.allowed = False  # type: ignore[misc]
    assert allowed.require() is allowed
    with pytest.raises(Denied, match="deny: check read tickets"):
        denied.require()


def test_decision_summary_and_record_shapes():
    plain = Decision(True, "start", "start", "", "acme-corp", "inspect")
    assert plain.summary() == "allow: start (tenant acme-corp, step inspect)"
    # The op is said once (it was "deny: advance advance close-tickets", in every MCP refusal of a step).
    order = Decision(False, "advance", "advance", "close-tickets", "acme-corp", "inspect",
                     violations=("workflow.order",))
    assert order.summary() == "deny: advance close-tickets (tenant acme-corp, step inspect): workflow.order"
    denied = Decision(False, "check", "read", "tickets", "acme-corp", "inspect", ("p#1",),
                      ("a.b", "c.d"), ("body",), ("boom",), "rev", "run-1", charge=7)
    assert denied.summary() == "deny: check read tickets (tenant acme-corp, step inspect): a.b, c.d"
    assert denied.to_dict() == {"allowed": False, "reasons": ["p#1"], "violations": ["a.b", "c.d"],
                                "deniedColumns": ["body"], "errors": ["boom"]}
    assert plain.to_dict() == {"allowed": True, "reasons": [], "violations": []}


def test_the_charge_is_not_part_of_equality_or_repr():
    one = Decision(True, "check", "read", "tickets", "acme-corp", "inspect", charge=1)
    two = Decision(True, "check", "read", "tickets", "acme-corp", "inspect", charge=2)
    assert one == two and "charge" not in repr(one) and Decision(True, "c", "r", "t", "x", "s").charge == 0


def _key():
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.from_private_bytes(bytes(range(32)))


@pytest.mark.parametrize(("signature", "words"), [
    (None, "bundle is not signed"),
    ("text", "bundle is not signed"),
    ({"algorithm": "rsa", "value": ""}, "signature algorithm 'rsa' is not ed25519"),
    ({"algorithm": "ed25519", "value": "%%%"}, "signature is not valid base64"),
    ({"algorithm": "ed25519", "value": base64.b64encode(b"x" * 64).decode()}, "does not match"),
])
def test_every_signature_problem_is_named(signature, words):
    manifest = {"format": "f", "agent": "a"}
    if signature is not None:
        manifest["signature"] = signature
    assert words in verify_manifest(manifest, _key().public_key())


def test_the_signature_covers_everything_but_itself():
    key = _key()
    signed = sign_manifest({"format": "f", "agent": "a", "signature": {"old": 1}}, key)
    assert signed_payload(signed) == b'{"agent":"a","format":"f"}'
    assert verify_manifest(signed, key.public_key()) is None
    assert verify_manifest({**signed, "agent": "b"}, key.public_key()) is not None


def test_key_forms_and_refusals(tmp_path):
    key = _key()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    assert load_private_key(pem.decode()).public_key().public_bytes_raw() == key.public_key().public_bytes_raw()
    assert load_private_key("  " + pem.decode()) is not None, "PEM text may start with blanks"
    with pytest.raises(SigningKeyError, match="not an unencrypted PEM private key"):
        load_private_key(b"-----BEGIN garbage")
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    rsa_public = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert load_public_key(public_pem.decode()).public_bytes_raw() == key.public_key().public_bytes_raw()
    with pytest.raises(SigningKeyError, match="is a RSAPublicKey, not an Ed25519 key"):
        load_public_key(rsa_public)
    with pytest.raises(SigningKeyError, match="cannot read public key"):
        load_public_key(tmp_path / "missing.pem")
    with pytest.raises(SigningKeyError, match="not a PEM public key"):
        load_public_key(b"x" * 31)


def _rewrite(bundle, name, edit):
    path = bundle / name
    path.write_text(edit(path.read_text()))


@pytest.mark.parametrize(("edit", "reason", "words"), [
    (lambda m: {**m, "format": "other"}, "format", "is not a paybill.dev/agent-bundle/v1 manifest"),
    (lambda m: [m], "format", "is not a"),
    (lambda m: {k: v for k, v in m.items() if k != "files"}, "format", "lacks 'files' or 'agent'"),
    (lambda m: {**m, "files": []}, "format", "lacks 'files' or 'agent'"),
    (lambda m: {**m, "agent": 5}, "format", "lacks 'files' or 'agent'"),
    (lambda m: {**m, "files": {**m["files"], "extra.json": "0"}}, "unlisted", "extra.json"),
    (lambda m: {**m, "revision": "0" * 64}, "revision", "manifest revision is not the hash of its files"),
])
def test_each_manifest_problem_has_its_reason(bundles, tmp_path, edit, reason, words):
    bundle = copy_bundle(bundles / "ops-agent", tmp_path / "ops-agent")
    _rewrite(bundle, "manifest.json", lambda text: json.dumps(edit(json.loads(text))))
    with pytest.raises(BundleError, match=words) as refused:
        Guard.load(bundle)
    assert refused.value.reason == reason


def test_a_manifest_that_is_not_json_or_missing(bundles, tmp_path):
    bundle = copy_bundle(bundles / "ops-agent", tmp_path / "ops-agent")
    (bundle / "manifest.json").write_bytes(b"\xff{")
    with pytest.raises(BundleError, match=r"manifest\.json is not valid JSON") as refused:
        Guard.load(bundle)
    assert refused.value.reason == "content"
    (bundle / "manifest.json").unlink()
    with pytest.raises(BundleError, match=r"manifest\.json is missing from bundle") as refused:
        Guard.load(bundle)
    assert refused.value.reason == "missing"


def test_decisions_are_slotted():
    decision = Decision(True, "check", "read", "tickets", "acme-corp", "inspect")
    assert not hasattr(decision, "__dict__"), "millions are made: no per-instance dict"


def test_key_ids_are_the_first_16_hex_digits_of_the_raw_key_hash():
    import hashlib

    from paybill.guard.signing import key_id

    public = _key().public_key()
    assert key_id(public) == hashlib.sha256(public.public_bytes_raw()).hexdigest()[:16]
    assert len(key_id(public)) == 16


def test_a_missing_key_file_names_the_os_reason(tmp_path):
    missing = tmp_path / "missing.pem"
    with pytest.raises(SigningKeyError) as raised:
        load_public_key(missing)
    assert str(raised.value) == f"cannot read public key '{missing}': No such file or directory"


def test_raw_requests_must_match_the_schema_exactly(load):
    from paybill.contract.requests import operation_context, request, run_entity

    guard = load("ops-agent")
    entity = run_entity("raw-2", "ops-agent", "acme-corp", "incident-response", "inspect")
    context = operation_context("read", "acme-corp", ["id"], 1)
    assert guard.authorize_raw(request("raw-2", "read", "tickets", "incident-response", context), [entity]).allowed
    extra = {**context, "sneaky": 1}
    verdict = guard.authorize_raw(request("raw-2", "read", "tickets", "incident-response", extra), [entity])
    assert not verdict.allowed and verdict.violations == ("engine.error",)
