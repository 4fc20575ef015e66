"""Rotating the bundle signing key by the runbook of README.md ("Rotating the signing key"), end to end.

Real Ed25519 keys (``cryptography``), a real spec repository, and every step a ``paybill`` process:
``compile`` signing with the CI secret, ``compile --check`` as CI runs it with public keys only, and
``guard check`` and ``authzen`` as the verifiers. At no step does a verifier refuse the bundle it is
given, and once the old key is dropped a bundle signed by it is refused.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from support.keys import write_keypair
from support.processes import first_line_then_signal

ROOT = Path(__file__).resolve().parents[2]
PAYBILL = [sys.executable, "-m", "paybill"]
PORT = 18245  # authz's range (18200-18299)
AGENT = "billing-agent"
ALLOWED = ("--tenant", "acme-corp", "--workflow", "dunning", "--step", "list-invoices", "--action", "read",
           "--resource", "invoices", "--columns", "id,due_date")



def paybill(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """One ``paybill`` process in ``cwd`` with exactly the bundle key variables given (none inherited)."""
    environment = {k: v for k, v in os.environ.items()
                   if k not in ("PAYBILL_BUNDLE_SIGNING_KEY", "PAYBILL_BUNDLE_PUBLIC_KEY")}
    done = subprocess.run([*PAYBILL, *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False,
                          env={**environment, **env})
    assert "Traceback" not in done.stderr, done.stderr
    return done


def _repo(root: Path) -> Path:
    root.mkdir()
    shutil.copytree(ROOT / "specs", root / "specs")
    subprocess.run(["git", "init", "--quiet"], cwd=root, check=True)
    return root


def _ci_check(repo: Path, *public: Path) -> subprocess.CompletedProcess[str]:
    """The PR workflow's ``compile --check``: public keys in PAYBILL_BUNDLE_PUBLIC_KEY, no private key."""
    return paybill(repo, "compile", "specs", "--check", "--no-cache",
                   PAYBILL_BUNDLE_PUBLIC_KEY=os.pathsep.join(str(p) for p in public))


def _guard(bundle: Path, *public: Path) -> subprocess.CompletedProcess[str]:
    keys = [arg for p in public for arg in ("--public-key", str(p))]
    return paybill(bundle.parent, "guard", "check", "--bundle", str(bundle), *ALLOWED, *keys)


def _authzen_start(bundle: Path, token: Path, *public: Path) -> str:
    """What ``paybill authzen`` trusting ``public`` (from the variable) says on start: its first line
    and, when it refused the bundle, the rest."""
    environment = {k: v for k, v in os.environ.items() if k != "PAYBILL_BUNDLE_SIGNING_KEY"}
    environment["PAYBILL_BUNDLE_PUBLIC_KEY"] = os.pathsep.join(str(p) for p in public)
    process = subprocess.Popen([*PAYBILL, "authzen", "--bundle", str(bundle), "--token-file", str(token),
                                "--listen", f"127.0.0.1:{PORT}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=environment)
    first, rest = first_line_then_signal(process, signal.SIGINT, timeout=60)
    return first + rest


def test_the_rotation_runbook_never_refuses_a_bundle_in_flight(tmp_path: Path) -> None:
    keys = tmp_path / "keys"  # outside the repository: the private keys are CI secrets
    keys.mkdir()
    old_private, old_public, old_id = write_keypair(keys, "bundle-key-1")
    new_private, new_public, new_id = write_keypair(keys, "bundle-key-2")
    repo = _repo(tmp_path / "repo")
    bundle = repo / "generated" / "bundles" / AGENT
    token = tmp_path / "token"
    token.write_text("rotation-token-0123456789\n")

    # Before: CI signs with the old key; verifiers and CI's check trust the old public key only.
    assert paybill(repo, "compile", "specs", PAYBILL_BUNDLE_SIGNING_KEY=str(old_private)).returncode == 0
    assert _ci_check(repo, old_public).returncode == 0
    assert _guard(bundle, old_public).returncode == 0
    old_signed = shutil.copytree(bundle, tmp_path / "old-signed" / AGENT)

    # 1. Deploy verifiers (and CI's check) trusting both keys: the bundles in flight are still old-signed.
    assert _guard(bundle, old_public, new_public).returncode == 0
    assert _guard(bundle, new_public, old_public).returncode == 0
    assert _ci_check(repo, old_public, new_public).returncode == 0
    started = _authzen_start(bundle, token, old_public, new_public)
    assert f"paybill authzen: agent {AGENT} revision" in started, started

    # 2. Sign with the new key (swap the CI secret) and roll the new bundles out.
    assert paybill(repo, "compile", "specs", PAYBILL_BUNDLE_SIGNING_KEY=str(new_private)).returncode == 0
    assert new_id in (bundle / "manifest.json").read_text()
    assert _guard(bundle, old_public, new_public).returncode == 0
    assert _ci_check(repo, old_public, new_public).returncode == 0
    assert f"paybill authzen: agent {AGENT} revision" in _authzen_start(bundle, token, old_public, new_public)
    # (a verifier not updated in step 1 would refuse it now: that is why verifiers go first)
    stale_verifier = _guard(bundle, old_public)
    assert stale_verifier.returncode == 4, stale_verifier.stderr
    assert f"bundle refused (signature): signature is by key '{new_id}', which is not a trusted public key " \
           f"(trusted: {old_id})" in stale_verifier.stderr
    stale_check = _ci_check(repo, old_public)
    assert stale_check.returncode == 1 and "which is not a trusted public key" in stale_check.stdout

    # 3. Drop the old key everywhere: new bundles load, a bundle signed by the old key no longer does.
    assert _guard(bundle, new_public).returncode == 0
    assert _ci_check(repo, new_public).returncode == 0
    assert f"paybill authzen: agent {AGENT} revision" in _authzen_start(bundle, token, new_public)
    rolled_back = _guard(old_signed, new_public)
    assert rolled_back.returncode == 4
    assert f"signature is by key '{old_id}', which is not a trusted public key" in rolled_back.stderr
    refused = _authzen_start(old_signed, token, new_public)
    assert "bundle refused (signature)" in refused and old_id in refused, refused
