"""Spec-level data-store findings (PB0940): what a reviewer reads must be plain, correct English."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from paybill.emit.terraform.decommission import UNPROTECT

CRM = "specs/data/crm.yaml"


def findings(repo, run, code: str = "PB0940") -> list[str]:
    status, out, _ = run(repo.root, "plan", "specs", "--no-terraform", "--base", "HEAD", "--format", "json")
    assert status == 0, out
    return [f["message"] for f in json.loads(out)["findings"] if f["code"] == code]


def test_a_dropped_column_is_it_and_dropped_columns_are_them(repo, run) -> None:
    """paybill never drops a column (0003 adds, 0005 revokes): the finding said the data "is dropped", so
    a reviewer believed a removed personal-data column was gone from every database when it stayed."""
    repo.edit(CRM, "        - {name: phone, type: text, pii: true}\n", "")
    assert findings(repo, run) == [
        "table 'customers' loses column phone: paybill revokes it from agents but never drops a column, so the "
        "data in it stays in every database of the table (paybill db drift reports it) until someone drops it by "
        "hand"]
    repo.edit(CRM, "        - {name: email, type: text, pii: true}\n", "")
    (message,) = findings(repo, run)
    assert message.startswith("table 'customers' loses columns email, phone: paybill revokes them from agents")
    assert "is dropped" not in message


def test_a_dropped_not_null_column_says_inserts_fail_until_it_is_dropped_by_hand(repo, run) -> None:
    repo.edit(CRM, "        - {name: issued_at, type: timestamptz, nullable: false}\n", "")
    (message,) = findings(repo, run)
    assert message.endswith("; issued_at is NOT NULL, so every insert that does not set it fails until it is dropped "
                            "or made nullable by hand")


def test_a_removed_table_stays_with_its_data_and_a_rename_is_named(repo, run) -> None:
    repo.edit(CRM, "    - name: invoices\n", "    - name: bills\n")
    repo.edit("specs/agents/billing-agent.yaml", "table: invoices", "table: bills")
    repo.edit("specs/workflows/dunning.yaml", "resource: invoices", "resource: bills", count=2)
    status, out, _ = run(repo.root, "plan", "specs", "--no-terraform", "--base", "HEAD", "--format", "json")
    assert status == 0, out
    (finding,) = [f for f in json.loads(out)["findings"] if f["code"] == "PB0940"]
    assert finding["message"].startswith("table 'invoices' is removed: paybill revokes it from agents and the "
                                         "application but never drops it, so it stays with its data")
    assert "rename it by hand (ALTER TABLE ... RENAME TO ...) before migrating this commit" in finding["hint"]


def test_changes_migrate_cannot_make_by_itself_are_flagged_at_review(repo, run) -> None:
    """A retyped column, a NOT NULL column added or tightened, a new primary key, a global table made
    tenant-scoped: each
    makes 'paybill db migrate' fail after the merge until someone acts; the plan said nothing of it."""
    repo.edit(CRM, "{name: amount_cents, type: bigint, nullable: false}",
              "{name: amount_cents, type: numeric, nullable: false}")
    repo.edit(CRM, "        - {name: issued_at, type: timestamptz, nullable: false}\n",
              "        - {name: issued_at, type: timestamptz, nullable: false}\n"
              "        - {name: paid_at, type: timestamptz, nullable: false}\n")
    repo.edit(CRM, "{name: assignee, type: text}", "{name: assignee, type: text, nullable: false}")
    repo.edit(CRM, "      scope: global\n", "")
    repo.edit(CRM, "    - name: tickets\n      primaryKey: [id]",
              "    - name: tickets\n      primaryKey: [customer_id, id]")
    assert findings(repo, run, "PB0993") == [
        "column 'invoices.amount_cents' changes type bigint -> numeric: paybill never converts a column, so "
        "'paybill db migrate' stops (PB1105) on every database of the table until it is converted by hand",
        "column 'invoices.paid_at' is added NOT NULL without a default: 'paybill db migrate' fails on every "
        "database where the table already has rows (PostgreSQL needs a value for them)",
        "column 'tickets.assignee' becomes NOT NULL: 'paybill db migrate' fails, changing nothing, on every "
        "database where a row still has NULL in it",
        "table 'currencies' becomes tenant-scoped: in every pooled database that has it, its rows name no tenant, "
        "so 'paybill db migrate' stops (PB1105) there until tenant_id is added by hand",
        "table 'tickets' changes primary key (id) -> (customer_id, id): paybill never changes a primary key, so "
        "'paybill db migrate' stops (PB1105) on every database of the table until it is changed by hand",
    ]


def test_a_new_table_and_a_nullable_column_need_no_hand_step(repo, run) -> None:
    issued = "        - {name: issued_at, type: timestamptz, nullable: false}\n"
    repo.edit(CRM, issued, issued + "        - {name: paid_at, type: date}\n")
    repo.edit(CRM, "    - name: currencies\n", "    - name: notes\n      primaryKey: [id]\n      columns:\n"
              "        - {name: id, type: uuid, nullable: false}\n        - {name: body, type: text, nullable: false}\n"
              "    - name: currencies\n")
    assert findings(repo, run, "PB0993") == [] and findings(repo, run) == []


def test_a_region_move_reads_as_a_move_not_an_isolation_change(repo, run) -> None:
    tenant = "specs/tenants/acme-corp.yaml"
    repo.edit(tenant, "    region: us-east-1\n", "    region: us-west-2\n")
    code, out, _ = run(repo.root, "plan", "specs", "--no-terraform", "--base", "HEAD", "--format", "json")
    assert code == 1, out  # a live silo tenant cannot move in place (PB0949: test_placement_move.py)
    assert [f["code"] for f in json.loads(out)["findings"] if f["severity"] == "error"] == ["PB0949"]
    (message,) = [f["message"] for f in json.loads(out)["findings"] if f["code"] == "PB0920"]
    assert message.startswith("tenant 'acme-corp' moves from aws-prod/us-east-1 to aws-prod/us-west-2: ")
    assert "isolation" not in message


def test_a_deleted_pooled_tenant_says_its_rows_wait_for_db_erase(repo, run) -> None:
    """Pooled rows are deleted by `paybill db erase` (after retainUntil, from an export), never by the
    merge or the apply: the finding said they were "removed", so a reviewer thought it was done."""
    vandelay = "specs/tenants/vandelay.yaml"
    repo.edit(vandelay, "lifecycle: active", 'lifecycle: offboarding\n  lifecycleSince: "2026-11-02"')
    repo.edit(vandelay, "status: active", "status: cancelled")
    repo.commit("offboard vandelay")
    repo.edit(vandelay, "lifecycle: offboarding", "lifecycle: deleted")
    (message,) = [m for m in findings(repo, run) if m.startswith("tenant 'vandelay'")]
    assert "its rows in the pool's shared database stay until 'paybill db erase' deletes them" in message
    assert "database is removed" not in message and "shared database and" not in message


POOLED = {"aws": "hooli", "gcp": "initech", "azure": "soylent", "oci": "bluth", "ibm": "gringotts"}
"""One tenant per cloud whose storage layer is pooled in the project's own specs."""
STORAGE_ON_DELETE = {
    "aws": "its objects under tenants/hooli/ in the pool's S3 bucket stay: the apply (once its retainUntil has "
           "passed) deletes only its access point, and nothing deletes that prefix",
    "gcp": "its objects under tenants/initech/ in the pool's Cloud Storage bucket stay: the apply (once its "
           "retainUntil has passed) removes only its IAM grant on that prefix, and nothing deletes the prefix",
    "azure": "its container in the pool's storage account is deleted with its blobs by the apply once its "
             "retainUntil has passed (restorable for the 30 days the pool account keeps deleted containers)",
    "oci": "its bucket in the pool's compartment is not emptied by the apply: once its retainUntil has passed "
           "the destroy fails, and the stack stays pending, until someone empties that bucket",
    "ibm": "its bucket in the pool's Object Storage instance is deleted with its objects (force_delete) by the "
           "apply once its retainUntil has passed",
}


