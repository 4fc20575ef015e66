"""The decision log reopens after any line it wrote: inputs are bounded and hashed, not copied whole.

The reported bug: one denied call with a 162 KB resource name wrote a line longer than the 64 KiB
the tail reader looked at, so the next ``DecisionLog(path)`` could not continue the chain.
"""

from __future__ import annotations

import hashlib

import orjson
import pytest

from paybill.guard import DecisionLog, LogError, verify_log
from paybill.guard.log import MAX_ITEMS, MAX_LINE_BYTES, MAX_STRING_BYTES, PREFIX_CHARS, PREFIX_ITEMS, bounded


def test_a_huge_denied_input_is_hashed_and_the_log_reopens_and_verifies(load, tmp_path):
    path = tmp_path / "decisions.jsonl"
    huge = "x" * 162_000
    guard = load("ops-agent", log=path)
    run = guard.start(tenant="acme-corp", workflow="incident-response", run_id="run-1")
    decision = run.check("read", huge, columns=["id"], rows=1)
    assert not decision and decision.violations == ("input.invalid",)
    guard.log.close()
    lines = path.read_bytes().splitlines()
    assert len(lines) == 2 and len(lines[1]) < 4096
    recorded = orjson.loads(lines[1])
    assert recorded["input"]["resource"] == {"sha256": hashlib.sha256(huge.encode()).hexdigest(),
                                             "bytes": 162_000, "prefix": "x" * PREFIX_CHARS}
    assert all(len(e) <= MAX_STRING_BYTES or isinstance(e, dict) for e in recorded["decision"]["errors"])

    again = load("ops-agent", log=path)
    run = again.start(tenant="acme-corp", workflow="incident-response", run_id="run-2")
    assert run.check("read", "tickets", columns=["id"], rows=1)
    again.log.close()
    report = verify_log(path)
    assert report.ok and report.lines == 4, report.problems
    assert [orjson.loads(line)["seq"] for line in path.read_bytes().splitlines()] == [1, 2, 3, 4]


def test_the_tail_reader_finds_a_last_line_longer_than_its_chunks(tmp_path):
    path = tmp_path / "decisions.jsonl"
    with DecisionLog(path) as log:
        log.append({"op": "note", "input": {"x": 1}})
        log.append({"op": "note", "input": {"items": ["y" * 1000] * MAX_ITEMS}})  # ~260 KB, 4 chunks
        head = log.head
    assert len(path.read_bytes().splitlines()[-1]) > 3 * 65536
    with DecisionLog(path) as log:
        assert log.head == head
        log.append({"op": "note", "input": {"x": 2}})
    report = verify_log(path)
    assert report.ok and report.lines == 3


def test_the_tail_reader_skips_blank_trailing_lines_and_reads_a_single_line_file(tmp_path):
    path = tmp_path / "decisions.jsonl"
    with DecisionLog(path) as log:
        head = log.append({"op": "note", "input": {}})
    path.write_bytes(path.read_bytes() + b"\n  \n")
    with DecisionLog(path) as log:
        assert log.head == head
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"\n\n")
    with DecisionLog(empty) as log:
        assert log.head == "0" * 64
        log.append({"op": "note", "input": {}})
    assert orjson.loads(empty.read_bytes().splitlines()[-1])["seq"] == 1


def test_a_last_line_beyond_the_cap_is_refused_not_read(tmp_path):
    path = tmp_path / "decisions.jsonl"
    path.write_bytes(b"{}\n" + b"z" * (MAX_LINE_BYTES + 1))
    with pytest.raises(LogError, match=f"longer than {MAX_LINE_BYTES} bytes"):
        DecisionLog(path)
    path.write_bytes(b"z" * MAX_LINE_BYTES)
    with pytest.raises(LogError, match="damaged"):
        DecisionLog(path)  # at the cap it is read (and is not JSON)


def test_verify_log_reports_an_overlong_line(tmp_path):
    path = tmp_path / "decisions.jsonl"
    with DecisionLog(path) as log:
        log.append({"op": "note", "input": {}})
    with path.open("ab") as handle:
        handle.write(b"q" * (MAX_LINE_BYTES + 1) + b"\n")
    report = verify_log(path)
    assert report.lines == 2 and report.problems[0] == (2, f"line longer than {MAX_LINE_BYTES} bytes "
                                                            "(not written by the guard)")


