"""A connection's statements queued in libpq's pipeline mode and sent together: one write, one read.

Why not psycopg's own pipeline mode: it sends each statement as it is executed (a poll and a write
per statement, each its own TCP segment that wakes the backend) and builds a cursor, converts the
query and checks results per statement. A served call is eight short statements in two round trips
(``paybill serve``: begin, savepoint, setup, the agent's statement; the savepoint's end, the run's
new state, commit); measured on this project's benchmark machine, psycopg's pipeline spent
0.26-0.34 ms of client CPU and the backend 0.24-0.25 ms on them, the same statements queued here
and flushed once 0.04-0.07 ms and 0.14-0.20 ms.

What stays exactly as with psycopg: the statements, their order, the round trips, parameters bound
server-side (dumped by the connection's own psycopg adapters, so values are typed as before), rows
loaded by its loaders, errors raised as psycopg's exception classes (``psycopg.errors``, with their
SQLSTATE and diagnostics). Statements are prepared on first use (a bounded number per connection;
past it they are sent unnamed) and a statement is counted as prepared only once PostgreSQL
confirmed its ``Parse``: a batch aborted before it leaves it unprepared.

Failure is closed: a statement's error never leaves the pipeline half-read (the batch is read to its
end and, without a sync of its own, one is sent), and any I/O problem closes the connection, so the
pool discards it instead of handing out a connection in an unknown state.
"""

from __future__ import annotations

import re
import select
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import errors, pq
from psycopg.adapt import PyFormat, Transformer

_OK = frozenset({pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK, pq.ExecStatus.EMPTY_QUERY})
_SYNC = pq.ExecStatus.PIPELINE_SYNC
_ABORTED = pq.ExecStatus.PIPELINE_ABORTED
_PLACEHOLDER = re.compile(rb"%(.?)", re.DOTALL)
MAX_PREPARED = 256
"""Statements prepared per connection. The set a server uses is bounded by its catalog, but a read
may name any subset of columns in any order; past this many the rest are sent unnamed (parsed per
call), which needs no eviction (a ``Close`` in a batch that aborts would leave the books wrong)."""


def numbered(query: bytes) -> bytes:
    """psycopg's ``%s`` placeholders as PostgreSQL's ``$1, $2, ...`` (``%%`` is a percent sign).

    Only positional ``%s`` exists in the statements this runtime builds (names come from the catalog,
    whose grammar has no ``%``); anything else is refused rather than guessed.
    """
    count = 0

    def one(match: re.Match[bytes]) -> bytes:
        nonlocal count
        code = match.group(1)
        if code == b"%":
            return b"%"
        if code == b"s":
            count += 1
            return b"$%d" % count
        raise ValueError(f"unsupported placeholder %{code.decode(errors='replace')} in a statement")

    return _PLACEHOLDER.sub(one, query)


class Result:
    """One queued statement's result, filled in when its batch is read."""

    __slots__ = ("_wire", "error", "pgresult")

    def __init__(self, wire: Wire) -> None:
        self._wire = wire
        self.pgresult: pq.abc.PGresult | None = None
        self.error: psycopg.Error | None = None
        """The statement's own error (a ``psycopg.errors`` class) or ``PipelineAborted`` when an earlier
        statement of its batch failed; None when it succeeded (or its batch was not read yet)."""

    def _ok(self) -> pq.abc.PGresult:
        if self.error is not None:
            raise self.error
        if self.pgresult is None:
            raise psycopg.InterfaceError("the statement's batch was not sent yet")
        return self.pgresult

    def rows(self, limit: int | None = None) -> list[tuple[Any, ...]]:
        """The rows (at most ``limit``), loaded by the connection's psycopg loaders."""
        result = self._ok()
        count = result.ntuples if limit is None else min(limit, result.ntuples)
        loader = self._wire.loader
        loader.set_pgresult(result)
        try:
            return loader.load_rows(0, count, tuple)
        finally:
            loader.set_pgresult(None)

    @property
    def rowcount(self) -> int:
        """Rows the statement affected (or returned), as PostgreSQL reported them."""
        return self._ok().command_tuples or 0


