"""The decision log: one canonical line per call, chained by hashes, and a verifier that finds edits."""

from __future__ import annotations

import hashlib

import orjson
import pytest

from paybill.guard import DecisionLog, LogError, verify_log
from paybill.guard.log import GENESIS, input_hash


@pytest.fixture
def recorded(load, tmp_path):
    """A log of one short ops-agent run: start, allowed check, denied check, approval, two advances."""
    path = tmp_path / "decisions.jsonl"
    guard = load("ops-agent", log=path)
    run = guard.start(tenant="acme-corp", workflow="incident-response", run_id="run-1")
    run.check("read", "tickets", columns=["id", "status"], rows=3)
    run.check("read", "tickets", columns=["body"], rows=3)
    run.approve("close-tickets", by="oncall@example.com")
    run.advance("close-tickets")
    run.advance("done")
    guard.log.close()
    return path


def test_every_call_is_one_chained_line_with_revision_input_and_decision(recorded, load):
    lines = recorded.read_bytes().splitlines()
    records = [orjson.loads(line) for line in lines]
    assert [r["op"] for r in records] == ["start", "check", "check", "approve", "advance", "advance"]
    assert [r["seq"] for r in records] == [1, 2, 3, 4, 5, 6]
    assert records[0]["prev"] == GENESIS
    for previous, record in zip(lines, records[1:], strict=False):
        assert record["prev"] == hashlib.sha256(previous).hexdigest()
    revision = load("ops-agent").revision
    assert {r["revision"] for r in records} == {revision} and {r["run"] for r in records} == {"run-1"}
    check = records[2]
    assert check["input"] == {"action": "read", "resource": "tickets", "columns": ["body"], "rows": 3,
                              "tenant": "acme-corp"}
    assert check["inputHash"] == input_hash(check["input"])
    assert check["decision"] == {"allowed": False, "reasons": ["specs/data/crm.yaml#tables.tickets.pii"],
                                 "violations": ["acl.pii-column"]}
    assert all(line == orjson.dumps(orjson.loads(line), option=orjson.OPT_SORT_KEYS) for line in lines)


def test_an_intact_log_verifies_and_reports_its_head(recorded):
    report = verify_log(recorded)
    assert report.ok and report.lines == 6
    assert report.head == hashlib.sha256(recorded.read_bytes().splitlines()[-1]).hexdigest()
    assert verify_log(recorded, expect_head=report.head).ok


@pytest.mark.parametrize(("mutate", "first_bad_line", "words"), [
    (lambda ls: [*ls[:1], ls[1].replace(b'"rows":3', b'"rows":2'), *ls[2:]], 2, "inputHash"),
    (lambda ls: [*ls[:2], ls[2].replace(b'"allowed":false', b'"allowed":true'), *ls[3:]], 4, "hash chain"),
    (lambda ls: [*ls[:3], *ls[4:]], 4, "hash chain"),
    (lambda ls: [*ls[:3], ls[1], *ls[3:]], 4, "hash chain"),
    (lambda ls: [*ls[:5], b"not json"], 6, "not JSON"),
])
def test_edited_deleted_inserted_or_garbled_lines_are_found(recorded, mutate, first_bad_line, words):
    recorded.write_bytes(b"\n".join(mutate(recorded.read_bytes().splitlines())) + b"\n")
    report = verify_log(recorded)
    assert not report.ok
    assert report.problems[0][0] == first_bad_line and words in report.problems[0][1]


def test_a_truncated_tail_needs_the_anchored_head(recorded):
    head = verify_log(recorded).head
    recorded.write_bytes(b"\n".join(recorded.read_bytes().splitlines()[:-1]) + b"\n")
    assert verify_log(recorded).ok, "a shorter chain is still a chain"
    report = verify_log(recorded, expect_head=head)
    assert not report.ok and "truncated" in report.problems[-1][1]


def test_reopening_continues_the_chain(recorded):
    with DecisionLog(recorded) as log:
        log.append({"op": "note", "run": "run-1", "input": {"x": 1}, "decision": {"allowed": True}})
    report = verify_log(recorded)
    assert report.ok and report.lines == 7


def test_a_damaged_last_line_is_not_continued(recorded):
    with recorded.open("ab") as handle:
        handle.write(b"{broken\n")
    with pytest.raises(LogError, match="damaged"):
        DecisionLog(recorded)
