"""Shadow mode on real bundles compiled from the example specs: the candidate is asked, never obeyed."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest

from paybill.guard import Guard, ManualClock
from paybill.guard.shadow import (
    CANDIDATE_ERROR,
    CANDIDATE_REFUSED,
    WOULD_ALLOW,
    WOULD_DENY,
    ShadowGuard,
    ShadowLog,
)

INVOICE_COLUMNS = "read: [id, customer_id, amount_cents, currency, status, due_date]"


def _candidate_edit(text: str) -> str:
    """The next revision: invoices lose ``due_date`` (would-deny), customers gain ``created_at`` (would-allow)."""
    return (text.replace(INVOICE_COLUMNS, "read: [id, customer_id, amount_cents, currency, status]")
            .replace("read: [id, name, plan_code]", "read: [id, name, plan_code, created_at]")
            .replace("maxRowsRead: 5000", "maxRowsRead: 50"))


@pytest.fixture
def candidate(edited_bundles) -> Path:
    return edited_bundles({"agents/billing-agent.yaml": _candidate_edit}) / "billing-agent"


def lines(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_disagreements_are_logged_and_the_current_bundle_decides(bundles, candidate, clock, tmp_path):
    log = tmp_path / "shadow.jsonl"
    guard = Guard.load(bundles / "billing-agent", clock=clock)
    shadow = ShadowGuard.load(guard, candidate, log=log)
    assert shadow.candidate is not None and shadow.candidate.revision != guard.revision
    run = shadow.start(tenant="acme-corp", workflow="dunning", run_id="r1")
    same = run.check("read", "invoices", columns=["id", "status"], rows=3)
    denied_by_candidate = run.check("read", "invoices", columns=["id", "due_date"], rows=3)
    assert same.allowed and denied_by_candidate.allowed
    assert run.advance("load-customer").allowed
    widened = run.check("read", "customers", columns=["id", "created_at"], rows=1)
    assert not widened.allowed  # the candidate would allow it: enforcement still denies
    assert widened.violations == ("acl.column-not-granted",)
    assert run.step == "load-customer" and run.rows_read == 6
    over_candidate_limit = run.check("read", "customers", columns=["id"], rows=100)
    assert over_candidate_limit.allowed
    records = lines(log)
    assert [r["kind"] for r in records] == [WOULD_DENY, WOULD_ALLOW, WOULD_DENY]
    first, third, second = records
    assert first["request"] == {"action": "read", "resource": "invoices", "columns": ["id", "due_date"], "rows": 3,
                                "tenant": "acme-corp"}
    assert first["current"]["allowed"] and not first["candidate"]["allowed"]
    assert first["current"]["revision"] == guard.revision
    assert first["candidate"]["revision"] == shadow.candidate.revision
    assert first["current"]["reasons"] == ["specs/agents/billing-agent.yaml#permissions.tables.invoices.read"]
    assert first["candidate"]["violations"] == ["acl.column-not-granted"]
    assert second["candidate"]["reasons"] == ["specs/agents/billing-agent.yaml#limits.maxRowsRead"]
    assert second["candidate"]["violations"] == ["limit.maxRowsRead"]
    assert third["step"] == "load-customer" and third["run"] == "r1" and third["op"] == "check"
    assert third["candidate"]["reasons"] == ["specs/agents/billing-agent.yaml#permissions.tables.customers.read"]


def test_the_mirror_follows_the_enforcing_history_not_its_own(bundles, candidate, clock, tmp_path):
    """The candidate would deny the first read (its limit is 50 rows); the run still has read 40 rows
    for real, so the candidate's next answer is about 40 + 20 rows, not about an empty run."""
    log = tmp_path / "shadow.jsonl"
    shadow = ShadowGuard.load(Guard.load(bundles / "billing-agent", clock=clock), candidate, log=log)
    run = shadow.start(tenant="acme-corp", workflow="dunning")
    assert run.check("read", "invoices", columns=["id"], rows=40).allowed
    assert run.check("read", "invoices", columns=["id"], rows=20).allowed
    assert [r["kind"] for r in lines(log)] == [WOULD_DENY]
    run.settle(run.check("read", "invoices", columns=["id"], rows=5), 0)
    assert run.rows_read == 60 and shadow.start(tenant="globex", workflow="dunning").rows_read == 0


