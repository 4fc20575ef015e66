"""The TypeScript example (examples/typescript-agent, official MCP TypeScript SDK) against a real
`paybill serve` over streamable HTTP, under Node 20. Without node or its installed dependencies the
test skips, except under CI=true, where it fails: `make test` runs `npm ci` for it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
from serve_support import ROOT, HttpServer, ServeWorld

pytestmark = pytest.mark.postgres

EXAMPLE = ROOT / "examples" / "typescript-agent"
IN_CI = os.environ.get("CI", "").lower() == "true"


def _require_node() -> str:
    node = shutil.which("node")
    problem = None
    if node is None:
        problem = "node is not on PATH"
    elif not (EXAMPLE / "node_modules" / "@modelcontextprotocol" / "sdk").is_dir():
        problem = f"run `npm ci` in {EXAMPLE.relative_to(ROOT)} (make test does)"
    else:
        version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout.strip()
        if int(version.lstrip("v").split(".")[0]) < 20:
            problem = f"Node 20 or later required, found {version}"
    if problem:
        if IN_CI:
            pytest.fail(f"TypeScript agent example cannot run: {problem}; CI=true requires it", pytrace=False)
        pytest.skip(problem)
    assert node is not None
    return node


def test_typescript_agent_reads_its_tenants_rows_and_is_refused_out_of_order(http_server: HttpServer,
                                                                             serve_world: ServeWorld) -> None:
    node = _require_node()
    done = subprocess.run([node, "agent.mjs"], cwd=EXAMPLE, capture_output=True, text=True, timeout=120, check=False,
                          env={**os.environ, "PAYBILL_MCP_URL": http_server.url,
                               "PAYBILL_SERVE_TOKEN": http_server.token, "TENANT": "beta-co"})
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert "read_tickets" in out["tools"] and "start_run" in out["tools"]
    assert out["step"] == "inspect"
    assert {r["id"] for r in out["rows"]} == {str(k) for k in serve_world.world.rows[("tickets", "beta-co")]}
    assert out["refused"] is True and "workflow.step-action" in out["violations"]


def test_typescript_agent_without_the_token_is_refused(http_server: HttpServer) -> None:
    node = _require_node()
    done = subprocess.run([node, "agent.mjs"], cwd=EXAMPLE, capture_output=True, text=True, timeout=120, check=False,
                          env={**os.environ, "PAYBILL_MCP_URL": http_server.url,
                               "PAYBILL_SERVE_TOKEN": "not-the-token-not-the-token"})
    assert done.returncode == 1 and "(HTTP 401)" in done.stderr and "    at " not in done.stderr, done.stderr


def test_typescript_agent_reports_an_unreachable_server_in_one_line() -> None:
    # the example died with a Node stack trace (uncaught StreamableHTTPError / fetch failed)
    node = _require_node()
    url = "http://127.0.0.1:1/mcp"
    done = subprocess.run([node, "agent.mjs"], cwd=EXAMPLE, capture_output=True, text=True, timeout=120, check=False,
                          env={**os.environ, "PAYBILL_MCP_URL": url, "PAYBILL_SERVE_TOKEN": "not-the-token-not-the"})
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith(f"paybill agent: {url}: ") and done.stderr.count("\n") == 1, done.stderr
