"""``paybill compile --check`` of a tree whose bundles were signed, with the public key(s) only.

CI must prove a signed tree fresh without holding the private key: the check keeps each on-disk
signature that a trusted key verifies over the freshly compiled manifest, and compares everything
byte for byte. Every case below is a real ``paybill`` process over a real repository; the private
key is only in the environment of the compile that signs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support.keys import write_keypair

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = "generated/bundles/ops-agent/manifest.json"


def paybill(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items()
                   if k not in ("PAYBILL_BUNDLE_SIGNING_KEY", "PAYBILL_BUNDLE_PUBLIC_KEY")}
    done = subprocess.run([sys.executable, "-m", "paybill", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, check=False, env={**environment, **env})
    assert "Traceback" not in done.stderr, done.stderr
    return done



@pytest.fixture(scope="module")
def signed_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path | str]]:
    """A repository compiled with a signing key (read-only: copy it before editing), and the keys."""
    base = tmp_path_factory.mktemp("signed-check")
    keys = base / "keys"
    keys.mkdir()
    private, public, ident = write_keypair(keys, "bundle-key", 0)
    _, other, other_id = write_keypair(keys, "other", 40)
    repo = base / "repo"
    repo.mkdir()
    shutil.copytree(ROOT / "specs", repo / "specs")
    done = paybill(repo, "compile", "specs", PAYBILL_BUNDLE_SIGNING_KEY=str(private))
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads((repo / MANIFEST).read_text())["signature"]["keyId"] == ident
    return repo, {"private": private, "public": public, "id": ident, "other": other, "other_id": other_id}


@pytest.fixture
def repo(signed_repo, tmp_path: Path) -> Path:
    return shutil.copytree(signed_repo[0], tmp_path / "repo")


def _check(repo: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return paybill(repo, "compile", "specs", "--check", "--no-cache", *args, **env)


def test_a_fresh_signed_tree_passes_with_the_public_key_only(signed_repo) -> None:
    repo, keys = signed_repo
    for done in (_check(repo, "--public-key", str(keys["public"])),
                 _check(repo, PAYBILL_BUNDLE_PUBLIC_KEY=str(keys["public"])),
                 _check(repo, PAYBILL_BUNDLE_PUBLIC_KEY=f"{keys['other']}{os.pathsep}{keys['public']}"),
                 # the bundle emitter in a forked helper (paybill.compile.apart), as on a large repository
                 _check(repo, "--public-key", str(keys["public"]), PAYBILL_PARALLEL_MIN_ITEMS="1"),
                 _check(repo, PAYBILL_BUNDLE_SIGNING_KEY=str(keys["private"]))):  # as before: with the secret
        assert done.returncode == 0, done.stdout + done.stderr
        assert "generated/ is up to date" in done.stdout
    as_json = json.loads(_check(repo, "--public-key", str(keys["public"]), "--format", "json").stdout)
    assert as_json["fresh"] is True and as_json["signatures"] == {}


def test_without_a_key_the_signed_tree_differs_and_the_check_says_why(signed_repo) -> None:
    repo, _ = signed_repo
    done = _check(repo)
    assert done.returncode == 1
    assert (f"changed: {MANIFEST} (signed: check a signed tree with --public-key or $PAYBILL_BUNDLE_PUBLIC_KEY, "
            "or with $PAYBILL_BUNDLE_SIGNING_KEY set)") in done.stdout


def test_a_bundle_signed_by_an_untrusted_key_fails(signed_repo) -> None:
    repo, keys = signed_repo
    done = _check(repo, "--public-key", str(keys["other"]))
    assert done.returncode == 1
    assert (f"changed: {MANIFEST} (signature is by key '{keys['id']}', which is not a trusted public key "
            f"(trusted: {keys['other_id']}))") in done.stdout
    assert "changed: generated/manifest.json" in done.stdout


@pytest.mark.parametrize("tamper", ["policies", "manifest field", "swapped signature", "unsigned"])
def test_a_tampered_signed_tree_fails(repo: Path, signed_repo, tamper: str) -> None:
    keys = signed_repo[1]
    manifest_path = repo / MANIFEST
    manifest = json.loads(manifest_path.read_text())
    if tamper == "policies":
        policies = repo / "generated/bundles/ops-agent/policies.cedar"
        policies.write_text(policies.read_text() + "\npermit(principal, action, resource);\n")
        expected = "changed: generated/bundles/ops-agent/policies.cedar"
    elif tamper == "manifest field":
        manifest["tests"] += 1
        manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        expected = f"changed: {MANIFEST} (edited since it was signed"
    elif tamper == "swapped signature":
        other = json.loads((repo / "generated/bundles/billing-agent/manifest.json").read_text())
        manifest_path.write_text(json.dumps({**manifest, "signature": other["signature"]}, indent=2, sort_keys=True)
                                 + "\n")
        expected = f"changed: {MANIFEST} (signature does not match the trusted public key {keys['id']}"
    else:  # the manifest of an unsigned compile: what the specs compile to, but a verifier refuses it
        del manifest["signature"]
        manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        expected = f"changed: {MANIFEST} (not signed: compile with PAYBILL_BUNDLE_SIGNING_KEY set)"
    done = _check(repo, "--public-key", str(keys["public"]))
    assert done.returncode == 1, done.stdout
    assert expected in done.stdout
    assert "is stale" in done.stdout


def test_a_stale_signed_tree_fails(repo: Path, signed_repo) -> None:
    keys = signed_repo[1]
    agent = repo / "specs/agents/ops-agent.yaml"
    agent.write_text(agent.read_text().replace("maxRowsRead: 2000", "maxRowsRead: 1999"))
    done = _check(repo, "--public-key", str(keys["public"]))
    assert done.returncode == 1
    assert (f"changed: {MANIFEST} (signed by a trusted key ({keys['id']}), but over other content than the specs "
            "compile to now (stale: compile with the signing key))") in done.stdout
    assert "changed: generated/bundles/ops-agent/limits.json" in done.stdout
    as_json = json.loads(_check(repo, "--public-key", str(keys["public"]), "--format", "json").stdout)
    assert as_json["fresh"] is False and list(as_json["signatures"]) == ["bundles/ops-agent/manifest.json"]


def test_public_key_usage_errors(signed_repo, tmp_path: Path) -> None:
    repo, keys = signed_repo
    outside_check = paybill(repo, "compile", "specs", "--out", str(tmp_path / "out"), "--public-key",
                            str(keys["public"]))
    assert outside_check.returncode == 2 and "--public-key only applies with --check" in outside_check.stderr
    ignored = paybill(repo, "compile", "specs", "--out", str(tmp_path / "out"),
                      PAYBILL_BUNDLE_PUBLIC_KEY=str(keys["public"]))
    assert ignored.returncode == 0, ignored.stderr  # the verifiers' variable, set where compiles run too
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a key")
    for bad in (garbage, tmp_path / "missing.pem"):
        done = _check(repo, "--public-key", str(bad))
        assert done.returncode == 2 and "Invalid value for --public-key" in done.stderr, done.stderr
