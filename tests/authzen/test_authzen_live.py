"""`paybill authzen` follows its bundle folder: a compile deployed while it runs decides the next request.

As a user runs it: a spec repository compiled with `paybill compile`, `paybill authzen` serving
`generated/bundles/ops-agent` over real HTTP, and billing suspending a tenant (spec edited, compiled
again: `generated/` swapped) while it runs. The next decision must deny with the lifecycle reason,
not answer with the bundle the folder no longer holds. A new folder that cannot be loaded (a tampered
file, an older revision than one served) makes every decision a 503 with the reason, never an
answer of the previous bundle; a good bundle deployed after it is served again.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from support.keys import write_keypair

ROOT = Path(__file__).resolve().parents[2]
PAYBILL = [sys.executable, "-m", "paybill"]
TOKEN = "live-token-0123456789abcdef"
AGENT = "ops-agent"
TENANT = "initech"
BUNDLE = f"generated/bundles/{AGENT}"
QUESTION = {"subject": {"type": "agent", "id": AGENT}, "action": {"name": "read"},
            "resource": {"type": "table", "id": "tickets", "properties": {"columns": ["id", "status"], "rows": 5}},
            "context": {"tenant": TENANT, "workflow": "incident-response", "step": "inspect"}}


def _paybill(repo: Path, *args: str, signing_key: Path | None = None) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PAYBILL_BUNDLE_SIGNING_KEY", "PAYBILL_BUNDLE_PUBLIC_KEY")}
    if signing_key is not None:
        env["PAYBILL_BUNDLE_SIGNING_KEY"] = str(signing_key)
    done = subprocess.run([*PAYBILL, *args], cwd=repo, capture_output=True, text=True, timeout=300, check=False,
                          env=env)
    assert done.returncode == 0, f"paybill {' '.join(args)}:\n{done.stdout}{done.stderr}"


def _set_lifecycle(repo: Path, lifecycle: str, billing: str) -> None:
    """Edit the tenant's spec as billing's pull request does (lifecycle and billing status together)."""
    path = repo / "specs" / "tenants" / f"{TENANT}.yaml"
    text = re.sub(r"(?m)^  lifecycle: \S+$", f"  lifecycle: {lifecycle}", path.read_text(encoding="utf-8"))
    path.write_text(re.sub(r"(?m)^    status: \S+$", f"    status: {billing}", text), encoding="utf-8")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A spec repository with ``generated/`` compiled, the tenant active."""
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "specs", repo / "specs")
    _set_lifecycle(repo, "active", "active")
    _paybill(repo, "compile", "specs")
    (repo / "authzen.token").write_text(TOKEN + "\n")
    return repo


