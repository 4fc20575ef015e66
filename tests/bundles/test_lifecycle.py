"""Lifecycle-aware bundles: a step acts only on tenants in the states it declares; deleted never.

The example's tenants cover every state: cyberdyne is deleted, nakatomi and soylent suspended,
tyrell offboarding, pied-piper onboarding. The dunning workflow acts on onboarding, active and
suspended tenants; the other workflows keep the default (onboarding, active). Every refusal here
must come from Cedar (a policy id among the reasons), not from Python bookkeeping.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bundle_support import bundle_files, codes, emit_from, write_bundle
from click.testing import CliRunner

from paybill.cli.main import cli
from paybill.contract.bundle import V_LIFECYCLE
from paybill.contract.requests import operation_context, request, run_entity
from paybill.emit.bundles import policies
from paybill.guard import Guard

LIFECYCLE_POLICY = "specs/agents/billing-agent.yaml#workflows.lifecycles"
DELETED_POLICY = "specs/agents/billing-agent.yaml#workflows.lifecycles.deleted"
INVOICE_COLUMNS = ("id", "status")


@pytest.fixture(scope="module")
def billing(example, tmp_path_factory) -> Path:
    tree, _ = example
    return write_bundle(tree, "billing-agent", tmp_path_factory.mktemp("lifecycle") / "billing-agent")


def test_a_deleted_tenant_is_refused_by_cedar_and_the_refusal_names_its_state(billing):
    run = Guard.load(billing).start(tenant="cyberdyne", workflow="dunning")
    decision = run.check("read", "invoices", columns=INVOICE_COLUMNS, rows=1)
    assert not decision.allowed
    assert decision.violations == (V_LIFECYCLE,)
    assert decision.reasons == (LIFECYCLE_POLICY,)
    assert decision.explanation == ("tenant 'cyberdyne' is deleted; workflow 'dunning' step 'list-invoices' acts on "
                                    "onboarding, active, suspended")
    assert decision.explanation in decision.summary()
    assert decision.to_dict()["explanation"] == decision.explanation
    # Not even the workflow's own transitions: a deleted tenant's run goes nowhere.
    moved = run.advance("load-customer")
    assert not moved.allowed and moved.violations == (V_LIFECYCLE,) and moved.reasons == (DELETED_POLICY,)
    assert run.step == "list-invoices"


def test_the_same_request_for_an_active_tenant_is_allowed(billing):
    run = Guard.load(billing).start(tenant="acme-corp", workflow="dunning")
    assert run.check("read", "invoices", columns=INVOICE_COLUMNS, rows=1).allowed
    assert run.advance("load-customer").allowed


@pytest.mark.parametrize(("tenant", "state", "allowed"), [
    ("pied-piper", "onboarding", True),
    ("nakatomi", "suspended", True),  # dunning names suspended
    ("tyrell", "offboarding", False),
    ("cyberdyne", "deleted", False),
])
def test_dunning_acts_on_exactly_the_states_it_declares(billing, tenant, state, allowed):
    guard = Guard.load(billing)
    assert guard.bundle.tenant_lifecycles[tenant] == state
    decision = guard.evaluate(tenant=tenant, workflow="dunning", step="mark-overdue", action="update",
                              resource="invoices", columns=("status",), rows=1)
    assert decision.allowed is allowed
    if not allowed:
        assert decision.violations == (V_LIFECYCLE,)
        assert f"tenant '{tenant}' is {state};" in decision.explanation


def test_the_decision_is_cedars_a_raw_request_without_the_run_bookkeeping_is_refused_too(billing):
    guard = Guard.load(billing)
    entities = [run_entity("raw", "billing-agent", "cyberdyne", "dunning", "list-invoices")]
    verdict = guard.authorize_raw(request("raw", "read", "invoices", "dunning",
                                          operation_context("read", "cyberdyne", INVOICE_COLUMNS, 1)), entities)
    assert not verdict.allowed and verdict.violations == (V_LIFECYCLE,) and verdict.reasons == (LIFECYCLE_POLICY,)
    assert not verdict.errors  # a tenant in the store always has a lifecycle: no evaluation error


def test_a_tenant_outside_the_scope_is_refused_by_scope_without_an_evaluation_error(billing):
    # The lifecycle forbid reads principal.tenant.lifecycle; for a tenant missing from the store it
    # must stay silent (``has``) rather than error, or every out-of-scope call would be an engine error.
    guard = Guard.load(billing)
    entities = [run_entity("raw", "billing-agent", "no-such-tenant", "dunning", "list-invoices")]
    verdict = guard.authorize_raw(request("raw", "read", "invoices", "dunning",
                                          operation_context("read", "no-such-tenant", INVOICE_COLUMNS, 1)), entities)
    assert not verdict.allowed and verdict.violations == ("tenant.out-of-scope",) and not verdict.errors


def test_the_entities_carry_each_tenants_state_and_each_steps_states(example):
    tree, _ = example
    entities = json.loads(bundle_files(tree, "billing-agent")["entities.json"])
    by_uid = {(e["uid"]["type"], e["uid"]["id"]): e for e in entities}
    assert by_uid[("Paybill::Tenant", "cyberdyne")]["attrs"] == {"lifecycle": "deleted"}
    assert by_uid[("Paybill::Tenant", "nakatomi")]["attrs"] == {"lifecycle": "suspended"}
    assert by_uid[("Paybill::Step", "dunning/list-invoices")]["attrs"] == {
        "lifecycles": ["onboarding", "active", "suspended"]}
    ops = json.loads(bundle_files(tree, "ops-agent")["entities.json"])
    step = next(e for e in ops if e["uid"] == {"type": "Paybill::Step", "id": "incident-response/inspect"})
    assert step["attrs"] == {"lifecycles": ["onboarding", "active"]}  # the default


def test_golden_decisions_cover_a_suspended_and_a_deleted_tenant(example):
    tree, _ = example
    tests = json.loads(bundle_files(tree, "billing-agent")["tests.json"])["tests"]
    by_name = {t["name"]: t["expect"] for t in tests}
    assert by_name["allow read invoices in dunning/list-invoices for suspended tenant nakatomi"]["allowed"] is True
    assert by_name["deny read invoices in dunning/list-invoices for deleted tenant cyberdyne"] == {
        "allowed": False, "reasons": [LIFECYCLE_POLICY]}
    assert by_name["deny dunning: list-invoices -> load-customer for deleted tenant cyberdyne"] == {
        "allowed": False, "reasons": [DELETED_POLICY]}
    assert by_name["deny update invoices in dunning/mark-overdue for offboarding tenant tyrell"]["allowed"] is False


def test_without_the_lifecycle_forbids_the_goldens_fail_and_no_bundle_is_written(monkeypatch):
    # The goldens are derived from the spec, not from the policies: dropping the forbids must be caught.
    from bundle_support import SPECS

    monkeypatch.setattr(policies, "_lifecycle_policies", lambda facts: iter(()))
    tree, diagnostics = emit_from(SPECS)
    failed = [d.message for d in diagnostics if d.code == "PB0706"]
    assert any("deleted tenant cyberdyne" in m for m in failed), failed
    assert not bundle_files(tree, "billing-agent")


def test_a_step_overrides_its_workflows_states(edited_specs, tmp_path):
    specs = edited_specs({"workflows/dunning.yaml": lambda t: t.replace(
        "      action: update\n", "      action: update\n      lifecycles: [active]\n")})
    tree, diagnostics = emit_from(specs)
    assert "PB0702" not in codes(diagnostics)
    guard = Guard.load(write_bundle(tree, "billing-agent", tmp_path / "bundle"))
    read = guard.evaluate(tenant="nakatomi", workflow="dunning", step="list-invoices", action="read",
                          resource="invoices", columns=INVOICE_COLUMNS, rows=1)
    update = guard.evaluate(tenant="nakatomi", workflow="dunning", step="mark-overdue", action="update",
                            resource="invoices", columns=("status",), rows=1)
    assert read.allowed and not update.allowed
    assert update.explanation == "tenant 'nakatomi' is suspended; workflow 'dunning' step 'mark-overdue' acts on active"


def test_cedar_checks_each_step_only_for_tenants_in_states_it_acts_in(edited_specs):
    # An offboarding-only step: PB0702 must ask Cedar about an offboarding tenant (tyrell), and must not
    # report that active tenants are refused there (that is the point of the declaration).
    specs = edited_specs({"workflows/dunning.yaml": lambda t: t.replace(
        "      action: update\n", "      action: update\n      lifecycles: [offboarding]\n")})
    tree, diagnostics = emit_from(specs)
    assert "PB0702" not in codes(diagnostics) and bundle_files(tree, "billing-agent")


def test_guard_check_prints_the_refusal_with_the_state_and_exits_3(billing):
    result = CliRunner().invoke(cli, ["guard", "check", "--bundle", str(billing), "--tenant", "cyberdyne",
                                      "--workflow", "dunning", "--step", "list-invoices", "--action", "read",
                                      "--resource", "invoices", "--columns", "id,status"], catch_exceptions=False)
    assert result.exit_code == 3
    assert result.output.splitlines()[0] == (
        "deny: check read invoices (tenant cyberdyne, step list-invoices): tenant.lifecycle: tenant 'cyberdyne' is "
        "deleted; workflow 'dunning' step 'list-invoices' acts on onboarding, active, suspended")
    assert f"policy: {LIFECYCLE_POLICY}" in result.output
