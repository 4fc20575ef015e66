"""A silo tenant moved to pooled: refused until the commit records that its data was copied (PB0948).

Driven in a real git repository seeded with the scaffold's example specs, as CI would: ``paybill
plan`` compares the commit with its base, Terraform included (the compiled stacks of both sides).
Before the record existed the same commit was only warnings (exit 0) while its apply destroyed the
tenant's dedicated database, bucket and key.
"""

from __future__ import annotations

import json

from .conftest import SpecRepo

ACME = "specs/tenants/acme-corp.yaml"
SILO = "  placement:\n    cloud: aws-prod\n    region: us-east-1\n  isolation:\n    model: silo\n"
POOLED = "  placement:\n    cloud: aws-prod\n    region: us-east-1\n    pool: aws-use1-shared\n  isolation:\n" \
         "    model: pooled\n"
RECORD = '    pooling:\n      from: {model: silo}\n      copiedAt: "2026-12-07"\n'


def _compiled(repo: SpecRepo, run) -> None:
    code, out, err = run(repo.root, "compile", "specs")
    assert code == 0, out + err
    repo.commit("generated/")


def _plan(repo: SpecRepo, run) -> tuple[int, dict]:
    code, out, err = run(repo.root, "compile", "specs")
    assert code == 0, out + err
    code, out, _ = run(repo.root, "plan", "specs", "--base", "HEAD", "--format", "json")
    return code, json.loads(out)


def _errors(report: dict) -> list[dict]:
    return [f for f in report["findings"] if f["severity"] == "error"]


def test_pooling_a_silo_tenant_without_the_record_is_refused(repo: SpecRepo, run) -> None:
    _compiled(repo, run)
    repo.edit(ACME, SILO, POOLED)
    code, report = _plan(repo, run)
    assert code == 1
    (error,) = _errors(report)
    assert error["code"] == "PB0948"
    assert error["message"] == (
        "tenant 'acme-corp' moves keys, database, storage from silo to pooled in one commit, and nothing records "
        "that its data was copied into aws-use1-shared: the apply destroys the dedicated keys, database, storage "
        "(and, with deletion protection on, stops half-way with the stack stuck)")
    assert "runbook: README.md, 'Moving a tenant to less isolation'" in error["hint"]
    assert error["hint"].endswith("'pooling: {from: {model: silo}, copiedAt: \"YYYY-MM-DD\"}'")
    # What the apply would do: the dedicated data stores are destroyed in the tenant stack.
    (stack,) = [s for s in report["terraform"]["stacks"] if s["address"] == "tenant/acme-corp"]
    destroyed = {r["address"] for r in stack["resources"] if r["action"] == "destroy" and r["dataStore"]}
    assert {"aws_db_instance.main", "aws_s3_bucket.data", "aws_kms_key.main"} <= destroyed
    # The runbook puts every step that needs the dedicated stores before the merge.
    (runbook,) = [f for f in report["findings"] if f["code"] == "PB0920"]
    steps = runbook["details"]
    merge = next(i for i, step in enumerate(steps) if "this commit: record the copy" in step)
    assert all(step.split(". ", 1)[1].startswith("before merging: ") for step in steps[:merge])
    assert any("lift the deletion protection of the dedicated database" in step for step in steps[:merge])
    assert any("tenant_id = 'acme-corp'" in step for step in steps[:merge])


def test_the_record_must_name_the_isolation_the_tenant_had(repo: SpecRepo, run) -> None:
    _compiled(repo, run)
    repo.edit(ACME, SILO, POOLED + RECORD.replace("{model: silo}", "{model: bridge, layers: {network: silo, "
                                                   "keys: silo, identity: silo, database: pooled, storage: silo, "
                                                   "compute: silo}}"))
    code, report = _plan(repo, run)
    assert code == 1
    (error,) = _errors(report)
    assert (error["code"], error["message"], error["hint"]) == (
        "PB0948", "pooling.from must be the isolation tenant 'acme-corp' has before this commit ({model: silo})",
        "set 'from: {model: silo}' (the record says which dedicated stores were copied into the pool)")
    assert error["line"] == repo.read(ACME).splitlines().index("    pooling:") + 2


def test_with_the_record_the_move_is_allowed_and_validates(repo: SpecRepo, run) -> None:
    _compiled(repo, run)
    before = {path: repo.read(path) for path in ("generated/tenants/acme-corp.json",)}
    repo.edit(ACME, SILO, POOLED)
    run(repo.root, "compile", "specs")
    without_record = repo.read("generated/tenants/acme-corp.json")
    repo.edit(ACME, "    model: pooled\n", "    model: pooled\n" + RECORD)
    code, report = _plan(repo, run)
    assert code == 0, _errors(report)
    assert {f["code"] for f in report["findings"]} >= {"PB0920", "PB0942"}  # still shown to the reviewer
    # The record changes no output: it documents the copy, it does not keep anything.
    assert repo.read("generated/tenants/acme-corp.json") == without_record != before["generated/tenants/acme-corp.json"]
    repo.commit("acme-corp: pooled, data copied on 2026-12-07")
    code, out, err = run(repo.root, "validate", "specs")
    assert code == 0, out + err
    # Next commit, the record stays as history: nothing moves, nothing is refused.
    repo.edit(ACME, "displayName: Acme Corp", "displayName: Acme Corporation")
    code, report = _plan(repo, run)
    assert code == 0 and not _errors(report)


def test_a_deleted_tenant_is_not_this_rule(repo: SpecRepo, run) -> None:
    """A deleted tenant's stores are offboarding's concern (retention, decommission), not a pooling."""
    _compiled(repo, run)
    repo.edit(ACME, "lifecycle: active", "lifecycle: offboarding")
    _compiled(repo, run)
    repo.edit(ACME, "lifecycle: offboarding", "lifecycle: deleted\n  lifecycleSince: \"2026-12-01\"")
    repo.edit(ACME, "status: active", "status: cancelled")
    repo.edit(ACME, SILO, POOLED)
    code, report = _plan(repo, run)
    assert code == 0, _errors(report)
    assert not [f for f in _errors(report) if f["code"] == "PB0948"], report["findings"]
