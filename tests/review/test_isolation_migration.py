"""A pooled -> silo move executed as reviewed commits (``spec.isolation.migration``), in a real git
repository: after every commit ``compile --check`` is clean, ``plan`` says what the commit creates,
keeps and destroys, and the pooled access (KMS grant, S3 access point, namespace on the pool cluster,
the tenant's rows in the pooled database) exists until the decommission commit.

Terraform itself cannot run here, so "exists" is checked in the compiled stacks (the process
boundary paybill owns) and "destroyed" in ``plan``'s Terraform comparison of the two commits.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from .conftest import SpecRepo

HOOLI = "specs/tenants/hooli.yaml"

POOLED_ACCESS = (
    "aws_kms_grant.tenant_context",
    "aws_s3_access_point.tenant",
    "kubernetes_namespace_v1.tenant",
    "kubernetes_service_account_v1.app",
)
SILO = ("aws_kms_key.main", "aws_db_instance.main", "aws_s3_bucket.data", "aws_eks_cluster.main", "aws_vpc.main")


def stack(repo, tenant: str = "hooli") -> dict:
    data = json.loads(repo.read(f"generated/terraform/tenant/{tenant}/main.tf.json"))
    return {f"{kind}.{name}": body for kind, block in data["resource"].items() for name, body in block.items()}


def pooled_database_tenants(repo) -> str:
    return repo.read("generated/sql/pool-aws-use1-shared/migrations.json")


def commit_phase(repo, run, phase: str | None, message: str, path: str = HOOLI) -> dict:
    """Set the phase (None: drop the stanza), compile, commit, check, and return the plan's JSON."""
    text = repo.read(path)
    if phase is None:
        text = text.replace("    migration:\n      from: {model: pooled}\n      phase: decommission\n", "")
        text = re.sub(r"    pool: [a-z0-9-]+\n", "", text)
    elif "migration:" not in text:
        text = re.sub(r"plan: [a-z]+", "plan: enterprise", text, count=1).replace(
            "  isolation:\n    model: pooled\n",
            f"  isolation:\n    model: silo\n    migration:\n      from: {{model: pooled}}\n      phase: {phase}\n")
    else:
        for old in ("provision", "copy", "cutover"):
            text = text.replace(f"      phase: {old}\n", f"      phase: {phase}\n")
    repo.write(path, text)
    code, out, err = run(repo.root, "compile", "specs")
    assert code == 0, out + err
    repo.commit(message)
    code, out, err = run(repo.root, "compile", "specs", "--check")
    assert code == 0, out + err
    code, out, err = run(repo.root, "plan", "specs", "--base", "HEAD~1", "--head", "HEAD", "--format", "json")
    assert code == 0, out + err
    return json.loads(out)


def actions(report: dict, tenant_name: str = "hooli") -> dict[str, str]:
    tenant = [s for s in report["terraform"]["stacks"] if s["address"] == f"tenant/{tenant_name}"]
    result = {r["address"]: r["action"] for s in tenant for r in s["resources"]}
    return result


def migration_finding(report: dict) -> dict:
    (finding,) = [f for f in report["findings"] if f["code"] == "PB0920"]
    return finding


