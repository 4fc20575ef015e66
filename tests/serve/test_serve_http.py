"""`paybill serve --transport http` as a process, driven by the official MCP Python client, on a real
PostgreSQL with the compiled SQL applied: tool listing, allowed and denied calls with reasons,
cross-tenant and foreign run ids, workflow order, approvals end to end, lifecycle refusals, hostile
input, bearer tokens and request bounds, metrics."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from clients import call, http_client, run
from serve_support import PAYBILL, REFUSED_STATES, ROOT, HttpServer, ServeWorld, start_http

pytestmark = pytest.mark.postgres

COLUMNS = ["id", "subject", "status", "priority", "assignee"]


@pytest.fixture(scope="module")
def server(serve_world: ServeWorld, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpServer]:
    # no decision log: runs continue from the state the server stored last (optimistic, versioned),
    # so every test here also proves that path; a human's approval in between is a version conflict
    started = start_http(serve_world, tmp_path_factory.mktemp("http"), log=False)
    yield started
    assert started.stop() == 0, "".join(started.stderr)


def tickets_of(world: ServeWorld, tenant: str) -> set[str]:
    return {str(k) for k in world.world.rows[("tickets", tenant)]}


def test_tools_list_shows_only_what_the_agent_can_use(server: HttpServer) -> None:
    async def body() -> dict[str, object]:
        async with http_client(server.url, server.token) as client:
            return {t.name: t for t in (await client.list_tools()).tools}

    tools = run(body)
    assert sorted(tools) == ["advance_step", "delete_tickets", "insert_tickets", "read_tickets", "request_approval",
                             "start_run", "update_tickets"]
    read = tools["read_tickets"]
    assert read.input_schema["properties"]["columns"]["items"]["enum"] == sorted(COLUMNS)  # body (PII) not granted
    assert read.input_schema["additionalProperties"] is False
    assert "incident-response/inspect" in (read.description or "")
    assert read.annotations is not None and read.annotations.read_only_hint
    update = tools["update_tickets"]
    assert sorted(update.input_schema["properties"]["set"]["properties"]) == ["assignee", "status"]
    assert update.input_schema["properties"]["set"]["properties"]["assignee"]["type"] == ["string", "null"]
    assert "incident-response/close-tickets" in (update.description or "")
    assert "propose_change" not in tools  # no propose step, no spec repository


def test_tool_descriptions_tell_the_agent_its_limits_and_what_a_limit_does(server: HttpServer) -> None:
    """An agent learns from tools/list alone what it may do: each run's limits, which step waits for a
    human, and that ``limit`` refuses a call matching more rows instead of cutting the result short."""
    async def body() -> dict[str, object]:
        async with http_client(server.url, server.token) as client:
            return {t.name: t for t in (await client.list_tools()).tools}

    tools = run(body)
    start = tools["start_run"].description or ""
    for words in ("10 steps", "2000 rows read", "500 rows written", "30 calls per minute", "300 s", "5000 budget"):
        assert words in start, start
    advance = tools["advance_step"].description or ""
    assert "inspect -> close-tickets (needs a human's approval: request_approval)|" in advance, advance
    read_limit = tools["read_tickets"].input_schema["properties"]["limit"]["description"]
    assert "refused (limit.requested)" in read_limit and "never cut short" in read_limit
    for name in ("update_tickets", "delete_tickets"):
        assert "limit.requested" in tools[name].input_schema["properties"]["limit"]["description"]


def test_a_read_returns_only_the_runs_tenant_rows_and_charges_the_run(server: HttpServer,
                                                                      serve_world: ServeWorld) -> None:
    async def body() -> tuple[dict[str, object], dict[str, object]]:
        async with http_client(server.url, server.token) as client:
            ok, started = await call(client, "start_run", tenant="beta-co", workflow="incident-response")
            assert ok and started["step"] == "inspect"
            ok, read = await call(client, "read_tickets", run_id=started["run_id"], tenant="beta-co", columns=COLUMNS)
            assert ok, read
            return started, read

    started, read = run(body)
    assert {r["id"] for r in read["rows"]} == tickets_of(serve_world, "beta-co")
    assert read["reasons"] == ["specs/agents/ops-agent.yaml#permissions.tables.tickets.read"]
    with psycopg.connect(serve_world.dsn) as conn:
        state = conn.execute("SELECT state FROM paybill.runs WHERE id = %s", (started["run_id"],)).fetchone()[0]
    assert state["rowsRead"] == len(read["rows"]) and len(state["calls"]) == 1


def test_guard_denials_carry_the_reasons_and_the_step(server: HttpServer) -> None:
    async def body() -> list[tuple[bool, dict[str, object]]]:
        async with http_client(server.url, server.token) as client:
            _, started = await call(client, "start_run", tenant="beta-co", workflow="incident-response")
            rid = started["run_id"]
            return [
                # update in the read step: the workflow's order
                await call(client, "update_tickets", run_id=rid, tenant="beta-co", set={"status": "closed"},
                           where={"id": str(uuid.uuid4())}),
                await call(client, "advance_step", run_id=rid, tenant="beta-co", step="open-followup"),
                # advancing where no transition leads: open-followup goes to done only
                await call(client, "advance_step", run_id=rid, tenant="beta-co", step="purge-duplicates"),
                await call(client, "advance_step", run_id=rid, tenant="beta-co", step="inspect"),
            ]

    (ok1, update), (ok2, moved), (ok3, skip), (ok4, back) = run(body)
    assert not ok1 and update["error"] == "denied" and "workflow.step-action" in update["violations"]
    assert update["step"] == "inspect" and update["reasons"] == []
    assert ok2 and moved["step"] == "open-followup"
    assert not ok3 and skip["violations"] == ["workflow.order"] and skip["step"] == "open-followup"
    assert not ok4 and back["violations"] == ["workflow.order"]


def test_schema_refuses_columns_outside_the_grant_and_injection(server: HttpServer, serve_world: ServeWorld) -> None:
    async def body() -> list[tuple[bool, dict[str, object]]]:
        async with http_client(server.url, server.token) as client:
            _, started = await call(client, "start_run", tenant="beta-co", workflow="incident-response")
            rid = started["run_id"]
            return [
                await call(client, "read_tickets", run_id=rid, tenant="beta-co", columns=["id", "body"]),
                await call(client, "read_tickets", run_id=rid, tenant="beta-co", columns=['id" FROM crm.customers --']),
                await call(client, "read_tickets", run_id=rid, tenant="beta-co", columns=["id"],
                           where={"status; DROP TABLE crm.tickets": "x"}),
                await call(client, "read_tickets", run_id=rid, tenant="beta-co", columns=["id"],
                           where={"status": "x' OR '1'='1"}),
                await call(client, "read_tickets", run_id=rid, tenant="beta-co", columns=["id"], sql="SELECT 1"),
                await call(client, "no_such_tool", run_id=rid),
            ]

    results = run(body)
    for ok, data in results[:3] + results[4:]:
        assert not ok and data["error"] == "invalid", data
    assert "body" in results[0][1]["message"]
    ok, injected = results[3]
    assert ok and injected["rows"] == []  # a value is a bind parameter: it matches no row
    with psycopg.connect(serve_world.dsn.replace(f"user={serve_world.login}", "user=postgres")) as conn:
        assert conn.execute("SELECT count(*) FROM crm.tickets").fetchone()[0] > 0


def test_another_tenants_or_unknown_run_id_is_refused(server: HttpServer) -> None:
    async def body() -> list[tuple[bool, dict[str, object]]]:
        async with http_client(server.url, server.token) as client:
            _, started = await call(client, "start_run", tenant="beta-co", workflow="incident-response")
            rid = started["run_id"]
            return [
                await call(client, "read_tickets", run_id=rid, tenant="delta-co", columns=["id"]),
                await call(client, "read_tickets", run_id="run-0000", tenant="beta-co", columns=["id"]),
                await call(client, "start_run", tenant="alpha-co", workflow="incident-response"),
            ]

    (ok1, cross), (ok2, unknown), (ok3, out_of_scope_start) = run(body)
    assert not ok1 and cross["violations"] == ["run.unknown"]
    assert not ok2 and unknown["violations"] == ["run.unknown"]
    assert cross["message"].replace("delta-co", "T").replace(cross["message"].split("'")[1], "R") == \
        unknown["message"].replace("beta-co", "T").replace("run-0000", "R")  # the same words: nothing leaks
    assert ok3  # a run for a tenant outside the scope starts, but every call in it is denied:

    async def denied() -> tuple[bool, dict[str, object]]:
        async with http_client(server.url, server.token) as client:
            return await call(client, "read_tickets", run_id=out_of_scope_start["run_id"], tenant="alpha-co",
                              columns=["id"])

    ok, data = run(denied)
    assert not ok and "tenant.out-of-scope" in data["violations"]


@pytest.mark.parametrize("tenant", sorted(REFUSED_STATES))
def test_tenants_in_refused_lifecycle_states_are_refused_with_the_reason(server: HttpServer, tenant: str) -> None:
    async def body() -> tuple[bool, dict[str, object]]:
        async with http_client(server.url, server.token) as client:
            _, started = await call(client, "start_run", tenant=tenant, workflow="incident-response")
            return await call(client, "read_tickets", run_id=started["run_id"], tenant=tenant, columns=["id"])

    ok, data = run(body)
    assert not ok and "tenant.lifecycle" in data["violations"], data
    assert f"is {REFUSED_STATES[tenant]}" in data["explanation"]


def test_approval_end_to_end_with_paybill_guard_approve(server: HttpServer, serve_world: ServeWorld,
                                                       tmp_path: Path) -> None:
    ticket = sorted(tickets_of(serve_world, "delta-co"))[0]

    async def before() -> tuple[str, list[tuple[bool, dict[str, object]]]]:
        async with http_client(server.url, server.token) as client:
            _, started = await call(client, "start_run", tenant="delta-co", workflow="incident-response")
            rid = started["run_id"]
            return rid, [
                await call(client, "advance_step", run_id=rid, tenant="delta-co", step="close-tickets"),
                await call(client, "request_approval", run_id=rid, tenant="delta-co", step="close-tickets",
                           reason="incident 42 resolved"),
            ]

    rid, [(ok1, pending), (ok2, requested)] = run(before)
    assert not ok1 and pending["pending_approval"] is True and "workflow.approval-required" in pending["violations"]
    # the hint is a command a person can run: `guard approve` requires --bundle and --database-url
    assert f"`paybill guard approve {rid} close-tickets --by EMAIL --bundle generated/bundles/ops-agent " \
           "--database-url URL`" in pending["hint"], pending["hint"]
    assert requested["hint"] == pending["hint"]
    assert ok2 and requested["pending_approval"]
    log = tmp_path / "approvals.jsonl"
    approve = [*PAYBILL, "guard", "approve", rid, "close-tickets", "--bundle", str(serve_world.bundle),
               "--database-url", serve_world.dsn, "--log", str(log)]
    agent = subprocess.run([*approve[:6], "--by", "ops-agent", *approve[6:]], capture_output=True, text=True,
                           cwd=ROOT, check=False)
    assert agent.returncode == 1 and "PB1311" in agent.stderr  # never by the agent itself
    human = subprocess.run([*approve, "--by", "oncall@example.com"], capture_output=True, text=True, cwd=ROOT,
                           check=False)
    assert human.returncode == 0, human.stderr
    assert '"op":"approve"' in log.read_text() and "oncall@example.com" in log.read_text()

    async def after() -> list[tuple[bool, dict[str, object]]]:
        async with http_client(server.url, server.token) as client:
            return [
                await call(client, "advance_step", run_id=rid, tenant="delta-co", step="close-tickets"),
                await call(client, "update_tickets", run_id=rid, tenant="delta-co", set={"status": "closed"},
                           where={"id": ticket}),
            ]

    (ok3, advanced), (ok4, updated) = run(after)
    assert ok3 and advanced["step"] == "close-tickets"
    assert ok4 and updated["rows"] == 1
    with psycopg.connect(serve_world.dsn.replace(f"user={serve_world.login}", "user=postgres")) as conn:
        assert conn.execute("SELECT status FROM crm.tickets WHERE id = %s", (ticket,)).fetchone()[0] == "closed"
        conn.execute("UPDATE crm.tickets SET status = 'x' WHERE id = %s", (ticket,))


def test_unknown_run_for_guard_approve(serve_world: ServeWorld) -> None:
    done = subprocess.run([*PAYBILL, "guard", "approve", "run-nope", "close-tickets", "--by", "a@example.com",
                           "--bundle", str(serve_world.bundle), "--database-url", serve_world.dsn],
                          capture_output=True, text=True, cwd=ROOT, check=False)
    assert done.returncode == 1 and "error[PB1310]" in done.stderr and "Traceback" not in done.stderr


def _post(server: HttpServer, body: bytes | str, token: str | None = "ok", **headers: str) -> httpx.Response:
    sent = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
            "MCP-Protocol-Version": "2025-11-25", **headers}
    if token is not None:
        sent["Authorization"] = f"Bearer {server.token if token == 'ok' else token}"
    return httpx.post(server.url, content=body, headers=sent, timeout=30)


LIST = b'{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}'


def test_bearer_token_is_required_and_compared(server: HttpServer) -> None:
    assert _post(server, LIST).status_code == 200
    for token in (None, "wrong-token-wrong-token", server.token + "x", server.token[:-1]):
        response = _post(server, LIST, token=token)
        assert response.status_code == 401 and response.headers["www-authenticate"].startswith("Bearer")
    assert httpx.get(server.url.replace("/mcp", "/metrics")).status_code == 401


def test_oversized_and_malformed_requests_are_refused_cleanly(server: HttpServer) -> None:
    big = b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read_tickets","arguments":{"x":"' \
        + b"a" * 2_000_000 + b'"}}}'
    assert _post(server, big).status_code == 413
    malformed = _post(server, b'{"jsonrpc":"2.0","id":1,"method":')
    assert malformed.status_code == 400 and "Traceback" not in malformed.text
    not_rpc = _post(server, b"[1, 2, 3]")
    assert 400 <= not_rpc.status_code < 500


def test_internal_errors_leak_no_connection_details(server: HttpServer) -> None:
    async def body() -> tuple[bool, dict[str, object]]:
        async with http_client(server.url, server.token) as client:
            _, started = await call(client, "start_run", tenant="beta-co", workflow="incident-response")
            # a primary key that is not a uuid: PostgreSQL rejects the statement
            await call(client, "advance_step", run_id=started["run_id"], tenant="beta-co", step="open-followup")
            return await call(client, "insert_tickets", run_id=started["run_id"], tenant="beta-co",
                              values={"id": str(uuid.uuid4()), "subject": "s", "status": "open", "priority": "p",
                                      "customer_id": str(uuid.uuid4()), "created_at": "not a time"})

    ok, data = run(body)
    assert not ok
    text = str(data)
    assert "127.0.0.1" not in text and "postgres" not in text.lower().replace("postgresql rejected", "")
    assert "Traceback" not in text


def test_metrics_count_decisions_by_outcome_tool_and_policy(server: HttpServer) -> None:
    async def body() -> None:  # its own calls: under xdist the module's other tests may run elsewhere
        async with http_client(server.url, server.token) as client:
            _, started = await call(client, "start_run", tenant="beta-co", workflow="incident-response")
            rid = started["run_id"]
            assert (await call(client, "read_tickets", run_id=rid, tenant="beta-co", columns=["id"]))[0]
            assert not (await call(client, "advance_step", run_id=rid, tenant="beta-co", step="close-tickets"))[0]
            assert not (await call(client, "read_tickets", run_id=rid, tenant="beta-co", columns=["nope"]))[0]

    run(body)
    response = httpx.get(server.url.replace("/mcp", "/metrics"), headers={"Authorization": f"Bearer {server.token}"})
    assert response.status_code == 200
    text = response.text
    assert 'paybill_serve_decisions_total{agent="ops-agent",outcome="allowed",' \
           'policy="specs/agents/ops-agent.yaml#permissions.tables.tickets.read",tool="read_tickets"}' in text
    assert 'outcome="denied"' in text and 'outcome="invalid"' in text
    assert "paybill_serve_call_seconds_bucket" in text


def test_refused_statements_roll_back_and_the_run_goes_on(server: HttpServer, serve_world: ServeWorld) -> None:
    """The savepoint paths of a call: too many rows (rolled back, nothing charged), a statement
    PostgreSQL rejects (rolled back), and the run's transaction still commits its books."""
    admin = serve_world.dsn.replace(f"user={serve_world.login}", "user=postgres")

    def count() -> int:
        with psycopg.connect(admin) as conn:
            return conn.execute("SELECT count(*) FROM crm.tickets WHERE tenant_id = 'beta-co'").fetchone()[0]

    before = count()

    async def body() -> tuple[str, list[tuple[bool, dict[str, object]]]]:
        async with http_client(server.url, server.token) as client:
            _, first = await call(client, "start_run", tenant="beta-co", workflow="incident-response")
            _, second = await call(client, "start_run", tenant="beta-co", workflow="incident-response")
            a, b = first["run_id"], second["run_id"]
            await call(client, "advance_step", run_id=a, tenant="beta-co", step="purge-duplicates")
            await call(client, "advance_step", run_id=b, tenant="beta-co", step="open-followup")
            return a, [
                await call(client, "delete_tickets", run_id=a, tenant="beta-co", where={}, limit=1),
                await call(client, "advance_step", run_id=a, tenant="beta-co", step="done"),
                await call(client, "insert_tickets", run_id=b, tenant="beta-co",
                           values={"id": str(uuid.uuid4()), "subject": "s", "status": "open", "priority": "p",
                                   "customer_id": str(uuid.uuid4()), "created_at": "not a time"}),
                await call(client, "advance_step", run_id=b, tenant="beta-co", step="done"),
            ]

    rid, [(ok1, over), (ok2, done), (ok3, failed), (ok4, done_b)] = run(body)
    assert not ok1 and over["violations"] == ["limit.requested"], over
    assert ok2 and done["step"] == "done"
    assert not ok3 and failed["error"] == "statement" and failed["sqlstate"] == "22007"
    # a data exception says which value and type, in PostgreSQL's words quoting the agent's own value
    assert 'timestamp with time zone: "not a time"' in failed["message"], failed
    assert ok4 and done_b["step"] == "done"
    assert count() == before  # the delete was rolled back
    with psycopg.connect(serve_world.dsn) as conn:
        state = conn.execute("SELECT state FROM paybill.runs WHERE id = %s", (rid,)).fetchone()[0]
        assert conn.execute("SELECT current_user").fetchone()[0] == serve_world.login
    assert state["step"] == "done" and state["rowsWritten"] == 0 and len(state["calls"]) == 3


