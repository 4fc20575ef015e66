"""`paybill serve --shadow` and `paybill serve --authzen`, as processes on a real PostgreSQL.

Shadow: the candidate bundle is ops-agent's next revision, compiled from the same specs with two
changes: ``maxCallsPerMinute`` 30 -> 40 (it would allow the 31st call of a minute, which the current
bundle denies) and ``tickets.read`` without ``assignee`` (it would deny a read the current bundle
allows). Driven by the official MCP client: the current bundle decides every call, the candidate's
disagreements are in the shadow log that `paybill guard shadow-report` summarises.

AuthZEN: the endpoint mounted on the same HTTP server, the same bearer token, asked with httpx.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import psycopg
import pytest
from clients import call, http_client, run, stdio_client
from serve_support import PAYBILL, ROOT, HttpServer, ServeWorld, start_http

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "db"))

from pg_support import write_bundles

pytestmark = pytest.mark.postgres

CALLS_PER_MINUTE = 30
READ_POLICY = "specs/agents/ops-agent.yaml#permissions.tables.tickets.read"


@pytest.fixture(scope="module")
def candidate(serve_world: ServeWorld, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ops-agent's next revision (see the module docstring), compiled like the current one."""
    base = tmp_path_factory.mktemp("candidate")
    specs = base / "specs"
    shutil.copytree(serve_world.specs, specs)
    agent = specs / "agents" / "ops-agent.yaml"
    text = agent.read_text(encoding="utf-8")
    edited = (text.replace("maxCallsPerMinute: 30", "maxCallsPerMinute: 40")
              .replace("read: [id, subject, status, priority, assignee]", "read: [id, subject, status, priority]"))
    assert edited.count("40") > text.count("40") and "priority, assignee]" not in edited
    agent.write_text(edited, encoding="utf-8")
    return write_bundles(specs, base / "out") / "ops-agent"