def test_a_pooled_tenant_moves_to_silo_one_reviewed_phase_at_a_time(repo, run) -> None:
    code, out, err = run(repo.root, "compile", "specs")
    assert code == 0, out + err
    repo.commit("generated/")
    before = stack(repo)
    assert set(POOLED_ACCESS) <= before.keys() and not set(SILO) & before.keys()

    report = commit_phase(repo, run, "provision", "hooli: provision its silo")
    done = actions(report)
    assert {address: done[address] for address in SILO} == dict.fromkeys(SILO, "create")
    assert not {a for a, action in done.items() if action in ("destroy", "replace")}, done
    assert set(POOLED_ACCESS) <= stack(repo).keys()
    assert stack(repo)["aws_kms_grant.tenant_context"] == before["aws_kms_grant.tenant_context"]
    assert '"hooli"' in pooled_database_tenants(repo)  # its rows stay reachable in the pool database
    finding = migration_finding(report)
    assert "phase provision" in finding["message"]
    assert "kept until decommission" in finding["message"]
    assert finding["details"][0].startswith("1. provision (this commit: provision): ")
    assert any("(next commit: set phase: copy)" in step for step in finding["details"])
    entitlements = json.loads(repo.read("generated/tenants/hooli.json"))["isolation"]
    assert entitlements["model"] == "pooled" and entitlements["migration"]["phase"] == "provision"

    report = commit_phase(repo, run, "copy", "hooli: copy its data")
    assert actions(report) == {}  # infrastructure as in provision
    assert set(POOLED_ACCESS) <= stack(repo).keys()
    assert "copy the tenant's database" in " ".join(migration_finding(report)["details"])

    report = commit_phase(repo, run, "cutover", "hooli: cut over")
    done = actions(report)
    # The role follows the application to the new cluster; the pooled access stays for a rollback.
    assert done == {"aws_eks_pod_identity_association.app": "replace"}, done
    assert set(POOLED_ACCESS) <= stack(repo).keys()
    entitlements = json.loads(repo.read("generated/tenants/hooli.json"))["isolation"]
    assert entitlements["model"] == "silo" and entitlements["layers"]["database"] == "silo"

    report = commit_phase(repo, run, "decommission", "hooli: decommission its pooled access")
    done = actions(report)
    # The apply cannot remove its rows from the pool's database; the runbook says what does (erase
    # refused a live tenant before, so the step could only be done by an unchecked DELETE).
    assert "its rows go with 'paybill db erase --tenant hooli' on the pool's database once the decommission " \
           "commit is merged and migrated" in " ".join(migration_finding(report)["details"])
    assert {address: done.get(address) for address in POOLED_ACCESS} == dict.fromkeys(POOLED_ACCESS, "destroy")
    assert not set(POOLED_ACCESS) & stack(repo).keys()
    assert all(done.get(address) is None for address in SILO)
    assert '"hooli"' not in pooled_database_tenants(repo)
    assert migration_finding(report)["hint"].startswith("after this commit is applied, drop the migration stanza")

    report = commit_phase(repo, run, None, "hooli: migration done")
    assert not [s for s in report["terraform"]["stacks"] if s["resources"]]
    assert not [f for f in report["findings"] if f["severity"] == "error"]
    # The pool leaves the stack's sources, so only its comment changed: nothing for apply to do (it ran an
    # apply and a migrate job of tenant/hooli for that comment).
    assert repo.git("diff", "--stat", "HEAD~1", "--", "generated/terraform").strip().endswith(
        "1 file changed, 1 deletion(-)")
    code, out, err = run(repo.root, "apply", "plan", "--base", "HEAD~1", "--out", str(repo.root / ".git" / "a.json"))
    assert code == 0, out + err
    assert json.loads((repo.root / ".git" / "a.json").read_text())["phases"] == []
    assert "::notice::stack tenant/hooli is not applied: only its comment" in out


def test_skipping_a_phase_is_refused(repo, run) -> None:
    commit_phase(repo, run, "provision", "hooli: provision its silo")
    repo.edit(HOOLI, "phase: provision", "phase: cutover")
    code, out, _ = run(repo.root, "plan", "specs", "--no-terraform", "--base", "HEAD")
    assert code == 1
    assert "error[PB0945] Tenant/hooli: isolation migration for tenant 'hooli' skips a phase: provision -> " \
           "cutover" in out
    assert "hint: set 'phase: copy' in this commit" in out


