"""A live silo tenant moved to another region or cloud: refused by `paybill plan` (PB0949).

Its stack follows its placement, so the apply of such a commit replaces the tenant's dedicated key,
database and bucket in the new place before anything is copied. `paybill plan` warned (PB0920, with
a runbook whose first step, "apply stack tenant/acme-corp to create the target", is that very
replacement; PB0942) and exited 0. Driven in a real git repository with Terraform compared, as CI
runs it.
"""

from __future__ import annotations

import json

from .conftest import SpecRepo

ACME = "specs/tenants/acme-corp.yaml"


def _plan(repo: SpecRepo, run) -> tuple[int, dict]:
    code, out, err = run(repo.root, "compile", "specs")
    assert code == 0, out + err
    code, out, _ = run(repo.root, "plan", "specs", "--base", "HEAD", "--format", "json")
    return code, json.loads(out)


def _compiled(repo: SpecRepo, run) -> None:
    code, out, err = run(repo.root, "compile", "specs")
    assert code == 0, out + err
    repo.commit("generated/")


def test_a_live_silo_tenant_moving_region_is_refused_with_the_relocation_runbook(repo: SpecRepo, run) -> None:
    _compiled(repo, run)
    repo.edit(ACME, "    region: us-east-1\n", "    region: us-west-2\n")
    code, report = _plan(repo, run)
    assert code == 1
    refused = [f for f in report["findings"] if f["code"] == "PB0949"]
    assert len(refused) == 1 and refused[0]["severity"] == "error"
    assert refused[0]["message"].startswith("tenant 'acme-corp' moves from aws-prod/us-east-1 to aws-prod/us-west-2 "
                                            "with its dedicated keys, database, storage")
    assert "runbook: README.md, 'Moving a tenant to another region or cloud'" in refused[0]["hint"]
    runbook = next(f for f in report["findings"] if f["code"] == "PB0920")
    assert runbook["details"][0].startswith("1. this pull request: keep tenant acme-corp in aws-prod/us-east-1; "
                                            "add a tenant under a new name")
    assert not any(step.startswith("1. provision: apply stack tenant/acme-corp") for step in runbook["details"])
    destroyed = [f for f in report["findings"] if f["code"] == "PB0942"]
    assert destroyed, "Terraform was compared: the replaced data stores are listed"


def test_an_onboarding_silo_tenant_may_move_it_holds_no_customer_data_yet(repo: SpecRepo, run) -> None:
    repo.edit(ACME, "  lifecycle: active\n", "  lifecycle: onboarding\n")
    repo.edit(ACME, "    status: active\n", "    status: trialing\n")
    _compiled(repo, run)
    repo.edit(ACME, "    region: us-east-1\n", "    region: us-west-2\n")
    code, report = _plan(repo, run)
    assert not [f for f in report["findings"] if f["code"] == "PB0949"], report["findings"]
    assert code == 0