class Endpoint:
    def __init__(self, process: subprocess.Popen[str], url: str) -> None:
        self.process, self.url = process, url
        self.err: str | None = None

    def stop(self) -> str:
        """Stop it as a service manager does (SIGTERM): a clean exit; its standard error."""
        if self.err is None:
            self.process.send_signal(signal.SIGTERM)
            _, self.err = self.process.communicate(timeout=30)
            assert self.process.returncode == 0 and "Traceback" not in self.err, self.err
        return self.err

    def ask(self) -> httpx.Response:
        return httpx.post(self.url + "/access/v1/evaluation", json=QUESTION, timeout=60,
                          headers={"Authorization": f"Bearer {TOKEN}"})


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(repo: Path, *extra: str) -> Endpoint:
    """`paybill authzen` over the repository's compiled bundle, on a free loopback port."""
    port = _free_port()
    process = subprocess.Popen(
        [*PAYBILL, "authzen", "--bundle", BUNDLE, "--token-file", "authzen.token", "--listen", f"127.0.0.1:{port}",
         *extra], cwd=repo, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    endpoint = Endpoint(process, f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(endpoint.url + "/.well-known/authzen-configuration", timeout=1)
            return endpoint
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise AssertionError(f"paybill authzen did not start: {process.communicate()}") from None
            time.sleep(0.2)


@pytest.fixture
def started() -> Iterator[list[Endpoint]]:
    """Endpoints a test starts, stopped (SIGTERM, exit 0 checked) when it ends."""
    endpoints: list[Endpoint] = []
    yield endpoints
    for endpoint in endpoints:
        endpoint.stop()


def _decided(response: httpx.Response) -> tuple[bool, str, list[str], str]:
    assert response.status_code == 200, response.text
    body = response.json()
    context = body["context"]
    return body["decision"], context["revision"], context["violations"], context["reason_admin"]["en"]


def _deploy(repo: Path, tree: Path) -> None:
    """Swap ``tree`` in as ``generated/`` in one rename, as `paybill compile` does."""
    old = repo / "generated.old"
    os.rename(repo / "generated", old)
    os.rename(tree, repo / "generated")
    shutil.rmtree(old)


def _refused(endpoint: Endpoint, reason: str) -> str:
    """Assert every decision is a 503 naming ``reason``; the reason's text."""
    refused = endpoint.ask()
    assert refused.status_code == 503, f"a refused folder was answered: {refused.text}"
    assert refused.json()["error"] == "bundle_refused", refused.text
    assert f"refused ({reason})" in refused.json()["error_description"], refused.text
    batch = httpx.post(endpoint.url + "/access/v1/evaluations", json={**QUESTION, "evaluations": [{}, {}]},
                       headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60)
    assert batch.status_code == 503, batch.text
    return str(refused.json()["error_description"])


def test_a_suspension_compiled_while_it_runs_is_the_next_answer(repo: Path, started: list[Endpoint]) -> None:
    authzen = _start(repo)
    started.append(authzen)
    allowed, active, _, _ = _decided(authzen.ask())
    assert allowed, "the active tenant's read is allowed"

    _set_lifecycle(repo, "suspended", "past_due")
    _paybill(repo, "compile", "specs")  # generated/ swapped while the endpoint runs
    allowed, suspended, violations, reason = _decided(authzen.ask())
    assert not allowed, f"answered with the bundle the folder no longer holds: {reason}"
    assert suspended != active and violations == ["tenant.lifecycle"], (suspended, violations)
    assert f"tenant '{TENANT}' is suspended" in reason, reason
    assert f"now deciding with revision {suspended[:12]}" in authzen.stop()


def test_a_tampered_bundle_is_refused_with_the_reason_until_a_good_one_is_deployed(
        repo: Path, started: list[Endpoint]) -> None:
    authzen = _start(repo)
    started.append(authzen)
    assert _decided(authzen.ask())[0]
    _set_lifecycle(repo, "suspended", "past_due")
    _paybill(repo, "compile", "specs", "--out", "next")
    policies = repo / "next" / "bundles" / AGENT / "policies.cedar"
    policies.write_text(policies.read_text(encoding="utf-8") + "\n// edited after the compile\n", encoding="utf-8")
    _deploy(repo, repo / "next")
    assert "policies.cedar" in _refused(authzen, "hash")  # the active tenant's bundle does not answer either

    _paybill(repo, "compile", "specs")
    allowed, suspended, violations, reason = _decided(authzen.ask())
    assert not allowed and violations == ["tenant.lifecycle"], reason
    said = authzen.stop().splitlines()
    assert any("refused (hash)" in line and "HTTP 503" in line for line in said), said
    assert any(f"now deciding with revision {suspended[:12]}" in line for line in said), said


def test_an_older_revision_is_refused_with_a_revision_store(repo: Path, started: list[Endpoint]) -> None:
    authzen = _start(repo, "--revision-store", "revisions.json")
    started.append(authzen)
    shutil.copytree(repo / "generated", repo / "active-tree")  # the active tenant's bundle, kept
    _set_lifecycle(repo, "suspended", "past_due")
    _paybill(repo, "compile", "specs")
    assert not _decided(authzen.ask())[0]
    _deploy(repo, repo / "active-tree")  # the tenant active again by an old bundle, not by a compile
    assert "older than the newest loaded here" in _refused(authzen, "rollback")
    assert any("refused (rollback)" in line for line in authzen.stop().splitlines())


def test_a_bundle_signed_by_an_untrusted_key_is_refused(repo: Path, tmp_path: Path, started: list[Endpoint]) -> None:
    trusted, public, _ = write_keypair(tmp_path, "trusted")
    other, _, _ = write_keypair(tmp_path, "other")
    _paybill(repo, "compile", "specs", signing_key=trusted)
    authzen = _start(repo, "--public-key", str(public))
    started.append(authzen)
    assert _decided(authzen.ask())[0]
    _set_lifecycle(repo, "suspended", "past_due")
    _paybill(repo, "compile", "specs", signing_key=other)
    _refused(authzen, "signature")
    _paybill(repo, "compile", "specs", signing_key=trusted)
    allowed, _, violations, _ = _decided(authzen.ask())
    assert not allowed and violations == ["tenant.lifecycle"]

