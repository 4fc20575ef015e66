"""The decision log: JSON Lines with a hash chain, and its verifier.

One line per guard call (run start, check, advance, approval). Each line is canonical JSON (sorted
keys, no spaces) holding the bundle ``revision``, the ``run``, the ``op``, the full ``input``, its
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
from typing import Any, BinaryIO

import orjson

GENESIS = "0" * 64
_OPTS = orjson.OPT_SORT_KEYS


class LogError(RuntimeError):
    """The log cannot be continued (its last line is damaged)."""


def input_hash(value: Any) -> str:
    return hashlib.sha256(orjson.dumps(value, option=_OPTS)).hexdigest()


class DecisionLog:
    """Append-only, hash-chained decision log. Thread-safe; ``fsync`` trades speed for durability."""

    def __init__(self, path: str | Path, *, fsync: bool = False) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self._lock = threading.Lock()
        self._seq, self._prev = self._tail()
        self._handle: BinaryIO = self.path.open("ab")

    def _tail(self) -> tuple[int, str]:
        try:
            with self.path.open("rb") as handle:
                handle.seek(0, os.SEEK_END)
                size = handle.tell()
                handle.seek(max(0, size - 65536))
                lines = handle.read().splitlines()
        except FileNotFoundError:
            return 0, GENESIS
        lines = [line for line in lines if line.strip()]
        if not lines:
            return 0, GENESIS
        last = lines[-1]
        try:
            seq = int(orjson.loads(last)["seq"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            raise LogError(f"the last line of {self.path} is damaged; run 'paybill guard verify-log'") from None
        return seq, hashlib.sha256(last).hexdigest()

    def append(self, record: dict[str, Any]) -> str:
        """Write one record (``input`` is hashed here); returns the new line's hash."""
        with self._lock:
            self._seq += 1
            line = orjson.dumps({**record, "inputHash": input_hash(record.get("input")), "seq": self._seq,
                                 "prev": self._prev}, option=_OPTS)
            self._handle.write(line + b"\n")
            self._handle.flush()
            if self.fsync:
                os.fsync(self._handle.fileno())
            self._prev = hashlib.sha256(line).hexdigest()
            return self._prev

    @property
    def head(self) -> str:
        return self._prev

    def close(self) -> None:
        with self._lock:
            self._handle.close()

    def __enter__(self) -> DecisionLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class LogReport:
    lines: int = 0
    head: str = GENESIS
    problems: list[tuple[int, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_log(path: str | Path, expect_head: str | None = None) -> LogReport:
    """Check every line of a decision log; problems are (1-based line number, message)."""
    report = LogReport()
    prev, seq = GENESIS, 0
    with Path(path).open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.rstrip(b"\r\n")
            if not line.strip():
                report.problems.append((number, "empty line"))
                continue
            report.lines += 1
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                report.problems.append((number, f"not JSON ({exc})"))
                prev, seq = hashlib.sha256(line).hexdigest(), seq + 1
                continue
            if not isinstance(record, dict):
                report.problems.append((number, "not a JSON object"))
            else:
                if record.get("prev") != prev:
                    report.problems.append((number, "hash chain broken: 'prev' does not match the previous line "
                                                    "(a line before it was edited, removed or inserted)"))
                if record.get("seq") != seq + 1:
                    report.problems.append((number, f"sequence gap: expected seq {seq + 1}, found {record.get('seq')}"))
                if record.get("inputHash") != input_hash(record.get("input")):
                    report.problems.append((number, "inputHash does not match the recorded input (line edited)"))
                if isinstance(record.get("seq"), int):
                    seq = record["seq"] - 1
            prev, seq = hashlib.sha256(line).hexdigest(), seq + 1
    report.head = prev
    if expect_head is not None and expect_head != prev:
        report.problems.append((report.lines, f"head is {prev}, expected {expect_head} (log truncated or replaced)"))
    return report
