"""``audit`` and ``plan`` judge lifecycle moves by one rule: the import of a running fleet may
describe tenants in any state, later changes follow the transition table; and ``audit --tenant``
with a name no commit touched says so (did-you-mean, exit 1) instead of "no matching commits"."""

from __future__ import annotations

import json

from .conftest import SpecRepo

ACME, VANDELAY, NAKATOMI = "specs/tenants/acme-corp.yaml", "specs/tenants/vandelay.yaml", "specs/tenants/nakatomi.yaml"


def imported_fleet(tmp_path) -> SpecRepo:
    """A repository whose first commit is a README; the next commit imports a fleet where nakatomi is
    already suspended, acme-corp offboarding and vandelay deleted."""
    repo = SpecRepo(tmp_path / "fleet")
    repo.write("README.md", "platform\n")
    repo.commit("Start the repository")
    repo.seed()
    repo.edit(ACME, "lifecycle: active", "lifecycle: offboarding")
    repo.edit(ACME, "status: active", "status: cancelled")
    repo.edit(VANDELAY, "lifecycle: active", "lifecycle: deleted")
    repo.edit(VANDELAY, "status: active", "status: cancelled")
    repo.commit("Import the running fleet")
    return repo


def test_the_import_of_a_running_fleet_is_no_violation_in_audit_or_plan(tmp_path, run) -> None:
    repo = imported_fleet(tmp_path)
    code, out, _ = run(repo.root, "audit", "specs", "--format", "jsonl")
    assert code == 0
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["subject"] for r in records] == ["Import the running fleet"]
    events = {e["tenant"]: e["detail"] for e in records[0]["events"]}
    assert "lifecycle suspended" in events["nakatomi"] and "lifecycle deleted" in events["vandelay"]
    assert records[0]["violations"] == []
    code, out, _ = run(repo.root, "audit", "specs", "--tenant", "vandelay")
    assert code == 0 and "VIOLATION" not in out and "onboarded:" in out
    # plan agrees: against the commit before the import (no specs) and against an empty repository.
    code, out, _ = run(repo.root, "plan", "specs", "--no-terraform", "--base", "HEAD~1", "--head", "HEAD")
    assert code == 0, out
    assert "PB0912" not in out


def test_a_tenant_born_late_after_the_import_is_a_violation_in_both(tmp_path, run) -> None:
    repo = imported_fleet(tmp_path)
    born = repo.read(NAKATOMI).replace("name: nakatomi", "name: initech")
    repo.write("specs/tenants/initech.yaml", born)
    repo.commit("Add initech, already suspended")
    code, out, _ = run(repo.root, "audit", "specs", "--tenant", "initech")
    assert code == 0
    assert out.splitlines()[-1].endswith(
        "VIOLATION [PB0912] new tenant 'initech' starts in lifecycle 'suspended'")
    code, out, _ = run(repo.root, "plan", "specs", "--no-terraform", "--base", "HEAD~1", "--head", "HEAD")
    assert code == 1
    assert "error[PB0912] Tenant/initech: new tenant 'initech' starts in lifecycle 'suspended'" in out


def test_the_first_commit_of_a_repository_is_an_import_too(tmp_path, run) -> None:
    repo = SpecRepo(tmp_path / "fresh").seed()  # nakatomi is suspended in the scaffold
    repo.commit("Initial specs")
    code, out, _ = run(repo.root, "audit", "specs", "--format", "jsonl")
    assert code == 0
    assert json.loads(out.splitlines()[0])["violations"] == []


def test_audit_of_an_unknown_tenant_suggests_the_nearest_name_and_exits_1(tmp_path, run) -> None:
    repo = imported_fleet(tmp_path)
    repo.remove(VANDELAY)  # a removed tenant still has a history, so it is not unknown
    repo.commit("Remove the deleted vandelay")
    code, out, err = run(repo.root, "audit", "specs", "--tenant", "acme-crop")
    assert code == 1
    assert out == ""
    assert err == ("specs:1:1: error[PB0990]: unknown tenant 'acme-crop': no commit reachable from HEAD touches "
                   "a Tenant of that name\n  hint: did you mean 'acme-corp'?\n")
    code, _, err = run(repo.root, "audit", "specs", "--tenant", "zzz", "--format", "jsonl")
    assert code == 1 and "hint: tenants in the history: acme-corp, hooli, nakatomi, vandelay" in err
    # A known tenant outside the filtered window is no error: it just has no matching commit.
    code, out, _ = run(repo.root, "audit", "specs", "--tenant", "acme-corp", "--since", "2030-01-01")
    assert (code, out) == (0, "no matching commits\n")
    code, _, err = run(repo.root, "audit", "specs", "--tenant", "acme-crop", "--since", "2030-01-01")
    assert code == 1 and "did you mean 'acme-corp'?" in err
    code, out, _ = run(repo.root, "audit", "specs", "--tenant", "vandelay")
    assert code == 0 and "removed: spec file removed (lifecycle was deleted)" in out
