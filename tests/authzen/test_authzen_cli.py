"""``paybill guard shadow-report`` and ``paybill authzen`` as a user runs them (subprocesses, real HTTP)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson
import pytest

from paybill.guard import Guard, ManualClock
from paybill.guard.shadow import ShadowGuard
from support.processes import first_line_then_signal

PAYBILL = [sys.executable, "-m", "paybill"]
PORT = 18231  # authz's range (18200-18299)


def paybill(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PAYBILL, *args], capture_output=True, text=True, cwd=cwd, timeout=120)


@pytest.fixture
def shadow_log(bundles, edited_bundles_for_cli, tmp_path) -> Path:
    """A real shadow log: the candidate drops invoices.due_date and grants customers.created_at."""
    log = tmp_path / "shadow.jsonl"
    clock = ManualClock(5.0)
    shadow = ShadowGuard.load(Guard.load(bundles / "billing-agent", clock=clock), edited_bundles_for_cli, log=log)
    for tenant in ("acme-corp", "globex"):
        run = shadow.start(tenant=tenant, workflow="dunning", run_id=f"run-{tenant}")
        run.check("read", "invoices", columns=["id", "due_date"], rows=2)
        run.check("read", "invoices", columns=["id"], rows=2)
        run.advance("load-customer")
        run.check("read", "customers", columns=["created_at"], rows=1)
    shadow.close()
    return log


@pytest.fixture
def edited_bundles_for_cli(tmp_path) -> Path:
    import shutil

    from guard.guard_support import SPECS, compile_bundles

    specs = tmp_path / "specs"
    shutil.copytree(SPECS, specs)
    agent = specs / "agents" / "billing-agent.yaml"
    agent.write_text(agent.read_text().replace("currency, status, due_date]", "currency, status]")
                     .replace("read: [id, name, plan_code]", "read: [id, name, plan_code, created_at]"))
    return compile_bundles(specs, tmp_path / "out") / "billing-agent"


def test_shadow_report_text_and_json(shadow_log):
    text = paybill("guard", "shadow-report", str(shadow_log))
    assert text.returncode == 0, text.stderr
    assert "4 disagreements" in text.stdout
    assert "  would-allow        2" in text.stdout and "  would-deny         2" in text.stdout
    assert "would-deny        2  (acl.column-not-granted)" in text.stdout
    assert "would-allow       2  specs/agents/billing-agent.yaml#permissions.tables.customers.read" in text.stdout
    assert "would-allow       2  read customers" in text.stdout
    assert "would-deny        2  read invoices" in text.stdout
    as_json = paybill("guard", "shadow-report", str(shadow_log), "--format", "json")
    report = json.loads(as_json.stdout)
    assert report["kinds"] == {"would-allow": 2, "would-deny": 2, "candidate-error": 0, "candidate-refused": 0}
    assert report["byTool"] == [{"kind": "would-allow", "tool": "read customers", "count": 2},
                                {"kind": "would-deny", "tool": "read invoices", "count": 2}]
    assert [e["run"] for e in report["examples"]["would-deny"]] == ["run-acme-corp", "run-globex"]
    assert report["problems"] == []
    assert paybill("guard", "shadow-report", str(shadow_log)).stdout == text.stdout  # deterministic


def test_shadow_report_problems_are_diagnostics(shadow_log, tmp_path):
    damaged = tmp_path / "damaged.jsonl"
    good = shadow_log.read_bytes().splitlines()
    damaged.write_bytes(b"\n".join([good[0], b"{not json", b"[1]", orjson.dumps({"format": "paybill.dev/shadow-log/v1",
                                                                                   "kind": "odd"}), good[1]]) + b"\n")
    result = paybill("guard", "shadow-report", str(damaged))
    assert result.returncode == 1
    assert "2 disagreements" in result.stdout
    lines = [line for line in result.stderr.splitlines() if "error[" in line]
    assert [line.split(": ")[0] for line in lines] == [f"{damaged.as_posix()}:{n}:1" for n in (2, 3, 4)]
    assert all("error[PB1402]" in line for line in lines)
    missing = paybill("guard", "shadow-report", str(tmp_path / "nope.jsonl"))
    assert missing.returncode == 1 and "error[PB1401]" in missing.stderr
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert "error[PB1401]" in paybill("guard", "shadow-report", str(fifo)).stderr


def test_authzen_refuses_to_start_without_a_usable_token_or_address(bundles, tmp_path):
    empty = tmp_path / "empty"
    empty.write_text("  \n")
    result = paybill("authzen", "--bundle", str(bundles / "billing-agent"), "--token-file", str(empty),
                     "--listen", "nowhere:99999")
    assert result.returncode == 1
    assert "error[PB1403]" in result.stderr and "error[PB1404]" in result.stderr  # both, in one run
    spaced = tmp_path / "spaced"
    spaced.write_text("two words")
    assert "error[PB1403]" in paybill("authzen", "--bundle", str(bundles / "billing-agent"),
                                      "--token-file", str(spaced)).stderr
    assert "error[PB1403]" in paybill("authzen", "--bundle", str(bundles / "billing-agent"),
                                      "--token-file", str(tmp_path / "missing")).stderr
    usage = paybill("authzen", "--bundle", str(bundles / "billing-agent"))
    assert usage.returncode == 2
    shadow_only = paybill("authzen", "--bundle", str(bundles / "billing-agent"), "--token-file", str(spaced),
                          "--shadow", str(bundles / "billing-agent"))
    assert shadow_only.returncode == 2 and "--shadow-log" in shadow_only.stderr
    for listen in ("127.0.0.1", "127.0.0.1:0", "host.example:80", "[::1:80"):
        bad = paybill("authzen", "--bundle", str(bundles / "billing-agent"), "--token-file", str(spaced),
                      "--listen", listen)
        assert "error[PB1404]" in bad.stderr, listen


def test_authzen_shadow_log_unwritable_or_candidate_refused(bundles, tmp_path):
    """As `paybill serve --shadow`: a shadow log that cannot be opened is PB1309 (it was an internal
    error, exit 70); a refused candidate (here: another agent's bundle) is a warning on standard error,
    not only a line in the log that reads like "no disagreements"."""
    token = tmp_path / "token"
    token.write_text("cli-token-0123456789\n")
    base = ["authzen", "--bundle", str(bundles / "billing-agent"), "--token-file", str(token)]
    unwritable = paybill(*base, "--listen", f"127.0.0.1:{PORT + 1}", "--shadow", str(bundles / "billing-agent"),
                         "--shadow-log", str(tmp_path / "no-such-dir" / "shadow.jsonl"))
    assert unwritable.returncode == 1, unwritable.stderr
    assert "error[PB1309]" in unwritable.stderr and "hint:" in unwritable.stderr
    assert "internal error" not in unwritable.stderr
    other = next(p for p in sorted(bundles.iterdir()) if p.is_dir() and p.name != "billing-agent")
    log = tmp_path / "shadow.jsonl"
    process = subprocess.Popen([*PAYBILL, *base, "--listen", f"127.0.0.1:{PORT + 1}", "--shadow", str(other),
                                "--shadow-log", str(log)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first, rest = first_line_then_signal(process, signal.SIGINT, timeout=30)
    assert "paybill authzen: warning: shadow off" in first and other.as_posix() in first, first + rest
    assert orjson.loads(log.read_bytes().splitlines()[0])["kind"] == "candidate-refused"


def test_authzen_serves_over_http_with_shadow_and_stops_cleanly(bundles, edited_bundles_for_cli, tmp_path):
    token = tmp_path / "token"
    token.write_text("cli-token-0123456789\n")
    log = tmp_path / "shadow.jsonl"
    process = subprocess.Popen([*PAYBILL, "authzen", "--bundle", str(bundles / "billing-agent"), "--token-file",
                                str(token), "--listen", f"127.0.0.1:{PORT}", "--shadow", str(edited_bundles_for_cli),
                                "--shadow-log", str(log)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{PORT}"
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(url + "/.well-known/authzen-configuration", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.communicate()
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
        body = {"subject": {"type": "agent", "id": "billing-agent"}, "action": {"name": "read"},
                "resource": {"type": "table", "id": "invoices", "properties": {"columns": ["due_date"]}},
                "context": {"tenant": "acme-corp", "workflow": "dunning", "step": "list-invoices"}}
        response = httpx.post(url + "/access/v1/evaluation", json=body,
                              headers={"Authorization": "Bearer cli-token-0123456789"})
        assert response.status_code == 200 and response.json()["decision"] is True  # the current bundle decides
        assert httpx.post(url + "/access/v1/evaluation", json=body).status_code == 401
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "revision" in err and "Traceback" not in err
    (record,) = [orjson.loads(line) for line in log.read_bytes().splitlines()]
    assert (record["kind"], record["op"], record["run"]) == ("would-deny", "evaluate", "what-if")
    assert record["request"]["columns"] == ["due_date"]


def test_authzen_stops_cleanly_on_sigterm(bundles, tmp_path):
    """SIGTERM (systemd, Kubernetes) is a clean shutdown too: exit 0, as documented, not uvicorn's
    re-raised signal killing the process (status -15/143)."""
    token = tmp_path / "token"
    token.write_text("cli-token-0123456789\n")
    process = subprocess.Popen([*PAYBILL, "authzen", "--bundle", str(bundles / "billing-agent"), "--token-file",
                                str(token), "--listen", f"127.0.0.1:{PORT + 2}"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{PORT + 2}/.well-known/authzen-configuration", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.communicate()
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "Traceback" not in err