def test_going_back_is_refused_but_aborting_before_cutover_is_allowed(repo, run) -> None:
    commit_phase(repo, run, "provision", "hooli: provision its silo")
    commit_phase(repo, run, "copy", "hooli: copy")
    repo.edit(HOOLI, "phase: copy", "phase: provision")
    code, out, _ = run(repo.root, "plan", "specs", "--no-terraform", "--base", "HEAD")
    assert code == 1 and "goes back: copy -> provision" in out
    assert "to abort, set the isolation back to {model: pooled} without the stanza" in out
    repo.edit(HOOLI, "    model: silo\n    migration:\n      from: {model: pooled}\n      phase: provision\n",
              "    model: pooled\n")
    code, out, _ = run(repo.root, "plan", "specs", "--no-terraform", "--base", "HEAD")
    assert code == 0, out
    assert "is aborted in phase copy" in out


def test_a_direct_pooled_to_silo_change_is_refused_naming_the_stanza(repo, run) -> None:
    repo.edit(HOOLI, "plan: starter", "plan: enterprise")
    repo.edit(HOOLI, "    pool: aws-use1-shared\n", "")
    repo.edit(HOOLI, "model: pooled", "model: silo")
    code, out, _ = run(repo.root, "plan", "specs", "--no-terraform", "--base", "HEAD")
    assert code == 1
    assert "error[PB0946] Tenant/hooli: tenant 'hooli' moves keys, database, storage from pooled to silo in " \
           "one commit" in out
    assert "'migration: {from: {model: pooled}, phase: provision}'" in out


def test_the_stanza_must_start_from_the_current_isolation(repo, run) -> None:
    repo.edit(HOOLI, "plan: starter", "plan: enterprise")
    repo.edit(HOOLI, "  isolation:\n    model: pooled\n",
              "  isolation:\n    model: silo\n    migration:\n      from: {model: bridge, layers: {network: pooled, "
              "keys: silo, identity: pooled, database: pooled, storage: pooled, compute: pooled}}\n"
              "      phase: provision\n")
    code, out, _ = run(repo.root, "plan", "specs", "--no-terraform", "--base", "HEAD")
    assert code == 1
    assert "error[PB0947] Tenant/hooli: migration.from must be the isolation tenant 'hooli' has now " \
           "({model: pooled})" in out


def test_dropping_the_stanza_before_decommission_is_refused(repo, run) -> None:
    commit_phase(repo, run, "provision", "hooli: provision its silo")
    commit_phase(repo, run, "copy", "hooli: copy")
    commit_phase(repo, run, "cutover", "hooli: cut over")
    repo.edit(HOOLI, "    migration:\n      from: {model: pooled}\n      phase: cutover\n", "")
    code, out, _ = run(repo.root, "plan", "specs", "--no-terraform", "--base", "HEAD")
    assert code == 1
    assert "error[PB0945] Tenant/hooli: tenant 'hooli' drops its isolation migration in phase cutover" in out


AZURE_POOLED_ACCESS = (
    "azurerm_key_vault_key.tenant",  # the tenant's key in the pool's Key Vault
    "azurerm_storage_container.tenant",  # its container in the pool's storage account
    "kubernetes_namespace_v1.tenant",  # its namespace on the pool's AKS cluster
)