def _records(path: Path) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def _shadow_report(log: Path) -> dict[str, object]:
    done = subprocess.run([*PAYBILL, "guard", "shadow-report", str(log), "--format", "json"], capture_output=True,
                          text=True, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr
    return orjson.loads(done.stdout)


def test_shadow_never_weakens_enforcement_and_logs_both_directions(serve_world: ServeWorld, candidate: Path,
                                                                   tmp_path: Path) -> None:
    shadow_log = tmp_path / "shadow.jsonl"
    server = start_http(serve_world, tmp_path, extra=("--shadow", str(candidate), "--shadow-log", str(shadow_log)))
    try:
        async def body() -> tuple[str, tuple[bool, dict[str, object]], list[tuple[bool, dict[str, object]]]]:
            async with http_client(server.url, server.token) as client:
                _, started = await call(client, "start_run", tenant="beta-co", workflow="incident-response")
                rid = started["run_id"]
                # current allows assignee, the candidate would not: the read is performed (would-deny)
                narrowed = await call(client, "read_tickets", run_id=rid, tenant="beta-co",
                                      columns=["id", "assignee"])
                # calls 2..31: the 31st is over the current limit of 30 and under the candidate's 40
                rest = [await call(client, "read_tickets", run_id=rid, tenant="beta-co", columns=["id"])
                        for _ in range(CALLS_PER_MINUTE)]
                return rid, narrowed, rest

        rid, (ok, narrowed), rest = run(body)
    finally:
        assert server.stop() == 0, "".join(server.stderr)
    assert ok and narrowed["count"] > 0 and narrowed["reasons"] == [READ_POLICY]
    assert all(ok for ok, _ in rest[:-1])
    over_ok, over = rest[-1]
    assert not over_ok and "rows" not in over  # the candidate would allow it: it stays denied
    assert "limit.maxCallsPerMinute" in over["violations"]
    with psycopg.connect(serve_world.dsn) as conn:
        stored = conn.execute("SELECT state FROM paybill.runs WHERE id = %s", (rid,)).fetchone()[0]
    # only the reads the current bundle allowed were charged
    assert stored["rowsRead"] == narrowed["count"] + sum(data["count"] for _, data in rest[:-1])

    records = _records(shadow_log)
    assert [r["kind"] for r in records] == ["would-deny", "would-allow"], records
    deny, allow = records
    assert deny["run"] == rid and deny["tenant"] == "beta-co" and deny["step"] == "inspect" and deny["op"] == "check"
    assert deny["request"]["action"] == "read" and sorted(deny["request"]["columns"]) == ["assignee", "id"]
    assert deny["current"]["allowed"] and deny["current"]["reasons"] == [READ_POLICY]
    assert not deny["candidate"]["allowed"] and deny["candidate"]["violations"] == ["acl.column-not-granted"]
    assert deny["current"]["revision"] != deny["candidate"]["revision"]
    assert not allow["current"]["allowed"] and allow["candidate"]["allowed"]
    assert allow["current"]["reasons"] == ["specs/agents/ops-agent.yaml#limits.maxCallsPerMinute"]
    assert allow["candidate"]["reasons"] == [READ_POLICY]

    report = _shadow_report(shadow_log)
    assert report["disagreements"] == 2
    assert report["kinds"]["would-allow"] == 1 and report["kinds"]["would-deny"] == 1
    assert {"kind": "would-allow", "tool": "read tickets", "count": 1} in report["byTool"]
    assert {"kind": "would-deny", "policy": "(acl.column-not-granted)", "count": 1} in report["byPolicy"]


def test_a_refused_candidate_leaves_enforcement_alone_over_stdio(serve_world: ServeWorld, candidate: Path,
                                                                 tmp_path: Path) -> None:
    tampered = tmp_path / "tampered"
    shutil.copytree(candidate, tampered)
    policies = tampered / "policies.cedar"
    policies.write_text(policies.read_text() + "\npermit(principal, action, resource);\n")
    shadow_log = tmp_path / "shadow.jsonl"
    args = [*PAYBILL, "serve", "--bundle", str(serve_world.bundle), "--catalog", str(serve_world.catalog),
            "--database-url", serve_world.dsn, "--shadow", str(tampered), "--shadow-log", str(shadow_log)]

    async def body() -> tuple[bool, dict[str, object], bool, dict[str, object]]:
        async with stdio_client(args) as client:
            _, started = await call(client, "start_run", tenant="beta-co", workflow="incident-response")
            ok, read = await call(client, "read_tickets", run_id=started["run_id"], tenant="beta-co",
                                  columns=["id"])
            denied, update = await call(client, "update_tickets", run_id=started["run_id"], tenant="beta-co",
                                        set={"status": "closed"}, where={"status": "open"})
            return ok, read, denied, update

    ok, read, denied, update = run(body)
    assert ok and read["count"] > 0
    assert not denied and "workflow.step-action" in update["violations"]
    records = _records(shadow_log)
    assert [r["kind"] for r in records] == ["candidate-refused"] and records[0]["reason"] == "hash"


def _serve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PAYBILL, "serve", *args], capture_output=True, text=True, cwd=ROOT, timeout=120,
                          check=False, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("flags", [("--shadow", "."), ("--shadow-log", "x.jsonl"), ("--authzen",)])
def test_flag_combinations_that_cannot_work_are_usage_errors(serve_world: ServeWorld, flags: tuple[str, ...]) -> None:
    done = _serve("--bundle", str(serve_world.bundle), "--catalog", str(serve_world.catalog), "--database-url",
                  serve_world.dsn, *flags)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert ("--shadow" in done.stderr) if flags[0].startswith("--shadow") else ("--transport http" in done.stderr)


def test_an_unwritable_shadow_log_is_a_start_up_problem(serve_world: ServeWorld, candidate: Path,
                                                       tmp_path: Path) -> None:
    done = _serve("--bundle", str(serve_world.bundle), "--catalog", str(serve_world.catalog), "--database-url",
                  serve_world.dsn, "--shadow", str(candidate), "--shadow-log", str(tmp_path / "no" / "such.jsonl"))
    assert done.returncode == 1 and "error[PB1309]" in done.stderr and "hint:" in done.stderr


# -- AuthZEN on the same server -------------------------------------------------------------------------------

