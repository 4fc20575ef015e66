"""Hostile traces: every one is denied or refused, with the right reason.

Each test plays what a misbehaving (or compromised) agent would try, through the public API.
"""

from __future__ import annotations

import json
import shutil

import pytest
from guard_support import copy_bundle

from paybill.contract.bundle import MANIFEST_FILE, TESTS_FILE, bundle_revision, sha256_hex
from paybill.contract.requests import operation_context, request, run_entity
from paybill.guard import BundleError, Guard, GuardUsageError, verify_log
from paybill.guard import bundle as bundle_module

OPS = "specs/agents/ops-agent.yaml"
CRM = "specs/data/crm.yaml"
TICKET_COLUMNS = ["id", "status", "subject"]


def test_a_resource_of_another_tenant(load):
    run = load("ops-agent").start(tenant="acme-corp", workflow="incident-response")
    decision = run.check("read", "tickets", columns=TICKET_COLUMNS, rows=5, tenant="globex")
    assert not decision.allowed
    assert decision.violations == ("tenant.cross-tenant",)
    assert decision.reasons == (f"{OPS}#tenantIsolation",)
    assert run.check("read", "tickets", columns=TICKET_COLUMNS, rows=5).allowed, "its own tenant is fine"


def test_a_tenant_outside_the_scope(load):
    run = load("ops-agent").start(tenant="umbrella-health", workflow="incident-response")
    decision = run.check("read", "tickets", columns=TICKET_COLUMNS, rows=1)
    assert not decision and decision.violations == ("tenant.out-of-scope",)
    assert decision.reasons == (f"{OPS}#tenantScope",)


def test_global_reference_data_names_no_tenant(load):
    guard = load("billing-agent")
    decision = guard.evaluate(tenant="acme-corp", workflow="dunning", step="load-customer", action="read",
                              resource="customers", columns=("id",), rows=1, resource_tenant="globex")
    assert decision.violations == ("tenant.cross-tenant",)


def test_a_step_out_of_order(load):
    run = load("billing-agent").start(tenant="acme-corp", workflow="dunning")
    decision = run.advance("mark-overdue")  # list-invoices -> mark-overdue skips load-customer
    assert not decision.allowed and decision.violations == ("workflow.order",)
    assert run.step == "list-invoices", "a refused transition does not move the run"
    assert run.advance("no-such-step").violations == ("workflow.order",)


def test_an_action_not_in_the_current_step(load):
    run = load("billing-agent").start(tenant="acme-corp", workflow="dunning")
    update = run.check("update", "invoices", columns=["status"], rows=1)  # update belongs to mark-overdue
    assert not update.allowed and update.violations == ("workflow.step-action",) and update.reasons == ()
    other_table = run.check("read", "customers", columns=["id"], rows=1)  # customers belong to load-customer
    assert other_table.violations == ("workflow.step-action",)
    propose = run.check("propose", "Tenant", columns=["spec.plan"])
    assert propose.violations == ("workflow.step-action",)


def test_a_column_not_granted(load):
    run = load("billing-agent").start(tenant="acme-corp", workflow="dunning")
    plain = run.check("read", "invoices", columns=["id", "issued_at", "status"], rows=1)
    assert not plain.allowed and plain.violations == ("acl.column-not-granted",)
    assert plain.denied_columns == ("issued_at",)
    assert run.advance("load-customer").allowed
    personal = run.check("read", "customers", columns=["id", "email"], rows=1)
    assert personal.violations == ("acl.pii-column",) and personal.reasons == (f"{CRM}#tables.customers.pii",)
    reserved = run.check("read", "customers", columns=["tenant_id"], rows=1)
    assert reserved.violations == ("acl.reserved-column",)


def test_rows_read_limit_is_cumulative(load):
    run = load("ops-agent").start(tenant="acme-corp", workflow="incident-response")
    assert run.check("read", "tickets", columns=TICKET_COLUMNS, rows=1500).allowed
    decision = run.check("read", "tickets", columns=TICKET_COLUMNS, rows=501)  # 1500 + 501 > 2000
    assert decision.violations == ("limit.maxRowsRead",) and decision.reasons == (f"{OPS}#limits.maxRowsRead",)
    assert run.check("read", "tickets", columns=TICKET_COLUMNS, rows=500).allowed, "exactly the limit is allowed"
    assert run.rows_read == 2000


