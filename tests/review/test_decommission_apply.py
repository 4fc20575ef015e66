"""Removing a deleted tenant's spec is blocked until the destroy of its stack is recorded.

Which removed stacks ``paybill apply`` destroys, when, and with which Terraform commands is tested
in tests/apply (test_schedule.py, test_runner.py).
"""

from __future__ import annotations


def test_plan_blocks_removing_a_deleted_tenant_until_its_destroy_is_recorded(repo, run) -> None:
    acme = "specs/tenants/acme-corp.yaml"
    repo.edit(acme, "lifecycle: active", "lifecycle: offboarding")
    repo.edit(acme, "status: active", "status: cancelled")
    repo.commit("offboard acme")
    repo.edit(acme, "lifecycle: offboarding", 'lifecycle: deleted\n  lifecycleSince: "2026-11-02"')
    repo.commit("delete acme")
    deleted = repo.read(acme)
    repo.remove(acme)
    code, out, _ = run(repo.root, "plan", "specs", "--no-terraform", "--base", "HEAD")
    assert code == 1
    assert "error[PB0661] Tenant/acme-corp: tenant 'acme-corp' is removed before the destroy of its stack " \
           "was recorded" in out
    repo.write(acme, deleted.replace("  lifecycleSince:", '  decommission: {destroyedAt: "2026-12-08"}\n'
                                     "  lifecycleSince:"))
    repo.commit("record the destroy of acme")
    repo.remove(acme)
    code, out, _ = run(repo.root, "plan", "specs", "--no-terraform", "--base", "HEAD")
    assert code == 0, out
    assert "PB0661" not in out
