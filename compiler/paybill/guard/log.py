"""The decision log: JSON Lines with a hash chain, and its verifier.

One line per guard call (run start, check, advance, approval). Each line is canonical JSON (sorted
keys, no spaces) holding the bundle ``revision``, the ``run``, the ``op``, the ``input`` (bounded:
a string over 1 KiB or a list of more than 256 items is recorded as its sha256, size and prefix, see
:func:`bounded`, so one hostile call cannot make a line the tail reader cannot read back), its
``inputHash``, the clock time ``t``, the ``decision``, a sequence number ``seq`` and ``prev``: the
sha256 of the previous line's bytes (64 zeros for the first). Editing a line breaks the next line's
``prev`` (and its own ``inputHash`` if the input was edited); deleting a line breaks ``seq`` and
``prev``. Truncating the tail leaves a valid shorter chain: anchor the head hash that
:func:`verify_log` reports somewhere else (a ticket, a commit) and pass it back as ``expect_head``.

Because every line records its input and time, a log is also a trace ``paybill guard replay``
accepts. One writer per file: the chain is continued from the file's last line on open.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from paybill.contract.line_problems import keep
from paybill.guard.files import FileRefused, bounded_lines, open_regular, open_regular_binary

GENESIS = "0" * 64
_OPTS = orjson.OPT_SORT_KEYS

MAX_STRING_BYTES = 1024
"""A recorded string longer than this (UTF-8) is replaced by its hash, length and a prefix."""
MAX_ITEMS = 256
"""A recorded list or object with more items is replaced by its hash, item count and first items."""
PREFIX_CHARS = 64
PREFIX_ITEMS = 16
MAX_LINE_BYTES = 4 * 1024 * 1024
"""Longest line the tail reader and the verifier accept; bounded records stay far below it."""
# Tuning only (any value gives the same records), so mutation testing skips them:
_FAST_CHARS = MAX_STRING_BYTES // 4  # pragma: no mutate (a string this short fits in 4 bytes per character)
_CHUNK = 65536  # pragma: no mutate (the tail reader's read size)


class LogError(RuntimeError):
    """The log cannot be continued (its last line is damaged, or the path is not a regular file)."""


def input_hash(value: Any) -> str:
    return hashlib.sha256(orjson.dumps(value, option=_OPTS)).hexdigest()


def _digest(value: Any) -> str:
    return hashlib.sha256(orjson.dumps(value, option=_OPTS, default=str)).hexdigest()


def _string_summary(value: str) -> dict[str, Any]:
    data = value.encode("utf-8", "surrogatepass")
    prefix = value[:PREFIX_CHARS].encode("utf-8", "replace").decode("utf-8")
    return {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data), "prefix": prefix}


def _key(key: Any, strict: bool) -> str:
    """An object key as recorded: itself when short and encodable, else ``sha256:<hex>`` of it."""
    text = key if isinstance(key, str) else str(key)
    if len(text) <= _FAST_CHARS and not strict:  # pragma: no mutate (fast path; the slow one agrees)
        return text
    summary = bounded(text, strict=True)
    return text if isinstance(summary, str) else f"sha256:{summary['sha256']}"


def bounded(value: Any, *, strict: bool = False) -> Any:
    """``value`` as the log records it: every string, list and object kept to a bounded size.

    A caller decides what it passes (a 160 KB log line as a table name, a million columns), and the
    log must neither copy that whole nor write a line its own tail reader cannot read back, so
    oversized parts become ``{"sha256", "bytes" | "items", "prefix"}``: enough to match the input
    against the caller's own records. Values of other types are recorded as their ``str()``.
    ``strict`` also summarises strings JSON cannot encode (lone surrogates) and writes integers
    beyond 64 bits as strings, for the rare record the fast path could not serialise.
    """
    if isinstance(value, str):
        if len(value) <= _FAST_CHARS and not strict:  # pragma: no mutate (fast path; the slow one agrees)
            return value
        try:
            if len(value.encode("utf-8")) <= MAX_STRING_BYTES:
                return value
        except UnicodeEncodeError:
            pass
        return _string_summary(value)
    if isinstance(value, list | tuple):
        if len(value) > MAX_ITEMS:
            return {"sha256": _digest([bounded(v, strict=True) for v in value]), "items": len(value),
                    "prefix": [bounded(v, strict=strict) for v in value[:PREFIX_ITEMS]]}
        return [bounded(v, strict=strict) for v in value]
    if isinstance(value, dict):
        if len(value) > MAX_ITEMS:
            return {"sha256": _digest({str(k): bounded(v, strict=True) for k, v in value.items()}),
                    "items": len(value), "prefix": {}}
        return {_key(k, strict): bounded(v, strict=strict) for k, v in value.items()}
    if isinstance(value, int) and not isinstance(value, bool) and strict and not -2**63 <= value < 2**64:
        return str(value)  # beyond what JSON numbers hold exactly (orjson refuses it)
    if value is None or isinstance(value, bool | int | float):
        return value
    return bounded(str(value), strict=strict)


def _last_line(fd: int, size: int, path: Path) -> bytes | None:
    """The last non-empty line of the file (without its line end), whatever its length up to the cap."""
    buffer = b""
    position = size
    while True:
        text = buffer.rstrip(b"\r\n\t ")
        cut = text.rfind(b"\n")
        line = text[cut + 1:].rstrip(b"\r")
        if len(line) > MAX_LINE_BYTES:
            raise LogError(f"the last line of {path.as_posix()} is longer than {MAX_LINE_BYTES} bytes; "
                           "run 'paybill guard verify-log'")
        if cut >= 0 or position == 0:  # pragma: no mutate (at cut 0 one more read finds the same line)
            return line or None
        step = min(_CHUNK, position)
        position -= step
        buffer = os.pread(fd, step, position) + buffer


class DecisionLog:
    """Append-only, hash-chained decision log. Thread-safe; ``fsync`` trades speed for durability."""

    def __init__(self, path: str | Path, *, fsync: bool = False) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self._lock = threading.Lock()
        try:
            self._fd = open_regular(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o666)
        except FileRefused as exc:
            raise LogError(f"cannot open the decision log: {exc}") from None
        except OSError as exc:
            raise LogError(f"cannot open the decision log {self.path.as_posix()}: {exc.strerror or exc}") from None
        try:
            self._seq, self._prev = self._tail()
        except BaseException:
            os.close(self._fd)
            raise
        self._closed = False

    def _tail(self) -> tuple[int, str]:
        last = _last_line(self._fd, os.fstat(self._fd).st_size, self.path)
        if last is None:
            return 0, GENESIS
        try:
            seq = int(orjson.loads(last)["seq"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            raise LogError(f"the last line of {self.path} is damaged; run 'paybill guard verify-log'") from None
        return seq, hashlib.sha256(last).hexdigest()

    def append(self, record: dict[str, Any]) -> str:
        """Write one record (bounded, see :func:`bounded`; ``input`` is hashed here); returns the line's hash."""
        with self._lock:
            record = bounded(record)
            try:
                line = self._line(record)
            except orjson.JSONEncodeError:
                line = self._line(bounded(record, strict=True))
            data = memoryview(line + b"\n")
            while data:
                data = data[os.write(self._fd, data):]
            if self.fsync:
                os.fsync(self._fd)
            self._seq += 1
            self._prev = hashlib.sha256(line).hexdigest()
            return self._prev

    def _line(self, record: dict[str, Any]) -> bytes:
        return orjson.dumps({**record, "inputHash": input_hash(record.get("input")), "seq": self._seq + 1,
                             "prev": self._prev}, option=_OPTS)

    @property
    def head(self) -> str:
        return self._prev

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                os.close(self._fd)

    def __enter__(self) -> DecisionLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class LogReport:
    lines: int = 0
    head: str = GENESIS
    problems: list[tuple[int, str]] = field(default_factory=list)
    """The first problems (:data:`paybill.contract.line_problems.MAX_LINE_PROBLEMS` of the lines, then
    the head check's); ``omitted`` counts the line problems left out."""
    omitted: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def note(self, line: int, message: str) -> None:
        """One line's problem: kept while under the cap, else counted (a garbage file is all problems)."""
        if not keep(self.problems, (line, message)):
            self.omitted += 1