def test_values_postgresql_cannot_take_are_invalid_with_their_path(server: HttpServer,
                                                                   serve_world: ServeWorld) -> None:
    """A NUL character in text (PostgreSQL text cannot hold one) and NaN or Infinity (JSON has no such
    numbers, yet the SDK's parser reads them) are refused as ``invalid`` naming the argument, never an
    ``internal`` error, and the run is charged nothing for them."""
    async def body() -> tuple[str, list[tuple[bool, dict[str, object]]]]:
        async with http_client(server.url, server.token) as client:
            _, started = await call(client, "start_run", tenant="beta-co", workflow="incident-response")
            rid = started["run_id"]
            return rid, [
                await call(client, "read_tickets", run_id=rid, tenant="beta-co", columns=["id"],
                           where={"subject": "incident\x00 42"}),
                await call(client, "request_approval", run_id=rid, tenant="beta-co", step="close-tickets",
                           reason="outage\x00"),
            ]

    rid, [(ok1, read), (ok2, approval)] = run(body)
    assert not ok1 and read["error"] == "invalid", read
    assert read["message"].startswith("where/subject: text cannot contain NUL"), read
    assert not ok2 and approval["error"] == "invalid" and approval["message"].startswith("reason: "), approval
    call_of = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read_tickets","arguments":' \
              '{"run_id":"%s","tenant":"beta-co","columns":["id"],"where":{"assignee":%s}}}}'
    for literal in ("NaN", "Infinity", "-Infinity"):
        response = _post(server, call_of % (rid, literal))
        assert response.status_code == 200, response.text
        result = response.json()["result"]
        assert result["isError"] and result["structuredContent"]["error"] == "invalid", result
        message = result["structuredContent"]["message"]
        assert message.startswith("where/assignee: ") and "not a JSON number" in message, message
    with psycopg.connect(serve_world.dsn) as conn:
        state = conn.execute("SELECT state FROM paybill.runs WHERE id = %s", (rid,)).fetchone()[0]
    assert state["rowsRead"] == 0 and state["calls"] == []