def test_rows_written_limit(load):
    run = load("ops-agent").start(tenant="acme-corp", workflow="incident-response")
    run.approve("close-tickets", by="oncall@example.com")
    assert run.advance("close-tickets").allowed
    decision = run.check("update", "tickets", columns=["status"], rows=501)
    assert decision.violations == ("limit.maxRowsWritten",)
    assert run.check("update", "tickets", columns=["status"], rows=500).allowed


def test_wall_time_limit(load, clock):
    run = load("ops-agent").start(tenant="acme-corp", workflow="incident-response")
    clock.advance(300)
    assert run.check("read", "tickets", columns=TICKET_COLUMNS, rows=1).allowed, "300 s is within 300 s"
    clock.advance(0.002)
    decision = run.check("read", "tickets", columns=TICKET_COLUMNS, rows=1)
    assert decision.violations == ("limit.maxWallTimeSeconds",)
    assert run.advance("done").violations == ("limit.maxWallTimeSeconds",)


def test_calls_per_minute_limit_and_its_window(load, clock):
    run = load("ops-agent").start(tenant="acme-corp", workflow="incident-response")
    for _ in range(30):
        assert run.check("read", "tickets", columns=TICKET_COLUMNS, rows=1).allowed
        clock.advance(1)
    denied = run.check("read", "tickets", columns=TICKET_COLUMNS, rows=1)
    assert denied.violations == ("limit.maxCallsPerMinute",)
    clock.advance(31)  # the first calls leave the 60 s window
    assert run.check("read", "tickets", columns=TICKET_COLUMNS, rows=1).allowed


def test_budget_limit(edited_bundles, clock):
    folder = edited_bundles({"agents/ops-agent.yaml": lambda t: t.replace("budgetUnits: 5000", "budgetUnits: 100")})
    run = Guard.load(folder / "ops-agent", clock=clock).start(tenant="acme-corp", workflow="incident-response")
    assert run.check("read", "tickets", columns=TICKET_COLUMNS, rows=60).allowed
    assert run.check("read", "tickets", columns=TICKET_COLUMNS, rows=0).allowed, "a call costs at least one unit"
    decision = run.check("read", "tickets", columns=TICKET_COLUMNS, rows=40)  # 61 + 40 > 100
    assert decision.violations == ("limit.budgetUnits",)
    assert run.budget_spent == 61


def test_steps_and_visits_limits(edited_bundles, clock):
    folder = edited_bundles({"agents/support-assistant.yaml": lambda t: t.replace("maxSteps: 20", "maxSteps: 4")})
    guard = Guard.load(folder / "support-assistant", clock=clock)
    run = guard.start(tenant="stark-industries", workflow="triage-ticket")
    for step in ("lookup-customer", "fetch-ticket", "lookup-customer"):
        assert run.advance(step).allowed
    decision = run.advance("fetch-ticket")  # a fifth step
    assert decision.violations == ("limit.maxSteps",)


def test_a_loop_past_max_visits(load):
    run = load("support-assistant").start(tenant="stark-industries", workflow="triage-ticket")
    for _ in range(4):
        assert run.advance("lookup-customer").allowed
        assert run.advance("fetch-ticket").allowed
    assert run.visits == {"fetch-ticket": 5, "lookup-customer": 4}
    assert run.advance("lookup-customer").allowed
    decision = run.advance("fetch-ticket")
    assert decision.violations == ("workflow.max-visits",)
    assert decision.reasons == ("specs/workflows/triage-ticket.yaml#steps.fetch-ticket.maxVisits",)


def test_approval_is_explicit_single_use_and_human(load):
    guard = load("ops-agent")
    run = guard.start(tenant="acme-corp", workflow="incident-response")
    assert run.advance("close-tickets").violations == ("workflow.approval-required",)
    assert not run.approve("close-tickets", by="ops-agent").allowed, "the agent cannot approve itself"
    assert not run.approve("close-tickets", by="  ").allowed
    assert not run.approve("inspect", by="oncall@example.com").allowed, "inspect needs no approval"
    assert run.approve("close-tickets", by="oncall@example.com").allowed
    assert run.advance("close-tickets").allowed
    assert run.approvals == {}, "an approval is consumed when the step is entered"


def test_nothing_after_the_end(load):
    run = load("ops-agent").start(tenant="acme-corp", workflow="incident-response")
    assert run.advance("done").allowed and run.finished
    assert run.check("read", "tickets", columns=TICKET_COLUMNS).violations == ("workflow.finished",)
    assert run.advance("inspect").violations == ("workflow.finished",)


