"""The lifecycle transition table, and plan blocking a transition that skips offboarding."""

from __future__ import annotations

import itertools

import pytest

from paybill.changes.lifecycle import ALLOWED, NEW, STATES, allowed, check_transition, transition_table_markdown
from paybill.diagnostics import DiagnosticSink
from paybill.load import load_source

TENANT = """apiVersion: paybill.dev/v1alpha1
kind: Tenant
metadata:
  name: t
spec:
  lifecycle: {state}
"""


def doc(state: str):
    return load_source(TENANT.format(state=state).encode(), "specs/tenants/t.yaml", DiagnosticSink())[0]


EXPECTED_ALLOWED = {
    ("onboarding", "active"), ("onboarding", "suspended"), ("onboarding", "offboarding"),
    ("active", "suspended"), ("active", "offboarding"),
    ("suspended", "active"), ("suspended", "offboarding"),
    ("offboarding", "active"), ("offboarding", "deleted"),
}


@pytest.mark.parametrize(("before", "after"), list(itertools.product(STATES, STATES)))
def test_every_pair_of_states(before: str, after: str) -> None:
    finding = check_transition("t", doc(before), doc(after))
    if before == after or (before, after) in EXPECTED_ALLOWED:
        assert finding is None
        assert allowed(before, after)
    else:
        assert finding is not None and finding.code == "PB0910" and finding.severity == "error"
        assert finding.position.line == 6  # the lifecycle line on the head side
        assert f"'{before}' -> '{after}'" in finding.message


def test_hint_gives_the_shortest_allowed_path() -> None:
    finding = check_transition("t", doc("active"), doc("deleted"))
    assert finding is not None
    assert finding.hint == "go through the states one pull request at a time: active -> offboarding -> deleted"
    final = check_transition("t", doc("deleted"), doc("active"))
    assert final is not None and "deleted tenant is final" in (final.hint or "")


def test_new_tenants_start_onboarding_or_active_and_only_deleted_tenants_may_be_removed() -> None:
    assert check_transition("t", None, doc("onboarding")) is None
    assert check_transition("t", None, doc("active")) is None
    born_late = check_transition("t", None, doc("offboarding"))
    assert born_late is not None and born_late.code == "PB0912"
    removed = check_transition("t", doc("suspended"), None)
    assert removed is not None and removed.code == "PB0911" and removed.file == "specs/tenants/t.yaml"
    unrecorded = check_transition("t", doc("deleted"), None)
    assert unrecorded is not None and unrecorded.code == "PB0661" and unrecorded.file == "specs/tenants/t.yaml"
    recorded = doc('deleted\n  decommission: {destroyedAt: "2026-12-01"}')
    assert check_transition("t", recorded, None) is None


def test_documented_table_matches_the_code() -> None:
    table = transition_table_markdown()
    assert table.splitlines()[2] == "| (new) | yes | yes | no | no | no |"
    assert set(ALLOWED) == {NEW, *STATES}
    for state in STATES:
        row = next(line for line in table.splitlines() if line.startswith(f"| {state} |"))
        cells = [c.strip() for c in row.strip("|").split("|")][1:]
        for target, cell in zip(STATES, cells, strict=True):
            assert cell == ("–" if state == target else "yes" if target in ALLOWED[state] else "no")


def test_plan_blocks_active_to_deleted_but_allows_it_through_offboarding(repo, run) -> None:
    acme = "specs/tenants/acme-corp.yaml"
    repo.edit(acme, "lifecycle: active", 'lifecycle: deleted\n  lifecycleSince: "2026-11-02"')
    repo.edit(acme, "status: active", "status: cancelled")
    code, out, _ = run(repo.root, "plan", "specs", "--no-terraform", "--base", "HEAD")
    assert code == 1
    assert "error[PB0910] Tenant/acme-corp: lifecycle transition 'active' -> 'deleted' is not allowed " \
           "(specs/tenants/acme-corp.yaml:15:14)" in out
    assert out.rstrip().endswith("BLOCKED: 1 error, 1 warning")
    repo.edit(acme, "lifecycle: deleted", "lifecycle: offboarding")
    code, out, _ = run(repo.root, "plan", "specs", "--no-terraform", "--base", "HEAD")
    assert code == 0, out
    repo.commit("offboard acme")
    repo.edit(acme, "lifecycle: offboarding", "lifecycle: deleted")
    code, out, _ = run(repo.root, "plan", "specs", "--no-terraform", "--base", "HEAD")
    assert code == 0, out
    assert "warning[PB0940] Tenant/acme-corp: tenant 'acme-corp' is deleted" in out
