"""The run API the SQL layer builds on: decisions, batches, bookkeeping, well-typed requests."""

from __future__ import annotations

import pytest

from paybill.guard import Decision, Denied


def test_a_whole_dunning_run(load):
    run = load("billing-agent").start(tenant="initech", workflow="dunning", run_id="dunning-1")
    assert run.step == "list-invoices" and run.steps == 1
    assert run.check("read", "invoices", columns=["id", "status", "due_date"], rows=40)
    assert run.advance("load-customer")
    assert run.check("read", "customers", columns=["id", "name"], rows=12)
    assert run.advance("mark-overdue")
    assert run.check("update", "invoices", columns=["status"], rows=7)
    assert run.advance("propose-plan-change")
    assert run.check("propose", "Tenant", columns=["spec.plan"])
    assert not run.check("propose", "Tenant", columns=["spec.placement"])
    assert run.advance("done") and run.finished
    assert (run.rows_read, run.rows_written, run.budget_spent, run.steps) == (52, 7, 40 + 12 + 7 + 1, 5)
    counters = run.counters()
    assert counters["callsLastMinute"] == 9 and counters["elapsedMillis"] == 0


def test_denied_calls_spend_nothing_but_count_as_calls(load):
    run = load("ops-agent").start(tenant="acme-corp", workflow="incident-response")
    assert not run.check("read", "tickets", columns=["body"], rows=100)
    assert (run.rows_read, run.budget_spent) == (0, 0)
    assert run.counters()["callsLastMinute"] == 1


def test_check_many_is_one_batch_with_sequential_bookkeeping(load):
    run = load("ops-agent").start(tenant="acme-corp", workflow="incident-response")
    decisions = run.check_many([
        ("read", "tickets", {"columns": ["id"], "rows": 1500}),
        ("read", "tickets", {"columns": ["body"], "rows": 10}),       # denied: personal data
        ("read", "tickets", {"columns": ["id"], "rows": 490}),        # 1500 + 10 + 490 = 2000: allowed
        ("read", "tickets", {"columns": ["id"], "rows": 1}),          # over, counting every earlier row
        ("read", "tickets", {"columns": ["id"], "rows": -1}),         # malformed
    ])
    assert [d.allowed for d in decisions] == [True, False, True, False, False]
    assert [d.violations for d in decisions][1:] == [("acl.pii-column",), (), ("limit.maxRowsRead",),
                                                     ("input.invalid",)]
    assert run.rows_read == 1990, "only allowed operations spend"
    assert run.check_many([]) == []


def test_decisions_are_truthy_only_when_allowed_and_can_raise(load):
    run = load("ops-agent").start(tenant="acme-corp", workflow="incident-response")
    allowed = run.check("read", "tickets", columns=["id"])
    denied = run.check("read", "tickets", columns=["body"])
    assert isinstance(allowed, Decision) and bool(allowed) and not bool(denied)
    assert allowed.require() is allowed
    with pytest.raises(Denied) as raised:
        denied.require()
    assert raised.value.decision is denied and "acl.pii-column" in str(raised.value)
    assert denied.to_dict() == {"allowed": False, "reasons": ["specs/data/crm.yaml#tables.tickets.pii"],
                                "violations": ["acl.pii-column"]}


def test_the_guards_own_requests_match_the_schema(load):
    """The hot path skips per-request schema validation; this proves it loses nothing."""
    guard = load("billing-agent")
    run = guard.start(tenant="acme-corp", workflow="dunning")
    counters = run.counters()
    for action, resource, columns in (("read", "invoices", ("id",)), ("update", "invoices", ("status",)),
                                      ("insert", "invoices", ("id",)), ("delete", "invoices", ()),
                                      ("propose", "Tenant", ("spec.plan",)), ("approve", "dunning", ())):
        request = run._request(action, resource, "acme-corp", columns, 1, counters)
        (verdict,) = guard.engine.authorize([request], run._entities, strict=True)
        assert not verdict.errors, (action, verdict.errors)