def test_bounded_keeps_small_values_and_summarises_exactly_past_the_limits():
    assert bounded({"a": "s" * MAX_STRING_BYTES, "n": [1, 2.5, None, True]}) == \
        {"a": "s" * MAX_STRING_BYTES, "n": [1, 2.5, None, True]}
    over = "s" * (MAX_STRING_BYTES + 1)
    assert bounded(over) == {"sha256": hashlib.sha256(over.encode()).hexdigest(), "bytes": MAX_STRING_BYTES + 1,
                             "prefix": "s" * PREFIX_CHARS}
    wide = "é" * (MAX_STRING_BYTES // 2 + 1)  # few characters, more bytes than the limit
    assert bounded(wide)["bytes"] == MAX_STRING_BYTES + 2
    assert bounded("é" * (MAX_STRING_BYTES // 2)) == "é" * (MAX_STRING_BYTES // 2)
    items = [str(i) for i in range(MAX_ITEMS)]
    assert bounded(items) == items and bounded(tuple(items)) == items
    many = [*items, "last"]
    summary = bounded(many)
    assert summary["items"] == MAX_ITEMS + 1 and summary["prefix"] == many[:PREFIX_ITEMS]
    assert summary["sha256"] == hashlib.sha256(orjson.dumps(many)).hexdigest()
    big = {str(i): i for i in range(MAX_ITEMS + 1)}
    assert bounded(big)["items"] == MAX_ITEMS + 1
    assert bounded({str(i): i for i in range(MAX_ITEMS)}) == {str(i): i for i in range(MAX_ITEMS)}
    assert bounded(object.__new__(type("Odd", (), {"__str__": lambda self: "odd"}))) == "odd"
    long_key = "k" * (MAX_STRING_BYTES + 1)
    assert bounded({long_key: 1}) == {f"sha256:{hashlib.sha256(long_key.encode()).hexdigest()}": 1}
    assert bounded({5: "v"}) == {"5": "v"}


def test_strings_json_cannot_encode_are_summarised_not_a_crash(tmp_path):
    path = tmp_path / "decisions.jsonl"
    with DecisionLog(path) as log:
        log.append({"op": "note", "input": {"resource": "bad\udc80", "ok": "fine"}})
    record = orjson.loads(path.read_bytes())
    assert record["input"]["ok"] == "fine"
    assert record["input"]["resource"]["bytes"] == 6 and record["input"]["resource"]["prefix"].startswith("bad")
    assert verify_log(path).ok


def test_a_surrogate_in_a_denied_check_is_logged(load, tmp_path):
    guard = load("ops-agent", log=tmp_path / "decisions.jsonl")
    run = guard.start(tenant="acme-corp", workflow="incident-response")
    assert not run.check("read", "tick\ud800ets", columns=["id"])
    guard.log.close()
    assert verify_log(tmp_path / "decisions.jsonl").ok


def _chain(path, count):
    with DecisionLog(path) as log:
        for i in range(count):
            log.append({"op": "note", "input": {"i": i}})
    return path.read_bytes().splitlines()


def test_verify_log_names_empty_lines_non_objects_and_sequence_gaps(tmp_path):
    path = tmp_path / "decisions.jsonl"
    lines = _chain(path, 3)
    path.write_bytes(lines[0] + b"\n\n" + lines[1] + b"\n" + lines[2] + b"\n")
    report = verify_log(path)
    assert report.problems == [(2, "empty line")] and report.lines == 3
    path.write_bytes(b"\n".join([lines[0], b"[1, 2]", lines[2]]) + b"\n")
    report = verify_log(path)
    assert report.problems[0] == (2, "not a JSON object") and report.problems[1][0] == 3
    assert "hash chain broken" in report.problems[1][1]
    record = orjson.loads(lines[1])
    record["seq"] = 5
    path.write_bytes(b"\n".join([lines[0], orjson.dumps(record, option=orjson.OPT_SORT_KEYS)]) + b"\n")
    assert verify_log(path).problems == [(2, "sequence gap: expected seq 2, found 5")]


def test_verify_log_of_a_missing_seq_continues_counting(tmp_path):
    path = tmp_path / "decisions.jsonl"
    lines = _chain(path, 3)
    record = orjson.loads(lines[1])
    del record["seq"]
    path.write_bytes(b"\n".join([lines[0], orjson.dumps(record, option=orjson.OPT_SORT_KEYS), lines[2]]) + b"\n")
    problems = verify_log(path).problems
    assert problems[0] == (2, "sequence gap: expected seq 2, found None")
    assert [p for p in problems if p[0] == 3 and "sequence" in p[1]] == [], "line 3 is seq 3 as expected"


def test_an_empty_log_verifies_with_the_genesis_head(tmp_path):
    path = tmp_path / "decisions.jsonl"
    path.write_bytes(b"")
    report = verify_log(path)
    assert report.ok and report.lines == 0 and report.head == "0" * 64
    assert not verify_log(path, expect_head="1" * 64).ok


def test_the_documented_bounds():
    """docs/guard.md promises these numbers to people who parse the log."""
    assert (MAX_STRING_BYTES, MAX_ITEMS, PREFIX_CHARS, PREFIX_ITEMS, MAX_LINE_BYTES) == (1024, 256, 64, 16, 4 << 20)


def test_strict_mode_still_keeps_short_encodable_strings():
    assert bounded({"k": "v", "n": 2**63}, strict=True) == {"k": "v", "n": 2**63}
    assert bounded([2**64, -(2**63) - 1, -(2**63)], strict=True) == [str(2**64), str(-(2**63) - 1), -(2**63)]
    digest = hashlib.sha256("bad\udc80".encode("utf-8", "surrogatepass")).hexdigest()
    assert bounded({"bad\udc80": 1}, strict=True) == {f"sha256:{digest}": 1}