def test_an_approval_is_asked_for_only_where_the_run_could_use_it(server: HttpServer, serve_world: ServeWorld) -> None:
    """request_approval and advance_step into a step that needs a human: from a finished run, or for a
    tenant out of scope, the real reason is given and no approval is left pending for a human to grant
    in vain; where the run can go on, the approval is pending, and once granted it is said so."""
    async def body() -> tuple[list[str], list[tuple[bool, dict[str, object]]]]:
        async with http_client(server.url, server.token) as client:
            _, done = await call(client, "start_run", tenant="beta-co", workflow="incident-response")
            _, foreign = await call(client, "start_run", tenant="alpha-co", workflow="incident-response")
            _, live = await call(client, "start_run", tenant="beta-co", workflow="incident-response")
            d, f, lv = done["run_id"], foreign["run_id"], live["run_id"]
            assert (await call(client, "advance_step", run_id=d, tenant="beta-co", step="done"))[0]
            return [lv, d, f], [
                await call(client, "request_approval", run_id=d, tenant="beta-co", step="close-tickets", reason="x"),
                await call(client, "advance_step", run_id=d, tenant="beta-co", step="close-tickets"),
                await call(client, "request_approval", run_id=f, tenant="alpha-co", step="close-tickets"),
                await call(client, "advance_step", run_id=f, tenant="alpha-co", step="close-tickets"),
                await call(client, "request_approval", run_id=lv, tenant="beta-co", step="close-tickets",
                           reason="incident 7"),
            ]

    (live, *refused), [(ok1, asked_done), (ok2, moved_done), (ok3, asked_foreign), (ok4, moved_foreign),
                       (ok5, asked)] = run(body)
    assert not ok1 and asked_done["violations"] == ["workflow.finished"], asked_done
    assert asked_done["message"].startswith("no approval requested: ") and "pending_approval" not in asked_done
    assert not ok2 and moved_done["violations"] == ["workflow.finished"] and "pending_approval" not in moved_done
    assert not ok3 and asked_foreign["violations"] == ["tenant.out-of-scope"], asked_foreign
    assert not ok4 and moved_foreign["violations"] == ["tenant.out-of-scope"] and "hint" not in moved_foreign
    assert ok5 and asked["pending_approval"] is True and "paybill guard approve" in asked["hint"]
    with psycopg.connect(serve_world.dsn) as conn:
        pending = dict(conn.execute("SELECT id, pending FROM paybill.runs WHERE id = ANY(%s)",
                                    ([live, *refused],)).fetchall())
    assert pending == {live: {"close-tickets": "incident 7"}, **{rid: {} for rid in refused}}
    approved = subprocess.run([*PAYBILL, "guard", "approve", live, "close-tickets", "--by", "oncall@example.com",
                               "--bundle", str(serve_world.bundle), "--database-url", serve_world.dsn],
                              capture_output=True, text=True, cwd=ROOT, check=False)
    assert approved.returncode == 0, approved.stderr

    async def again() -> tuple[bool, dict[str, object]]:
        async with http_client(server.url, server.token) as client:
            return await call(client, "request_approval", run_id=live, tenant="beta-co", step="close-tickets")

    ok, already = run(again)
    assert ok and already["pending_approval"] is False and already["approved_by"] == "oncall@example.com"