def test_advance_disagreements(edited_bundles, bundles, clock, tmp_path):
    def reorder(text: str) -> str:
        return text.replace("      next: [mark-overdue, done]", "      next: [mark-overdue]")

    candidate = edited_bundles({"workflows/dunning.yaml": reorder}) / "billing-agent"
    log = tmp_path / "shadow.jsonl"
    shadow = ShadowGuard.load(Guard.load(bundles / "billing-agent", clock=clock), candidate, log=log)
    run = shadow.start(tenant="acme-corp", workflow="dunning")
    assert run.advance("load-customer").allowed
    assert run.advance("done").allowed
    assert run.step == "done" and run.finished
    (record,) = lines(log)
    assert record["kind"] == WOULD_DENY and record["op"] == "advance" and record["step"] == "load-customer"
    assert record["request"] == {"step": "done"}
    assert record["candidate"]["violations"] == ["workflow.order"]
    # The mirror stands where the real run stands: both see a finished run now.
    assert not run.check("read", "customers", columns=["id"], rows=1).allowed
    assert not run.approve("done", by="ops@example.com").allowed
    assert len(lines(log)) == 1


def test_the_candidate_never_lets_a_denied_call_through(edited_bundles, bundles, clock, tmp_path):
    """A candidate that grants everything in scope: every denial of the current bundle stays a denial."""
    def widen(text: str) -> str:
        return _candidate_edit(text).replace("maxRowsRead: 50", "maxRowsRead: 5000")

    candidate = edited_bundles({"agents/billing-agent.yaml": widen}) / "billing-agent"
    log = tmp_path / "shadow.jsonl"
    guard = Guard.load(bundles / "billing-agent", clock=clock)
    plain = Guard.load(bundles / "billing-agent", clock=clock)
    shadow = ShadowGuard.load(guard, candidate, log=log)
    run, reference = shadow.start(tenant="acme-corp", workflow="dunning"), plain.start(tenant="acme-corp",
                                                                                        workflow="dunning")
    calls = [("check", ("read", "invoices"), {"columns": ["id"], "rows": 1}),
             ("advance", ("load-customer",), {}),
             ("check", ("read", "customers"), {"columns": ["created_at"], "rows": 1}),
             ("check", ("read", "customers"), {"columns": ["email"], "rows": 1}),
             ("check", ("delete", "customers"), {}),
             ("advance", ("propose-plan-change",), {})]
    for op, args, options in calls:
        got, want = getattr(run, op)(*args, **options), getattr(reference, op)(*args, **options)
        assert (got.allowed, got.reasons, got.violations) == (want.allowed, want.reasons, want.violations)
    assert [r["kind"] for r in lines(log)] == [WOULD_ALLOW]


def test_a_tampered_candidate_is_refused_and_enforcement_goes_on(bundles, clock, tmp_path):
    tampered = shutil.copytree(bundles / "billing-agent", tmp_path / "candidate")
    policies = tampered / "policies.cedar"
    policies.write_text(policies.read_text() + "\npermit (principal, action, resource);\n")
    log = tmp_path / "shadow.jsonl"
    shadow = ShadowGuard.load(Guard.load(bundles / "billing-agent", clock=clock), tampered, log=log)
    assert shadow.candidate is None
    run = shadow.start(tenant="acme-corp", workflow="dunning")
    assert not run.check("read", "customers", columns=["email"]).allowed
    (record,) = lines(log)
    assert record["kind"] == CANDIDATE_REFUSED and record["reason"] == "hash"


def test_a_candidate_of_another_agent_is_refused(bundles, clock, tmp_path):
    log = tmp_path / "shadow.jsonl"
    guard = Guard.load(bundles / "billing-agent", clock=clock)
    shadow = ShadowGuard.load(guard, bundles / "ops-agent", log=log)
    assert shadow.candidate is None and lines(log)[0]["reason"] == "agent"
    direct = ShadowGuard(guard, Guard.load(bundles / "ops-agent", clock=clock), log=ShadowLog(tmp_path / "b.jsonl"))
    assert direct.candidate is None and lines(tmp_path / "b.jsonl")[0]["kind"] == CANDIDATE_REFUSED


def test_a_candidate_failure_mid_run_is_logged_and_switches_the_shadow_off(bundles, clock, tmp_path):
    log = tmp_path / "shadow.jsonl"
    guard = Guard.load(bundles / "billing-agent", clock=clock)
    candidate = Guard.load(bundles / "billing-agent", clock=clock)
    shadow = ShadowGuard(guard, candidate, log=log)
    run = shadow.start(tenant="acme-corp", workflow="dunning")

    def broken(*args, **kwargs):
        raise RuntimeError("cedar exploded")

    candidate.decider.decide = broken  # an evaluation error inside the candidate
    assert run.check("read", "invoices", columns=["id"], rows=1).allowed
    assert run.check("read", "invoices", columns=["id"], rows=1).allowed
    assert run.mirror is None
    (record,) = lines(log)
    assert record["kind"] == CANDIDATE_ERROR and "cedar exploded" in record["error"]
    assert record["current"] == {"revision": guard.revision}