def verify_log(path: str | Path, expect_head: str | None = None) -> LogReport:
    """Check every line of a decision log; problems are (1-based line number, message)."""
    report = LogReport()
    prev, seq = GENESIS, 0
    try:
        handle = open_regular_binary(path)
    except FileRefused as exc:
        report.problems.append((0, str(exc)))
        return report
    with handle:
        for number, raw in enumerate(bounded_lines(handle, MAX_LINE_BYTES), start=1):
            if raw is None:
                report.lines += 1
                report.note(number, f"line longer than {MAX_LINE_BYTES} bytes (not written by the guard)")
                prev, seq = "", seq + 1
                continue
            line = raw.rstrip(b"\r\n")
            if not line.strip():
                report.note(number, "empty line")
                continue
            report.lines += 1
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                report.note(number, f"not JSON ({exc})")
                prev, seq = hashlib.sha256(line).hexdigest(), seq + 1
                continue
            if not isinstance(record, dict):
                report.note(number, "not a JSON object")
            else:
                if record.get("prev") != prev:
                    report.note(number, "hash chain broken: 'prev' does not match the previous line "
                                        "(a line before it was edited, removed or inserted)")
                if record.get("seq") != seq + 1:
                    report.note(number, f"sequence gap: expected seq {seq + 1}, found {record.get('seq')}")
                if record.get("inputHash") != input_hash(record.get("input")):
                    report.note(number, "inputHash does not match the recorded input (line edited)")
                if isinstance(record.get("seq"), int):
                    seq = record["seq"] - 1
            prev, seq = hashlib.sha256(line).hexdigest(), seq + 1
    report.head = prev
    if expect_head is not None and expect_head != prev:
        report.problems.append((report.lines, f"head is {prev}, expected {expect_head} (log truncated or replaced)"))
    return report