def test_an_azure_tenant_keeps_its_pooled_access_until_decommission(repo, run) -> None:
    """The same walk on Azure, in a repository holding the example specs of all five clouds."""
    shutil.rmtree(repo.path("specs"))
    shutil.copytree(Path(__file__).resolve().parents[2] / "specs", repo.path("specs"))
    soylent = "specs/tenants/soylent.yaml"
    repo.edit(soylent, "lifecycle: suspended", "lifecycle: active")
    repo.edit(soylent, "status: past_due", "status: active")
    code, out, err = run(repo.root, "compile", "specs")
    assert code == 0, out + err
    repo.commit("all clouds")
    before = stack(repo, "soylent")
    assert set(AZURE_POOLED_ACCESS) <= before.keys()

    done = actions(commit_phase(repo, run, "provision", "soylent: provision", soylent), "soylent")
    assert done["azurerm_postgresql_flexible_server.main"] == "create"
    assert done["azurerm_kubernetes_cluster.main"] == "create"
    assert not {a for a, action in done.items() if action in ("destroy", "replace")}, done
    kept = stack(repo, "soylent")
    assert set(AZURE_POOLED_ACCESS) <= kept.keys()
    assert kept["azurerm_federated_identity_credential.app"] == before["azurerm_federated_identity_credential.app"]
    assert kept["azurerm_role_assignment.workload_blob"] == before["azurerm_role_assignment.workload_blob"]

    commit_phase(repo, run, "copy", "soylent: copy", soylent)
    commit_phase(repo, run, "cutover", "soylent: cut over", soylent)
    cut = stack(repo, "soylent")
    assert set(AZURE_POOLED_ACCESS) <= cut.keys()
    assert cut["azurerm_federated_identity_credential.app"]["subject"] == "system:serviceaccount:paybill:paybill-app"
    assert cut["azurerm_role_assignment.workload_blob"]["scope"] == "${azurerm_storage_container.data.id}"

    done = actions(commit_phase(repo, run, "decommission", "soylent: decommission", soylent), "soylent")
    assert {address: done.get(address) for address in AZURE_POOLED_ACCESS} == \
        dict.fromkeys(AZURE_POOLED_ACCESS, "destroy")
    assert done.get("azurerm_postgresql_flexible_server.main") is None


def test_a_cloud_that_cannot_keep_the_old_access_refuses_the_migration(tmp_path, run) -> None:
    """Compiling would drop the pooled access in the first apply there, so nothing is written."""
    shutil.copytree(Path(__file__).resolve().parents[2] / "specs", tmp_path / "specs")
    bluth = tmp_path / "specs/tenants/bluth.yaml"
    text = bluth.read_text().replace("plan: starter", "plan: enterprise")
    bluth.write_text(text.replace("  isolation:\n    model: pooled\n", "  isolation:\n    model: silo\n"
                                  "    migration:\n      from: {model: pooled}\n      phase: provision\n"))
    code, out, _ = run(tmp_path, "validate", "specs")
    assert code == 1
    assert "specs/tenants/bluth.yaml:17:7: error[PB0441]: isolation migrations are not executable on oci yet: " \
           "its emitter cannot keep the pooled compute, database, identity, keys, network, storage beside the " \
           "new silo resources" in out
    code, out, _ = run(tmp_path, "compile", "specs")
    assert code == 1 and "error[PB0441]" in out
    assert not (tmp_path / "generated").exists()


def test_the_tenant_cannot_move_region_during_a_migration(repo, run) -> None:
    commit_phase(repo, run, "provision", "hooli: provision its silo")
    repo.edit(HOOLI, "region: us-east-1", "region: us-west-2")
    code, out, _ = run(repo.root, "plan", "specs", "--no-terraform", "--base", "HEAD")
    assert code == 1
    assert "error[PB0947] Tenant/hooli: tenant 'hooli' changes its placement during an isolation migration" in out


def test_on_gcp_the_direct_change_is_refused_with_a_hint_to_keep_the_keys_pooled(tmp_path, run) -> None:
    shutil.copytree(Path(__file__).resolve().parents[2] / "specs", tmp_path / "specs")
    repo = SpecRepo(tmp_path / "platform")
    shutil.copytree(tmp_path / "specs", repo.path("specs"))
    repo.commit("all clouds")
    initech = "specs/tenants/initech.yaml"
    repo.edit(initech, "plan: growth", "plan: enterprise")
    repo.edit(initech, "    pool: gcp-usc1-shared\n", "")
    repo.edit(initech, "model: pooled", "model: silo")
    code, out, _ = run(repo.root, "plan", "specs", "--no-terraform", "--base", "HEAD")
    assert code == 1
    assert "error[PB0946] Tenant/initech: tenant 'initech' moves keys, database, storage from pooled to silo" in out
    assert "keep this target isolation but with keys: pooled" in out