@pytest.mark.parametrize(("args", "kwargs"), [
    (("read", "tickets"), {"rows": -1}),
    (("read", "tickets"), {"rows": True}),
    (("read", "tickets"), {"rows": 2**63}),
    (("read", "tickets"), {"rows": "5"}),
    (("drop", "tickets"), {}),
    (("advance", "done"), {}),
    (("read", 'tickets"; --'), {}),
    (("read", "tickets"), {"columns": ["id", "1=1"]}),
    (("read", "tickets"), {"columns": [None]}),
    (("read", "tickets"), {"columns": ["id", None]}),
    (("read", "tickets"), {"columns": "id"}),
    (("read", "tickets"), {"columns": 5}),
    ((None, object()), {"rows": object()}),
    (("approve", ["unhashable"]), {}),
    ((["read"], "tickets"), {}),
    (("read", "tickets"), {"tenant": "Globex"}),
])
def test_malformed_input_is_denied_without_reaching_cedar(load, args, kwargs, tmp_path):
    guard = load("ops-agent", log=tmp_path / "log.jsonl")
    run = guard.start(tenant="acme-corp", workflow="incident-response")
    decision = run.check(*args, **kwargs)
    assert not decision.allowed and decision.violations == ("input.invalid",)
    assert verify_log(tmp_path / "log.jsonl").lines == 2, "still logged, as JSON"


def test_misuse_of_the_api_raises(load):
    guard = load("ops-agent")
    with pytest.raises(GuardUsageError, match="does not run workflow"):
        guard.start(tenant="acme-corp", workflow="dunning")
    with pytest.raises(GuardUsageError, match="invalid run id"):
        guard.start(tenant="acme-corp", workflow="incident-response", run_id="../etc")


def test_a_missing_counter_fails_closed(load):
    guard = load("ops-agent")
    entity = run_entity("raw-1", "ops-agent", "acme-corp", "incident-response", "inspect")
    context = operation_context("read", "acme-corp", ["id"], 1)
    complete = request("raw-1", "read", "tickets", "incident-response", context)
    assert guard.authorize_raw(complete, [entity]).allowed
    del context["budgetSpent"]
    verdict = guard.authorize_raw(request("raw-1", "read", "tickets", "incident-response", context), [entity])
    assert not verdict.allowed and verdict.violations == ("engine.error",)
    assert "budgetSpent" in verdict.errors[0]
    # Even without schema validation, the forbid that cannot read the counter errors, and errors deny.
    loose = guard.engine.authorize([request("raw-1", "read", "tickets", "incident-response", context)],
                                   guard.engine.with_entities([entity]))[0]
    assert not loose.allowed and loose.errors


def test_a_tampered_bundle_file_is_refused(bundles, tmp_path):
    folder = copy_bundle(bundles / "ops-agent", tmp_path / "ops-agent")
    policies = folder / "policies.cedar"
    policies.write_text(policies.read_text().replace('context.columns.contains("body")', "false"))
    with pytest.raises(BundleError, match=r"policies\.cedar does not match its sha256") as refused:
        Guard.load(folder)
    assert refused.value.reason == "hash"


def test_a_tampered_bundle_with_rewritten_hashes_fails_its_golden_decisions(bundles, tmp_path):
    folder = copy_bundle(bundles / "ops-agent", tmp_path / "ops-agent")
    policies = folder / "policies.cedar"
    policies.write_text(policies.read_text().replace("context.tenant != principal.tenantId", "false"))
    manifest = json.loads((folder / MANIFEST_FILE).read_text())
    manifest["files"]["policies.cedar"] = sha256_hex(policies.read_bytes())
    from paybill.contract.bundle import bundle_revision

    manifest["revision"] = bundle_revision(manifest["files"])
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="golden decision 'deny read tickets of tenant globex") as refused:
        Guard.load(folder)
    assert refused.value.reason == "golden"


def test_a_missing_or_extra_file_is_refused(bundles, tmp_path):
    folder = copy_bundle(bundles / "ops-agent", tmp_path / "ops-agent")
    (folder / TESTS_FILE).unlink()
    with pytest.raises(BundleError) as refused:
        Guard.load(folder)
    assert refused.value.reason == "missing"
    shutil.rmtree(folder)
    folder = copy_bundle(bundles / "ops-agent", tmp_path / "ops-agent")
    manifest = json.loads((folder / MANIFEST_FILE).read_text())
    manifest["files"]["extra.cedar"] = "0" * 64
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(BundleError) as refused:
        Guard.load(folder)
    assert refused.value.reason == "unlisted"