def test_guard_exposes_limits_and_workflows(load):
    guard = load("support-assistant")
    assert guard.limits == {"budgetUnits": 1000, "maxCallsPerMinute": 60, "maxRowsRead": 500, "maxRowsWritten": 0,
                            "maxSteps": 20, "maxWallTimeSeconds": 120}
    assert list(guard.workflows) == ["triage-ticket"]
    assert list(guard.workflows["triage-ticket"]["steps"]) == ["fetch-ticket", "lookup-customer", "done"]


def test_settle_gives_back_what_an_operation_did_not_touch(load):
    run = load("ops-agent").start(tenant="acme-corp", workflow="incident-response")
    decision = run.check("read", "tickets", columns=["id"], rows=500)
    assert decision and decision.charge
    run.settle(decision, 3)
    assert (run.rows_read, run.budget_spent) == (3, 3)


CLEANUP_WORKFLOW = """apiVersion: paybill.dev/v1alpha1
kind: Workflow
metadata:
  name: incident-response
spec:
  start: look
  terminal: [done]
  steps:
    - {id: look, action: read, resource: currencies, next: [add]}
    - {id: add, action: insert, resource: tickets, next: [sign-off]}
    - {id: sign-off, action: approve, next: [purge]}
    - {id: purge, action: delete, resource: tickets, requiresApproval: true, next: [done]}
    - {id: done, action: none}
"""


def test_every_action_end_to_end(edited_bundles, clock):
    from paybill.guard import Guard

    def grants(text: str) -> str:
        return text.replace("""      - table: tickets
        read: [id, subject, status, priority, assignee]
        update: [status, assignee]
""", """      - {table: currencies, read: [code, name]}
      - {table: tickets, insert: [id, customer_id, subject, status, priority], delete: true}
""")

    folder = edited_bundles({"workflows/incident-response.yaml": lambda _: CLEANUP_WORKFLOW,
                             "agents/ops-agent.yaml": grants})
    run = Guard.load(folder / "ops-agent", clock=clock).start(tenant="initech", workflow="incident-response")
    assert run.check("read", "currencies", columns=["code"], rows=3, tenant="globex"), "global data names no tenant"
    assert run.advance("add")
    assert run.check("insert", "tickets", columns=["id", "subject"], rows=1)
    assert not run.check("insert", "tickets", columns=["id", "body"], rows=1)
    assert run.advance("sign-off")
    assert run.check("approve", "incident-response")
    assert run.advance("purge").violations == ("workflow.approval-required",)
    assert run.approve("purge", by="lead@example.com")
    assert run.advance("purge")
    assert run.check("delete", "tickets", rows=2)
    assert not run.check("delete", "tickets", rows=2, tenant="globex")
    assert run.advance("done") and run.finished


def test_an_advance_waits_for_an_approval_only_when_nothing_else_stands_in_the_way(load):
    """The approval forbid holds whatever else is wrong: the guard asks again as if approved, so a
    finished run, a step no transition leads from, a tenant out of scope or a limit is the reason
    given - never "waits for a human approval", which would send a human to approve in vain."""
    guard = load("ops-agent")
    waiting = guard.start(tenant="initech", workflow="incident-response").advance("close-tickets")
    assert not waiting and waiting.violations == ("workflow.approval-required",)
    assert waiting.reasons == ("specs/workflows/incident-response.yaml#steps.close-tickets.requiresApproval",)

    finished = guard.start(tenant="initech", workflow="incident-response")
    assert finished.advance("done")
    refused = finished.advance("close-tickets")
    assert not refused and refused.violations == ("workflow.finished",) and refused.reasons == ()

    out_of_scope = guard.start(tenant="pied-piper", workflow="incident-response").advance("close-tickets")
    assert not out_of_scope and out_of_scope.violations == ("tenant.out-of-scope",)
    assert out_of_scope.reasons == ("specs/agents/ops-agent.yaml#tenantScope",)

    busy = guard.start(tenant="initech", workflow="incident-response")
    for _ in range(guard.limits["maxCallsPerMinute"]):
        busy.check("read", "tickets", columns=["id"], rows=0)
    limited = busy.advance("close-tickets")
    assert not limited and limited.violations == ("limit.maxCallsPerMinute",)

    approved = guard.start(tenant="initech", workflow="incident-response")
    assert approved.approve("close-tickets", by="oncall@example.com")
    assert approved.advance("close-tickets") and approved.step == "close-tickets"
