"""Decision-log details: file mode, fsync, closing, and how verify-log counts past a bad line."""

from __future__ import annotations

import os

import orjson
import pytest

from paybill.guard import DecisionLog, LogError, verify_log
from paybill.guard.log import MAX_LINE_BYTES, bounded


def _chain(path, count):
    with DecisionLog(path) as log:
        for i in range(count):
            log.append({"op": "note", "input": {"i": i}})
    return path.read_bytes().splitlines()


def test_a_new_log_is_created_with_mode_666_less_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        DecisionLog(tmp_path / "decisions.jsonl").close()
    finally:
        os.umask(old)
    assert (tmp_path / "decisions.jsonl").stat().st_mode & 0o777 == 0o644


def test_fsync_only_when_asked(tmp_path, monkeypatch):
    synced = []
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd))
    with DecisionLog(tmp_path / "a.jsonl") as log:
        log.append({"op": "note", "input": {}})
    assert synced == []
    with DecisionLog(tmp_path / "b.jsonl", fsync=True) as log:
        log.append({"op": "note", "input": {}})
        log.append({"op": "note", "input": {}})
    assert len(synced) == 2


def test_close_closes_once(tmp_path):
    log = DecisionLog(tmp_path / "decisions.jsonl")
    fd = log._fd
    log.close()
    with pytest.raises(OSError):
        os.fstat(fd)
    log.close()  # a second close is harmless


def test_a_log_in_a_missing_folder_names_the_os_reason(tmp_path):
    path = tmp_path / "missing" / "decisions.jsonl"
    with pytest.raises(LogError) as raised:
        DecisionLog(path)
    assert str(raised.value) == f"cannot open the decision log {path.as_posix()}: No such file or directory"


def test_verify_log_refuses_a_directory_at_line_0(tmp_path):
    report = verify_log(tmp_path)
    assert report.problems == [(0, f"{tmp_path.as_posix()} is a directory, not a regular file")]


def test_after_a_bad_line_the_sequence_continues(tmp_path):
    path = tmp_path / "decisions.jsonl"
    lines = _chain(path, 3)
    path.write_bytes(b"\n".join([lines[0], b"garbage", lines[2]]) + b"\n")
    problems = verify_log(path).problems
    assert [p for p in problems if "sequence" in p[1]] == []
    assert problems[0][0] == 2 and problems[1][0] == 3 and "hash chain broken" in problems[1][1]
    path.write_bytes(b"\n".join([lines[0], b"x" * (MAX_LINE_BYTES + 1), lines[2]]) + b"\n")
    problems = verify_log(path).problems
    assert [p for p in problems if "sequence" in p[1]] == [] and problems[0][0] == 2


def test_bounded_keeps_big_integers_unless_strict_and_digests_odd_items():
    assert bounded(2**70) == 2**70
    summary = bounded(["\udc80"] * 300)
    assert summary["items"] == 300 and len(summary["sha256"]) == 64
    assert bounded({str(i): "\udc80" for i in range(300)})["items"] == 300
    orjson.dumps(bounded(["\udc80"] * 300, strict=True))  # what append falls back to
