"""``paybill.guard.wire``: statements queued in libpq's pipeline mode, against real PostgreSQL.

What ``paybill serve`` relies on: nothing is sent before a flush or sync; values are bound and rows
loaded exactly as psycopg does; the first failed statement raises its own psycopg error class and
leaves the connection usable (the transaction failed, until a rollback); a statement counts as
prepared only once PostgreSQL confirmed it; a broken connection is closed, never handed on.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from pg_support import admin, dsn_for, scratch_database
from psycopg.types.json import Jsonb

from paybill.guard import wire as wire_module
from paybill.guard.wire import Wire, numbered

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def database(pg_server: None) -> Iterator[str]:
    with scratch_database("wire") as name:
        with psycopg.connect(dsn_for(name), autocommit=True) as conn:
            conn.execute("CREATE TABLE t (id uuid PRIMARY KEY, at timestamptz, n numeric, doc jsonb, label text)")
        yield name


@pytest.fixture
def conn(database: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(dsn_for(database), autocommit=True) as connection:
        connection.execute("TRUNCATE t")
        yield connection


def test_placeholders_are_numbered_and_percent_signs_kept() -> None:
    assert numbered(b"SELECT %s, %s WHERE a LIKE 'x%%'") == b"SELECT $1, $2 WHERE a LIKE 'x%'"
    with pytest.raises(ValueError, match="unsupported placeholder"):
        numbered(b"SELECT %(name)s")
    with pytest.raises(ValueError, match="unsupported placeholder"):
        numbered(b"SELECT 1 %")


def test_nothing_is_sent_before_the_batch_is_flushed(conn: psycopg.Connection[Any], database: str) -> None:
    wire = Wire(conn)
    wire.open()
    wire.queue(b"INSERT INTO t (id, label) VALUES (%s, %s)", (uuid.uuid4(), "queued"))
    with psycopg.connect(dsn_for(database), autocommit=True) as other:
        assert other.execute("SELECT count(*) FROM t").fetchone() == (0,)
        wire.sync()
        assert other.execute("SELECT label FROM t").fetchall() == [("queued",)]
    wire.close()


def test_values_and_rows_are_adapted_as_psycopg_adapts_them(conn: psycopg.Connection[Any]) -> None:
    key = uuid.uuid4()
    values = (key, "2026-01-02T03:04:05+00:00", decimal.Decimal("1.50"), Jsonb({"a": [1, None]}), None)
    wire = Wire(conn)
    wire.open()
    wire.queue(b"INSERT INTO t (id, at, n, doc, label) VALUES (%s, %s, %s, %s, %s)", values)
    read = wire.queue(b"SELECT id, at, n, doc, label FROM t WHERE id = %s LIMIT %s", (key, 2))
    small, large = wire.queue(b"SELECT %s::bigint", (1,)), wire.queue(b"SELECT %s::bigint", (2**40,))
    wire.sync()
    wire.close()
    expected = conn.execute("SELECT id, at, n, doc, label FROM t WHERE id = %s", (key,)).fetchall()
    assert read.rows() == expected
    assert read.rows()[0][:3] == (key, dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC), decimal.Decimal("1.50"))
    assert read.rowcount == 1 and read.rows(0) == []
    assert (small.rows(), large.rows()) == ([(1,)], [(2**40,)])  # int2 and int8 parameters: two statements


def test_the_first_error_is_raised_and_the_connection_goes_on(conn: psycopg.Connection[Any]) -> None:
    wire = Wire(conn)
    wire.open()
    wire.queue(b"BEGIN", prepare=False)
    wire.queue(b"SAVEPOINT s")
    inserted = wire.queue(b"INSERT INTO t (id, at) VALUES (%s, %s)", (uuid.uuid4(), "not a time"))
    skipped = wire.queue(b"SELECT 1")
    with pytest.raises(psycopg.errors.InvalidDatetimeFormat):
        wire.flush()  # no sync of its own: the wire sends one, so the pipeline goes on
    assert isinstance(inserted.error, psycopg.errors.InvalidDatetimeFormat)
    assert isinstance(skipped.error, psycopg.errors.PipelineAborted)
    with pytest.raises(psycopg.errors.PipelineAborted):
        skipped.rows()
    assert conn.pgconn.transaction_status == psycopg.pq.TransactionStatus.INERROR
    wire.queue(b"ROLLBACK TO SAVEPOINT s")
    after = wire.queue(b"SELECT count(*) FROM t")
    wire.queue(b"COMMIT", prepare=False)
    wire.sync()
    wire.close()
    assert after.rows() == [(0,)]
    assert conn.pgconn.transaction_status == psycopg.pq.TransactionStatus.IDLE
    assert conn.execute("SELECT 2").fetchone() == (2,)  # psycopg's own use of the connection works


def test_a_statement_of_an_aborted_batch_is_not_counted_as_prepared(conn: psycopg.Connection[Any]) -> None:
    wire = Wire(conn)
    wire.open()
    for _ in range(3):
        wire.queue(b"SELECT 1/0")  # fails: the Parse of the next statement is skipped
        never = wire.queue(b"SELECT %s::int + 1", (1,))
        with pytest.raises(psycopg.errors.DivisionByZero):
            wire.sync()
        assert isinstance(never.error, psycopg.errors.PipelineAborted)
    again = wire.queue(b"SELECT %s::int + 1", (1,))
    twice = wire.queue(b"SELECT %s::int + 1", (2,))  # the same statement, prepared in this batch: one Parse
    wire.sync()
    third = wire.queue(b"SELECT %s::int + 1", (3,))
    wire.sync()
    wire.close()
    assert (again.rows(), twice.rows(), third.rows()) == ([(2,)], [(3,)], [(4,)])
    names = conn.execute("SELECT name FROM pg_prepared_statements WHERE statement LIKE '%$1::int + 1%'").fetchall()
    assert len(names) == 1


def test_past_the_bound_statements_go_unnamed(conn: psycopg.Connection[Any], monkeypatch: pytest.MonkeyPatch
                                              ) -> None:
    monkeypatch.setattr(wire_module, "MAX_PREPARED", 2)
    wire = Wire(conn)
    wire.open()
    results = [wire.queue(b"SELECT %s::int * " + str(i).encode(), (i,)) for i in range(5)]
    wire.sync()
    wire.close()
    assert [r.rows() for r in results] == [[(i * i,)] for i in range(5)]
    assert conn.execute("SELECT count(*) FROM pg_prepared_statements").fetchone() == (2,)


def test_a_broken_connection_is_closed(conn: psycopg.Connection[Any]) -> None:
    wire = Wire(conn)
    with admin() as other:
        other.execute("SELECT pg_terminate_backend(%s)", (conn.info.backend_pid,))
    wire.open()
    wire.queue(b"SELECT 1")
    with pytest.raises(psycopg.OperationalError):
        wire.sync()
    assert conn.closed
    with pytest.raises(psycopg.InterfaceError):
        wire.queue(b"SELECT 1")
