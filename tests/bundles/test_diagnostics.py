"""PB07xx: bundle problems are diagnostics at spec positions, decided by Cedar where it matters."""

from __future__ import annotations

import pytest
from bundle_support import SPECS, bundle_files, codes, emit_from

from paybill.emit.bundles import checks, emitter, policies
from paybill.emit.bundles.facts import Origin
from paybill.emit.bundles.policies import Policy


def line_of(relpath: str, needle: str, after: str | None = None) -> int:
    """1-based line of the first ``needle`` (after the first ``after``, when given) in an example spec."""
    lines = (SPECS / relpath).read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if after in line) if after else 0
    return next(i for i in range(start, len(lines)) if needle in lines[i]) + 1


def test_a_step_the_acl_does_not_grant_is_found_by_cedar(edited_specs):
    # PB0506 (validate, no Cedar) reports it too; the emitter asks Cedar independently, at the step.
    specs = edited_specs({"agents/billing-agent.yaml": lambda t: t.replace("        update: [status]\n", "")})
    tree, diagnostics = emit_from(specs, require_valid=False)
    found = [d for d in diagnostics if d.code == "PB0702"]
    assert [(d.path, d.position.line) for d in found] == [
        ("specs/workflows/dunning.yaml", line_of("workflows/dunning.yaml", "action: update"))]
    assert "step 'mark-overdue' needs update on table 'invoices'" in found[0].message
    assert "no policy permits it" in found[0].message
    assert not bundle_files(tree, "billing-agent"), "an agent with errors gets no bundle"
    assert bundle_files(tree, "ops-agent")


def test_cedar_finds_what_the_raw_acl_check_cannot_a_limit_that_denies_every_step(edited_specs):
    specs = edited_specs({"agents/support-assistant.yaml": lambda t: t.replace("budgetUnits: 1000", "budgetUnits: 0")})
    tree, diagnostics = emit_from(specs)  # validation (PB0506 included) is clean
    found = [d for d in diagnostics if d.code == "PB0702"]
    assert [d.position.line for d in found] == [
        line_of("workflows/triage-ticket.yaml", "action: read", "id: fetch-ticket"),
        line_of("workflows/triage-ticket.yaml", "action: read", "id: lookup-customer")]
    assert "support-assistant.yaml#limits.budgetUnits" in found[0].message
    assert not bundle_files(tree, "support-assistant")


def test_a_transition_beyond_max_steps_is_reported_at_its_next_entry(edited_specs):
    specs = edited_specs({"agents/ops-agent.yaml": lambda t: t.replace("maxSteps: 10", "maxSteps: 2")})
    _, diagnostics = emit_from(specs)
    found = [d for d in diagnostics if d.code == "PB0703"]
    assert [(d.path, d.position.line) for d in found] == [
        ("specs/workflows/incident-response.yaml",
         line_of("workflows/incident-response.yaml", "next: [done]", "id: close-tickets"))]
    assert "'close-tickets' -> 'done'" in found[0].message and "limits.maxSteps" in found[0].message


def test_an_empty_scope_warns_and_still_emits_a_deny_everything_bundle(edited_specs):
    specs = edited_specs({"agents/support-assistant.yaml": lambda t: t.replace("support-tier: premium",
                                                                              "support-tier: platinum")})
    tree, diagnostics = emit_from(specs, require_valid=False)  # PB0309 (warning) from validation
    warning = next(d for d in diagnostics if d.code == "PB0704")
    assert warning.severity.value == "warning"
    assert warning.position.line == line_of("agents/support-assistant.yaml", "selector:")
    assert bundle_files(tree, "support-assistant")


def test_an_unused_grant_is_a_least_privilege_warning(edited_specs):
    specs = edited_specs({"agents/billing-agent.yaml": lambda t: t.replace(
        "    proposals:\n", "      - table: currencies\n        read: [code, minor_units]\n    proposals:\n")})
    _, diagnostics = emit_from(specs)
    (warning,) = diagnostics
    assert (warning.code, warning.severity.value, warning.path, warning.position.line) == (
        "PB0705", "warning", "specs/agents/billing-agent.yaml",
        (specs / "agents/billing-agent.yaml").read_text().splitlines().index("      - table: currencies") + 2)