def _question(**overrides: object) -> dict[str, object]:
    question: dict[str, object] = {
        "subject": {"type": "agent", "id": "ops-agent"},
        "action": {"name": "read"},
        "resource": {"type": "table", "id": "tickets", "properties": {"columns": ["id", "status"], "rows": 5}},
        "context": {"tenant": "beta-co", "workflow": "incident-response", "step": "inspect"},
    }
    question.update(overrides)
    return question


@pytest.fixture(scope="module")
def authzen_server(serve_world: ServeWorld, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpServer]:
    server = start_http(serve_world, tmp_path_factory.mktemp("authzen"), extra=("--authzen",))
    yield server
    assert server.stop() == 0, "".join(server.stderr)


def _base(server: HttpServer) -> str:
    return server.url.removesuffix("/mcp")


def _post(server: HttpServer, path: str, body: bytes, token: str | None) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.post(_base(server) + path, content=body, headers=headers, timeout=30)


def test_authzen_evaluation_answers_with_the_served_bundle(authzen_server: HttpServer) -> None:
    token = authzen_server.token
    allowed = _post(authzen_server, "/access/v1/evaluation", orjson.dumps(_question()), token)
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["decision"] is True and allowed.json()["context"]["reasons"] == [READ_POLICY]
    update = _post(authzen_server, "/access/v1/evaluation", orjson.dumps(_question(action={"name": "update"})), token)
    assert update.json()["decision"] is False
    assert update.json()["context"]["violations"] == ["workflow.step-action"]
    batch = _post(authzen_server, "/access/v1/evaluations", orjson.dumps({
        **_question(), "evaluations": [{}, {"resource": {"type": "table", "id": "tickets",
                                                         "properties": {"columns": ["body"]}}}]}), token)
    assert batch.status_code == 200
    assert [e["decision"] for e in batch.json()["evaluations"]] == [True, False]


def test_authzen_needs_the_servers_bearer_token(authzen_server: HttpServer) -> None:
    body = orjson.dumps(_question())
    for token in (None, "wrong-token-wrong-token", authzen_server.token + "x"):
        response = _post(authzen_server, "/access/v1/evaluation", body, token)
        assert response.status_code == 401 and "decision" not in response.text
    metadata = httpx.get(_base(authzen_server) + "/.well-known/authzen-configuration", timeout=30)
    assert metadata.status_code == 200  # public: endpoint URLs only, as the AuthZEN spec expects
    assert metadata.json()["access_evaluation_endpoint"] == _base(authzen_server) + "/access/v1/evaluation"
    assert metadata.json()["access_evaluations_endpoint"] == _base(authzen_server) + "/access/v1/evaluations"
    # the exemption is that one GET: the metrics and the MCP endpoint still need the token
    assert httpx.get(_base(authzen_server) + "/metrics", timeout=30).status_code == 401
    assert httpx.post(_base(authzen_server) + "/.well-known/authzen-configuration", timeout=30).status_code == 401


def test_authzen_malformed_bodies_are_clear_400s(authzen_server: HttpServer) -> None:
    token = authzen_server.token
    not_json = _post(authzen_server, "/access/v1/evaluation", b'{"subject":', token)
    assert not_json.status_code == 400 and not_json.json()["error"] == "invalid_request"
    no_action = _question()
    del no_action["action"]
    missing = _post(authzen_server, "/access/v1/evaluation", orjson.dumps(no_action), token)
    assert missing.status_code == 400 and "action" in missing.json()["error_description"]
    wrong_type = _post(authzen_server, "/access/v1/evaluations", orjson.dumps({"evaluations": 3}), token)
    assert wrong_type.status_code == 400 and "evaluations" in wrong_type.json()["error_description"]
    too_big = _post(authzen_server, "/access/v1/evaluation", b'{"x":"' + b"a" * 2_000_000 + b'"}', token)
    assert too_big.status_code == 413


def test_mcp_still_served_beside_authzen(authzen_server: HttpServer) -> None:
    async def body() -> tuple[bool, dict[str, object]]:
        async with http_client(authzen_server.url, authzen_server.token) as client:
            _, started = await call(client, "start_run", tenant="beta-co", workflow="incident-response")
            return await call(client, "read_tickets", run_id=started["run_id"], tenant="beta-co", columns=["id"])

    ok, read = run(body)
    assert ok and read["count"] > 0