def test_a_deleted_pooled_tenant_says_what_remains_of_its_storage_on_its_cloud(tmp_path, run) -> None:
    """PB0940 said "its data in the pool's shared storage is removed" on every cloud. What the tenant stack
    holds differs: on AWS an access point and on Google Cloud an IAM grant on the pool bucket (the objects
    stay, and nothing deletes them), on Azure a container (deleted with its blobs), on OCI and IBM Cloud a
    bucket of its own (OCI's provider cannot empty it: the destroy fails until someone does)."""
    from .conftest import SpecRepo

    repo = SpecRepo(tmp_path / "fleet")
    root = Path(__file__).resolve().parents[2]
    for folder in ("specs", "policies"):
        shutil.copytree(root / folder, repo.root / folder)
    repo.commit("the fleet")
    for tenant in POOLED.values():
        path = f"specs/tenants/{tenant}.yaml"
        text = re.sub(r"lifecycle: [a-z]+", 'lifecycle: offboarding\n  lifecycleSince: "2026-11-02"', repo.read(path))
        repo.write(path, re.sub(r"status: [a-z_]+", "status: cancelled", text))
    repo.commit("offboard one pooled tenant per cloud")
    for tenant in POOLED.values():
        repo.edit(f"specs/tenants/{tenant}.yaml", "lifecycle: offboarding", "lifecycle: deleted")
    messages = {m.split("'")[1]: m for m in findings(repo, run) if m.startswith("tenant '")}
    for cloud, tenant in POOLED.items():
        assert messages[tenant].endswith("; " + STORAGE_ON_DELETE[cloud]), messages[tenant]

    # What each sentence says is what the emitters build (the committed output of the same specs).
    def resources(stack: str) -> dict:
        data = json.loads((root / "generated" / "terraform" / stack / "main.tf.json").read_text())
        return data["resource"]

    storage = {cloud: {t for t in resources(f"tenant/{tenant}") if re.search("s3|storage|bucket|cos", t)}
               for cloud, tenant in POOLED.items()}
    assert storage == {"aws": {"aws_s3_access_point"}, "gcp": {"google_storage_bucket_iam_member"},
                       "azure": {"azurerm_storage_container"},
                       "oci": {"oci_objectstorage_bucket", "oci_objectstorage_object_lifecycle_policy"},
                       "ibm": {"ibm_cos_bucket"}}
    account = resources("pool/azure-weu-shared")["azurerm_storage_account"]["main"]
    assert account["blob_properties"]["container_delete_retention_policy"] == {"days": 30}
    assert "force_destroy" not in resources("tenant/bluth")["oci_objectstorage_bucket"]["data"]
    assert "ibm_cos_bucket" in UNPROTECT and "oci_objectstorage_bucket" not in UNPROTECT  # force_delete / none


def test_a_cloud_that_does_not_say_points_at_the_decommission_configuration() -> None:
    from paybill.plan.datastores import _pooled_storage

    for provider in (None, "no-such-cloud"):
        assert _pooled_storage("acme", provider).endswith(
            "read its decommission configuration, generated/terraform/removed/tenant/acme/main.tf.json")


def test_a_tenant_table_made_global_is_flagged_as_a_hand_step(repo, run) -> None:
    repo.edit(CRM, "    - name: tickets\n", "    - name: tickets\n      scope: global\n")
    assert findings(repo, run, "PB0993") == [
        "table 'tickets' becomes global: in every pooled database that has it, its rows keep their tenant_id, so "
        "'paybill db migrate' stops (PB1105) there until someone decides, by hand, which rows every tenant may share"]