def test_a_table_granted_twice_is_an_error(edited_specs):
    def twice(text: str) -> str:
        return text.replace("      - table: invoices\n", "      - table: invoices\n        read: [id]\n"
                                                          "      - table: invoices\n")

    specs = edited_specs({"agents/billing-agent.yaml": twice})
    tree, diagnostics = emit_from(specs)
    found = [d for d in diagnostics if d.code == "PB0709"]
    lines = (specs / "agents/billing-agent.yaml").read_text().splitlines()
    second = [i + 1 for i, line in enumerate(lines) if "table: invoices" in line][1]
    assert [d.position.line for d in found] == [second]
    assert not bundle_files(tree, "billing-agent")


def test_approval_on_the_start_step_is_an_error(edited_specs):
    def approval_first(text: str) -> str:
        return text.replace("    - id: inspect\n", "    - id: inspect\n      requiresApproval: true\n")

    tree, diagnostics = emit_from(edited_specs({"workflows/incident-response.yaml": approval_first}))
    found = [d for d in diagnostics if d.code == "PB0710"]
    assert len(found) == 1 and found[0].path == "specs/workflows/incident-response.yaml"
    assert not bundle_files(tree, "ops-agent")


def test_an_unusable_signing_key_is_an_error_not_an_unsigned_bundle(monkeypatch):
    garbage = "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----"
    monkeypatch.setenv("PAYBILL_BUNDLE_SIGNING_KEY", garbage)
    tree, diagnostics = emit_from(SPECS)
    assert tree == {}
    assert codes(diagnostics) == ["PB0707"] and diagnostics[0].path == "PAYBILL_BUNDLE_SIGNING_KEY"


def test_a_policy_cedar_rejects_is_reported_at_its_source(monkeypatch):
    real = policies.build_policies

    def broken(facts):
        built = real(facts)
        origin = Origin(facts.document, ("spec", "limits", "maxSteps"))
        return [*built, Policy(f"{facts.document.path}#broken", "forbid", "principal", "action", "resource",
                               (("when", "context.noSuchCounter > 1"),), origin, "x")]

    monkeypatch.setattr(emitter, "build_policies", broken)
    tree, diagnostics = emit_from(SPECS)
    found = [d for d in diagnostics if d.code == "PB0701"]
    assert {d.path for d in found} == {f"specs/agents/{a}.yaml" for a in ("billing-agent", "ops-agent",
                                                                        "support-assistant")}
    assert all(d.position.line == line_of(d.path.removeprefix("specs/"), "maxSteps") for d in found)
    assert tree == {}


def test_a_failing_golden_decision_stops_the_bundle(monkeypatch):
    real = emitter.to_tests

    def flipped(facts, cases):
        tests = real(facts, cases)
        tests[0]["expect"]["allowed"] = not tests[0]["expect"]["allowed"]
        return tests

    monkeypatch.setattr(emitter, "to_tests", flipped)
    tree, diagnostics = emit_from(SPECS)
    assert codes(diagnostics).count("PB0706") == 3 and tree == {}
    assert "golden decision 'allow read invoices in dunning/list-invoices'" in next(
        d.message for d in diagnostics if d.code == "PB0706")


def test_generated_text_cedar_cannot_parse_is_a_diagnostic(monkeypatch):
    monkeypatch.setattr(emitter, "render_schema", lambda: "namespace Paybill { entity ")
    tree, diagnostics = emit_from(SPECS)
    assert set(codes(diagnostics)) == {"PB0708"} and tree == {}


@pytest.mark.parametrize("code", ["PB0701", "PB0702", "PB0703", "PB0706", "PB0708"])
def test_check_codes_are_in_the_bundle_range(code):
    assert code in {checks.POLICY_INVALID, checks.STEP_DENIED, checks.TRANSITION_DENIED, checks.GOLDEN_FAILED,
                    checks.CEDAR_LOAD}