def test_a_workflow_the_candidate_does_not_run(bundles, clock, tmp_path):
    log = tmp_path / "shadow.jsonl"
    candidate = Guard.load(bundles / "billing-agent", clock=clock)
    candidate.workflows = {}  # a next revision that dropped the workflow
    shadow = ShadowGuard(Guard.load(bundles / "billing-agent", clock=clock), candidate, log=log)
    run = shadow.start(tenant="acme-corp", workflow="dunning")
    assert run.mirror is None
    assert run.check("read", "invoices", columns=["id"], rows=1).allowed
    (record,) = lines(log)
    assert record["kind"] == CANDIDATE_ERROR and record["op"] == "start" and "dunning" in record["error"]


def test_check_many_compares_each_operation(bundles, candidate, clock, tmp_path):
    log = tmp_path / "shadow.jsonl"
    shadow = ShadowGuard.load(Guard.load(bundles / "billing-agent", clock=clock), candidate, log=log)
    run = shadow.start(tenant="acme-corp", workflow="dunning")
    decisions = run.check_many([("read", "invoices", {"columns": ["id"], "rows": 1}),
                                ("read", "invoices", {"columns": ["due_date"], "rows": 1})])
    assert [d.allowed for d in decisions] == [True, True]
    (record,) = lines(log)
    assert record["kind"] == WOULD_DENY and record["request"]["columns"] == ["due_date"]


def test_guard_attributes_and_log_refusals(bundles, clock, tmp_path):
    guard = Guard.load(bundles / "billing-agent", clock=clock)
    shadow = ShadowGuard(guard, None, log=tmp_path / "s.jsonl")
    assert (shadow.agent, shadow.revision, shadow.workflows) == (guard.agent, guard.revision, guard.workflows)
    with pytest.raises(AttributeError):
        _ = shadow.not_a_guard_attribute
    run = shadow.start(tenant="acme-corp", workflow="dunning", run_id="abc")
    assert (run.id, run.finished, run.counters()["steps"]) == ("abc", False, 1)
    shadow.close()
    shadow.close()
    assert (tmp_path / "s.jsonl").read_bytes() == b""
    from paybill.guard import LogError
    with pytest.raises(LogError):
        ShadowLog(tmp_path)
    _ = ManualClock


def test_what_if_questions_are_shadowed_too(bundles, candidate, clock, tmp_path):
    log = tmp_path / "shadow.jsonl"
    guard = Guard.load(bundles / "billing-agent", clock=clock)
    shadow = ShadowGuard.load(guard, candidate, log=log)
    ask = {"tenant": "acme-corp", "workflow": "dunning", "step": "list-invoices", "action": "read",
           "resource": "invoices"}
    assert shadow.evaluate(**ask, columns=("id",), rows=1).allowed
    assert shadow.evaluate(**ask, columns=("due_date",), rows=1).allowed
    (record,) = lines(log)
    assert (record["kind"], record["op"], record["run"], record["step"]) == (WOULD_DENY, "evaluate", "what-if",
                                                                             "list-invoices")
    from paybill.guard import GuardUsageError
    with pytest.raises(GuardUsageError):  # the caller's error (AuthZEN input.invalid), not the candidate's
        shadow.evaluate(**{**ask, "step": "nope"})
    with pytest.raises(GuardUsageError):
        shadow.evaluate(**{**ask, "workflow": "nope"})
    assert [r["kind"] for r in lines(log)] == [WOULD_DENY]

    def broken(**kwargs):
        raise RuntimeError("candidate broke")

    shadow.candidate.evaluate = broken
    assert shadow.evaluate(**ask, columns=("id",), rows=1).allowed
    assert lines(log)[-1]["kind"] == CANDIDATE_ERROR and "candidate broke" in lines(log)[-1]["error"]


def test_a_what_if_only_the_candidate_cannot_answer_is_its_error(bundles, clock, tmp_path):
    log = tmp_path / "shadow.jsonl"
    candidate = Guard.load(bundles / "billing-agent", clock=clock)
    candidate.workflows = {}  # a next revision that dropped the workflow the question is about
    shadow = ShadowGuard(Guard.load(bundles / "billing-agent", clock=clock), candidate, log=log)
    assert shadow.evaluate(tenant="acme-corp", workflow="dunning", step="list-invoices", action="read",
                           resource="invoices", columns=("id",), rows=1).allowed
    (record,) = lines(log)
    assert (record["kind"], record["op"]) == (CANDIDATE_ERROR, "evaluate") and "dunning" in record["error"]
    assert record["current"]["allowed"] is True