class Wire:
    """One psycopg connection's statements, sent in batches over libpq's pipeline mode.

    Used by one thread at a time, like the connection. ``open()`` before queueing, ``close()`` after
    the last batch was read (both leave the connection in psycopg's ordinary state between calls).
    """

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn
        self.pgconn = conn.pgconn
        self._dumper = Transformer(conn)
        self.loader = Transformer(conn)
        self._encoding = conn.info.encoding
        self._prepared: dict[tuple[bytes, tuple[int, ...]], bytes] = {}
        """Statements PostgreSQL confirmed as prepared on this connection: (query, parameter types) -> name."""
        self._preparing: dict[tuple[bytes, tuple[int, ...]], bytes] = {}
        """Prepared in a batch not read yet: a second use in the same batch executes the same name."""
        self._names = 0
        self._numbered: dict[bytes, bytes] = {}
        self._expected: list[tuple[Result | None, tuple[bytes, tuple[int, ...]] | None, bytes]] = []
        """What the queued messages will answer, in order: (the statement's result, or None for a
        sync; the prepared-statement key a Parse will confirm, if any; that Parse's name)."""
        self._open = False
        self._poll = select.poll()
        self._poll.register(self.pgconn.socket, select.POLLIN)
        self._poll_rw = select.poll()
        self._poll_rw.register(self.pgconn.socket, select.POLLIN | select.POLLOUT)

    # -- pipeline mode ------------------------------------------------------------------------

    def open(self) -> None:
        if not self._open:
            self.pgconn.enter_pipeline_mode()
            self._open = True

    def close(self) -> None:
        """Leave pipeline mode; with results still unread (an error part-way), close the connection."""
        if not self._open:
            return
        self._open = False
        if self._expected:
            self._break()
            return
        try:
            self.pgconn.exit_pipeline_mode()
        except psycopg.Error:
            self._break()
            raise

    # -- queueing -----------------------------------------------------------------------------

    def queue(self, query: bytes, params: Sequence[Any] = (), *, prepare: bool = True) -> Result:
        """Queue one statement (``%s`` placeholders, bound server-side); nothing is sent yet."""
        if not self._open:
            raise psycopg.InterfaceError("the wire is not open")
        converted = self._numbered.get(query)
        if converted is None:
            if len(self._numbered) >= 4 * MAX_PREPARED:
                self._numbered.clear()
            converted = self._numbered[query] = numbered(query)
        values: Sequence[Any] | None = None
        types: tuple[int, ...] = ()
        formats: Sequence[pq.Format] | None = None
        if params:
            dumper = self._dumper
            values = dumper.dump_sequence(params, [PyFormat.AUTO] * len(params))
            types, formats = tuple(dumper.types or ()), dumper.formats
        result = Result(self)
        pgconn = self.pgconn
        key = (converted, types)
        name = (self._prepared.get(key) or self._preparing.get(key)) if prepare else None
        if name is not None:
            pgconn.send_query_prepared(name, values, param_formats=formats)
            self._expected.append((result, None, b""))
        elif prepare and self._names < MAX_PREPARED:
            name = self._preparing[key] = b"_pb%d" % self._names
            self._names += 1
            pgconn.send_prepare(name, converted, param_types=types or None)
            self._expected.append((result, key, name))
            pgconn.send_query_prepared(name, values, param_formats=formats)
            self._expected.append((result, None, b""))
        else:
            pgconn.send_query_params(converted, values, param_types=types or None, param_formats=formats)
            self._expected.append((result, None, b""))
        return result

    # -- sending ------------------------------------------------------------------------------

    def flush(self) -> None:
        """Send what is queued and read every result of it (one round trip). The first failed
        statement's error is raised, after the pipeline was synced so the connection can go on
        (inside a transaction, in its failed state: a ``ROLLBACK`` or ``ROLLBACK TO`` comes next)."""
        if not self._expected:
            return
        self.pgconn.send_flush_request()
        self._exchange()

    def sync(self) -> None:
        """Queue a sync (the end of PostgreSQL's error recovery), send, read; raise as :meth:`flush`."""
        self.pgconn.pipeline_sync()
        self._expected.append((None, None, b""))
        self._exchange()

    def _exchange(self) -> None:
        synced = self._expected[-1][0] is None  # the batch ends with a sync of its own
        try:
            self._send()
            first = self._read()
            if first is not None and not synced:  # PostgreSQL skips everything until a sync
                self.pgconn.pipeline_sync()
                self._expected.append((None, None, b""))
                self._send()
                self._read()
        except BaseException:  # I/O failed or the protocol went out of step: nothing can be trusted
            self._break()
            raise
        if first is not None:
            raise first

    def _send(self) -> None:
        pgconn = self.pgconn
        while pgconn.flush() != 0:  # a non-blocking connection: 1 while bytes are left
            self._poll_rw.poll()
            pgconn.consume_input()

    def _next(self) -> pq.abc.PGresult | None:
        pgconn = self.pgconn
        while pgconn.is_busy():
            self._poll.poll()
            pgconn.consume_input()
        return pgconn.get_result()

    def _read(self) -> psycopg.Error | None:
        """Read the answers of everything expected; the first error, or None."""
        first: psycopg.Error | None = None
        aborted = False
        expected = self._expected
        while expected:
            result, key, name = expected[0]
            got = self._next()
            if result is None:  # a sync: its result is not followed by a NULL
                if got is None or got.status != _SYNC:
                    raise psycopg.OperationalError("pipeline out of step: expected the sync's result")
                expected.pop(0)
                continue
            if got is None:
                raise psycopg.OperationalError("pipeline out of step: a statement without a result")
            while self._next() is not None:  # each statement's results end with a NULL
                pass
            expected.pop(0)
            status = got.status
            if status in _OK:
                if key is not None:
                    self._prepared[key] = name
                else:
                    result.pgresult = got
                continue
            if status == _ABORTED:
                error: psycopg.Error = errors.PipelineAborted("pipeline aborted")
            elif status == pq.ExecStatus.FATAL_ERROR:
                error = errors.error_from_result(got, encoding=self._encoding)
            else:
                error = psycopg.NotSupportedError(f"unexpected result status {pq.ExecStatus(status).name}")
            if result.error is None:
                result.error = error
            if status == _ABORTED:
                aborted = True
            elif first is None:
                first = error
        self._preparing.clear()
        if first is None and aborted:  # never report success for a batch PostgreSQL skipped
            first = errors.PipelineAborted("pipeline aborted")
        return first

    def _break(self) -> None:
        """The connection is in an unknown state: close it (the pool then replaces it)."""
        self._expected.clear()
        self._preparing.clear()
        self._open = False
        self.conn.close()


__all__ = ["MAX_PREPARED", "Result", "Wire", "numbered"]