def test_a_spec_path_that_cannot_be_a_cedar_string_is_a_diagnostic():
    """A file name that is not valid UTF-8 reaches Python as a lone surrogate: refused, not mangled."""
    from paybill.diagnostics import DiagnosticSink
    from paybill.emit.bundles import build_bundle
    from paybill.emit.bundles.facts import collect
    from paybill.validate import validate_repository

    index = validate_repository(SPECS).index
    document = index.get("Agent", "ops-agent")
    document.path = "specs/agents/ops-\udcff.yaml"
    sink = DiagnosticSink()
    assert build_bundle(collect(index, document), sink) is None
    assert codes(sink.sorted()) == ["PB0711"]


def test_a_tenant_entity_no_check_names_is_still_loaded_by_cedar(monkeypatch):
    """The checks' engine leaves out tenants no request names; Cedar still loads them (in chunks)."""
    real = emitter.build_entities

    def with_a_broken_tenant(facts):
        built = real(facts)
        return [*built, {"uid": {"type": "Paybill::Tenant", "id": "zz-unnamed"}, "attrs": {"lifecycle": 7},
                         "parents": [], "tags": {}}]

    monkeypatch.setattr(emitter, "build_entities", with_a_broken_tenant)
    monkeypatch.setattr(checks, "ENTITY_CHUNK", 1)
    tree, diagnostics = emit_from(SPECS)
    assert set(codes(diagnostics)) == {"PB0708"} and tree == {}


def test_a_tenant_reference_no_check_reads_is_still_loaded_by_cedar(monkeypatch):
    """The agent's scope set is cut to the named tenants for the checks; Cedar still loads all of it."""
    real = emitter.build_entities

    def with_a_broken_reference(facts):
        built = real(facts)
        agent = next(e for e in built if e["uid"]["type"] == "Paybill::Agent")
        agent["attrs"]["tenants"].append({"__entity": {"type": "Paybill::Tenant", "id": 7}})
        return built

    monkeypatch.setattr(emitter, "build_entities", with_a_broken_reference)
    tree, diagnostics = emit_from(SPECS)
    assert set(codes(diagnostics)) == {"PB0708"} and tree == {}


def test_the_checks_engine_holds_only_the_tenants_its_runs_name(monkeypatch):
    import paybill.guard.engine as guard_engine

    loaded: list[list[str]] = []
    real = guard_engine.Engine

    class Recording(real):
        def __init__(self, schema_text, policies_text, entities_json):
            import json

            entities = json.loads(entities_json)
            tenants = [e["uid"]["id"] for e in entities if e["uid"]["type"] == "Paybill::Tenant"]
            agent = next(e for e in entities if e["uid"]["type"] == "Paybill::Agent")
            assert {ref["__entity"]["id"] for ref in agent["attrs"]["tenants"]} <= set(tenants)  # the scope, cut
            loaded.append(tenants)
            super().__init__(schema_text, policies_text, entities_json)

    monkeypatch.setattr(guard_engine, "Engine", Recording)
    tree, diagnostics = emit_from(SPECS)
    assert not [d for d in diagnostics if d.severity.value == "error"]
    in_scope = json_tenants(tree)
    assert len(loaded) == len(in_scope)
    assert any(len(names) < len(in_scope[agent]) for names, agent in zip(loaded, sorted(in_scope), strict=True))
    for names, agent in zip(loaded, sorted(in_scope), strict=True):
        assert set(names) <= in_scope[agent]


def json_tenants(tree):
    """Agent -> the tenant ids of its bundle's entities.json."""
    import json

    found = {}
    for path, data in tree.items():
        if path.endswith("/entities.json"):
            agent = path.split("/")[1]
            found[agent] = {e["uid"]["id"] for e in json.loads(data) if e["uid"]["type"] == "Paybill::Tenant"}
    return found
