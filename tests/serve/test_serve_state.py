"""The optimistic run state of `paybill serve` (``paybill.serve.state``), in process, against real
PostgreSQL: a call continues from the state its process stored last, and when anyone wrote the run
in between, the write-back fails, nothing of that attempt is committed, and the call is done again
from the locked row - every time, from a connection's first statements on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from serve_support import ServeWorld

from paybill.guard import Guard
from paybill.guard.db import load_catalog
from paybill.serve import state
from paybill.serve.service import ServeConfig, Service, new_clock

pytestmark = pytest.mark.postgres


@pytest.fixture
def service(serve_world: ServeWorld) -> Iterator[Service]:
    guard = Guard.load(serve_world.bundle, None, clock=new_clock())
    # one connection: every statement the test makes goes through it, its first uses included
    served = Service(guard, load_catalog(serve_world.catalog), serve_world.dsn, ServeConfig(pool_min=1, pool_max=1))
    served.open()
    yield served
    served.close()


def test_a_write_in_between_is_a_conflict_and_the_call_is_done_again_exactly(serve_world: ServeWorld,
                                                                              service: Service) -> None:
    conflicts = []
    original = service._handlers["read"]

    def counting(served, tool, args, fresh):  # type: ignore[no-untyped-def]
        conflicts.append(fresh)
        return original(served, tool, args, fresh)

    service._handlers["read"] = counting
    started = service.call("start_run", {"tenant": "beta-co", "workflow": "incident-response"})
    assert started.ok, started.data
    rid = started.data["run_id"]
    rows = len(serve_world.world.rows[("tickets", "beta-co")])
    calls = 12  # more than psycopg's prepare threshold (5): the commit is prepared mid-test
    with psycopg.connect(serve_world.dsn, autocommit=True) as other:
        for i in range(calls):
            # another replica (or a human's approval) writes the run: this process's copy is stale
            other.execute("UPDATE paybill.runs SET updated_at = now() WHERE id = %s", (rid,))
            read = service.call("read_tickets", {"run_id": rid, "tenant": "beta-co", "columns": ["id"]})
            assert read.ok and read.data["count"] == rows, (i, read.data)
        stored = other.execute("SELECT state FROM paybill.runs WHERE id = %s", (rid,)).fetchone()
    assert conflicts == [False, True] * calls  # each call: the stale attempt, then the locked one
    assert stored is not None and stored[0]["rowsRead"] == rows * calls  # charged once per call, exactly
    assert len(stored[0]["calls"]) == calls


def test_without_a_write_in_between_calls_continue_from_the_cache(serve_world: ServeWorld,
                                                                   service: Service) -> None:
    started = service.call("start_run", {"tenant": "beta-co", "workflow": "incident-response"})
    rid = started.data["run_id"]
    cached = service.runs.get(rid)
    assert cached is not None
    for _ in range(3):
        assert service.call("read_tickets", {"run_id": rid, "tenant": "beta-co", "columns": ["id"]}).ok
    after = service.runs.get(rid)
    assert after is not None and after.version != cached.version
    with psycopg.connect(serve_world.dsn) as conn:
        row = conn.execute("SELECT xmin::text FROM paybill.runs WHERE id = %s", (rid,)).fetchone()
    assert row is not None and row[0] == after.version


def test_a_decision_log_turns_the_cache_off(serve_world: ServeWorld, tmp_path: Path) -> None:
    """A call met by another writer is done again; a log must not hold the decision of the attempt."""
    guard = Guard.load(serve_world.bundle, None, clock=new_clock(), log=tmp_path / "decisions.jsonl")
    served = Service(guard, load_catalog(serve_world.catalog), serve_world.dsn)
    assert served.runs.size == 0
    cache = state.RunCache(0)
    cache.put(state.StoredRun("run-x", "ops-agent", "beta-co", "incident-response", {}, {}, 0.0, "1"))
    assert cache.get("run-x") is None


def test_a_calls_statements_are_prepared_once_per_connection_and_reused(service: Service) -> None:
    """The wire (``paybill.guard.wire``) prepares each statement of a call on its first use and
    executes it by name afterwards: many calls leave the same few prepared statements."""
    started = service.call("start_run", {"tenant": "beta-co", "workflow": "incident-response"})
    rid = started.data["run_id"]

    def prepared() -> list[str]:
        with service.pool.connection() as conn:  # the pool's only connection: the one the calls used
            rows = conn.execute("SELECT statement FROM pg_prepared_statements WHERE name LIKE '\\_pb%' "
                                "ORDER BY statement").fetchall()
        return [r[0] for r in rows]

    assert service.call("read_tickets", {"run_id": rid, "tenant": "beta-co", "columns": ["id"]}).ok
    first = prepared()
    for _ in range(10):
        assert service.call("read_tickets", {"run_id": rid, "tenant": "beta-co", "columns": ["id"]}).ok
    assert prepared() == first
    assert any(s.startswith("SAVEPOINT") for s in first) and any("UPDATE paybill.runs" in s for s in first)
    assert any('FROM "crm"."tickets"' in s and "$1" in s for s in first)  # server-side bound parameters