def test_a_wrong_signature_is_refused(signed_bundles, keys, tmp_path):
    assert Guard.load(signed_bundles / "ops-agent", keys["public_pem"]).agent == "ops-agent"
    with pytest.raises(BundleError, match="which is not a trusted public key") as refused:
        Guard.load(signed_bundles / "ops-agent", keys["other_pem"])
    assert refused.value.reason == "signature"
    folder = copy_bundle(signed_bundles / "ops-agent", tmp_path / "ops-agent")
    manifest = json.loads((folder / MANIFEST_FILE).read_text())
    manifest["agent"] = "ops-agent "  # any change to the signed manifest
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(BundleError) as refused:
        Guard.load(folder, keys["public"])
    assert refused.value.reason == "signature"


def test_an_unsigned_bundle_is_refused_when_a_key_is_configured(bundles, keys):
    with pytest.raises(BundleError, match="not signed") as refused:
        Guard.load(bundles / "ops-agent", keys["public_pem"])
    assert refused.value.reason == "unsigned"
    assert Guard.load(bundles / "ops-agent").agent == "ops-agent", "without a key, hashes are still verified"


def test_a_decision_log_with_an_edited_line_is_detected(load, tmp_path):
    log_path = tmp_path / "decisions.jsonl"
    guard = load("ops-agent", log=log_path)
    run = guard.start(tenant="acme-corp", workflow="incident-response", run_id="run-1")
    run.check("read", "tickets", columns=TICKET_COLUMNS, rows=3)
    run.check("read", "tickets", columns=["body"], rows=3)
    run.advance("done")
    guard.log.close()
    assert verify_log(log_path).ok
    lines = log_path.read_bytes().splitlines()
    edited = lines[2].replace(b'"allowed":false', b'"allowed":true')
    assert edited != lines[2]
    log_path.write_bytes(b"\n".join([*lines[:2], edited, *lines[3:]]) + b"\n")
    report = verify_log(log_path)
    assert not report.ok and [line for line, _ in report.problems] == [4]
    assert "hash chain broken" in report.problems[0][1]


def _rehashed(folder, name: str, data: bytes) -> None:
    """Write ``name`` and a manifest that lists it: another valid (unsigned) revision of the bundle."""
    (folder / name).write_bytes(data)
    manifest = json.loads((folder / MANIFEST_FILE).read_text())
    manifest["files"][name] = sha256_hex(data)
    manifest["revision"] = bundle_revision(manifest["files"])
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest))


def test_a_bundle_swapped_by_a_compile_while_it_loads_is_read_again(bundles, tmp_path, monkeypatch):
    # `paybill compile` swaps the whole output folder at once; a server starting at that moment read
    # the manifest of one tree and a file of the other and refused the bundle ("hash").
    folder = copy_bundle(bundles / "ops-agent", tmp_path / "out" / "ops-agent")
    newer = copy_bundle(bundles / "ops-agent", tmp_path / "next" / "ops-agent")
    _rehashed(newer, "limits.json", (newer / "limits.json").read_bytes() + b"\n")
    real = bundle_module.read_regular
    swapped = []

    def read_across_a_swap(path, limit):
        if path.name != MANIFEST_FILE and not swapped:  # the manifest was read: the compile swaps now
            folder.rename(tmp_path / "spare")
            newer.rename(folder)
            swapped.append(path.name)
        return real(path, limit)

    monkeypatch.setattr(bundle_module, "read_regular", read_across_a_swap)
    loaded = Guard.load(folder)
    now = json.loads((folder / MANIFEST_FILE).read_text())["revision"]
    assert swapped and loaded.bundle.manifest["revision"] == now


def test_a_file_that_does_not_match_an_unchanged_manifest_is_not_read_again(bundles, tmp_path, monkeypatch):
    folder = copy_bundle(bundles / "ops-agent", tmp_path / "ops-agent")
    (folder / "limits.json").write_bytes((folder / "limits.json").read_bytes() + b"\n")
    reads = []
    real = bundle_module.read_regular
    monkeypatch.setattr(bundle_module, "read_regular", lambda path, limit: reads.append(path.name) or real(path, limit))
    with pytest.raises(BundleError, match=r"limits\.json does not match its sha256") as refused:
        Guard.load(folder)
    assert refused.value.reason == "hash" and reads.count(MANIFEST_FILE) == 2
