"""Two `paybill serve` processes share one run through PostgreSQL: calls spread over both stop at the
agent's limit exactly (ops-agent: 30 calls a minute), and a restart in the middle of a run loses
nothing (position, counters, approvals)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from clients import call, http_client, run
from serve_support import ServeWorld, start_http

pytestmark = pytest.mark.postgres

CALLS_PER_MINUTE = 30


TRANSIENT_SQLSTATES = {"57014", "55P03", "40001", "40P01"}  # timeout, lock not available, serialization, deadlock


async def patient_call(client, tool: str, **arguments: object) -> tuple[bool, dict[str, object]]:  # type: ignore[no-untyped-def]
    """A call retried, as a client does, while the server answers that nothing was performed for a
    transient reason (busy pool; a lock wait past the agent's statement timeout on a loaded machine,
    with forty calls queued on one run's row): the limit is what this test counts."""
    for _ in range(5):
        ok, data = await call(client, tool, **arguments)
        transient = data.get("error") == "unavailable" or (
            data.get("error") == "statement" and data.get("sqlstate") in TRANSIENT_SQLSTATES)
        if ok or not transient:
            return ok, data
        await asyncio.sleep(0.2)
    return ok, data


@pytest.mark.parametrize("log", [True, False], ids=["locked", "optimistic"])
def test_calls_spread_over_two_replicas_stop_at_the_limit_exactly(serve_world: ServeWorld, tmp_path: Path,
                                                                 log: bool) -> None:
    """With a decision log every call locks the run's row; without one each replica continues from
    the state it wrote last and its write-back fails when the other replica wrote in between (the
    call is then done again from the locked row): either way exactly the limit is allowed."""
    a, b = start_http(serve_world, tmp_path, log=log), start_http(serve_world, tmp_path, log=log)
    try:
        async def body() -> tuple[list[tuple[bool, dict[str, object]]], dict[str, object]]:
            async with http_client(a.url, a.token) as ca, http_client(b.url, b.token) as cb:
                _, started = await call(ca, "start_run", tenant="beta-co", workflow="incident-response")
                rid = started["run_id"]
                calls = [patient_call(ca if i % 2 else cb, "read_tickets", run_id=rid, tenant="beta-co",
                                      columns=["id"]) for i in range(CALLS_PER_MINUTE + 10)]
                return list(await asyncio.gather(*calls)), started

        results, _ = run(body)
        allowed = [data for ok, data in results if ok]
        denied = [data for ok, data in results if not ok]
        assert len(allowed) == CALLS_PER_MINUTE, [d.get("violations") for d in denied]
        assert len(denied) == 10 and all("limit.maxCallsPerMinute" in d.get("violations", []) for d in denied), denied
    finally:
        assert a.stop() == 0 and b.stop() == 0


def test_a_restart_in_the_middle_of_a_run_loses_nothing(serve_world: ServeWorld, tmp_path: Path) -> None:
    first = start_http(serve_world, tmp_path)

    async def before() -> tuple[str, dict[str, object]]:
        async with http_client(first.url, first.token) as client:
            _, started = await call(client, "start_run", tenant="delta-co", workflow="incident-response")
            rid = started["run_id"]
            ok, read = await call(client, "read_tickets", run_id=rid, tenant="delta-co", columns=["id"])
            assert ok
            ok, _ = await call(client, "advance_step", run_id=rid, tenant="delta-co", step="open-followup")
            assert ok
            return rid, read

    rid, read = run(before)
    assert first.stop() == 0  # graceful: exit 0, no transaction left open
    second = start_http(serve_world, tmp_path, token=first.token)
    try:
        async def after() -> list[tuple[bool, dict[str, object]]]:
            async with http_client(second.url, second.token) as client:
                return [
                    # still in open-followup: reading is not this step's action
                    await call(client, "read_tickets", run_id=rid, tenant="delta-co", columns=["id"]),
                    # and open-followup leads to done only
                    await call(client, "advance_step", run_id=rid, tenant="delta-co", step="purge-duplicates"),
                    await call(client, "advance_step", run_id=rid, tenant="delta-co", step="done"),
                ]

        (ok1, read_again), (ok2, order), (ok3, done) = run(after)
        assert not ok1 and read_again["step"] == "open-followup" and "workflow.step-action" in read_again["violations"]
        assert not ok2 and order["violations"] == ["workflow.order"]
        assert ok3 and done["step"] == "done"
    finally:
        assert second.stop() == 0
    assert read["count"] > 0
