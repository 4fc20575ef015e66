"""Bundle layout, manifest integrity and byte-for-byte determinism."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import cedarpy
from bundle_support import ROOT, bundle_files, codes

from paybill.contract.bundle import BUNDLE_FORMAT, CONTENT_FILES, MANIFEST_FILE, bundle_revision, sha256_hex

AGENTS = ("billing-agent", "ops-agent", "support-assistant")


def test_one_bundle_per_agent_with_every_file(example):
    tree, diagnostics = example
    assert codes(diagnostics) == []  # the example repository compiles without a single warning
    assert sorted({path.split("/")[1] for path in tree}) == list(AGENTS)
    for agent in AGENTS:
        assert sorted(bundle_files(tree, agent)) == sorted((*CONTENT_FILES, MANIFEST_FILE))


def test_manifest_lists_every_file_hash_and_the_revision_is_their_hash(example):
    tree, _ = example
    for agent in AGENTS:
        files = bundle_files(tree, agent)
        manifest = json.loads(files[MANIFEST_FILE])
        assert manifest["format"] == BUNDLE_FORMAT and manifest["agent"] == agent
        assert manifest["files"] == {name: sha256_hex(files[name]) for name in CONTENT_FILES}
        assert manifest["revision"] == bundle_revision(manifest["files"])
        assert manifest["compiler"]["cedar"] == ".".join(manifest["compiler"]["cedarpy"].split(".")[:2])
        assert "signature" not in manifest


def test_sources_are_the_specs_that_shaped_the_bundle(example):
    tree, _ = example
    manifest = json.loads(bundle_files(tree, "ops-agent")[MANIFEST_FILE])
    paths = [s["path"] for s in manifest["sources"]]
    assert paths == sorted(paths)
    assert paths == ["specs/agents/ops-agent.yaml", "specs/data/crm.yaml", "specs/tenants/acme-corp.yaml",
                     "specs/tenants/globex.yaml", "specs/tenants/initech.yaml", "specs/tenants/wayne-enterprises.yaml",
                     "specs/workflows/incident-response.yaml"]
    for source in manifest["sources"]:
        assert source["sha256"] == hashlib.sha256((ROOT / source["path"]).read_bytes()).hexdigest()


def test_files_are_ascii_and_policies_validate(example):
    tree, _ = example
    for agent in AGENTS:
        files = bundle_files(tree, agent)
        for data in files.values():
            data.decode("ascii")
            assert data.endswith(b"\n") and b"\r" not in data
        result = cedarpy.validate_policies(files["policies.cedar"].decode(), files["schema.cedarschema"].decode())
        assert result.validation_passed, result.errors


def test_every_policy_has_a_stable_spec_path_id(example):
    tree, _ = example
    est = json.loads(cedarpy.policies_to_json_str(bundle_files(tree, "billing-agent")["policies.cedar"].decode()))
    ids = [p["annotations"]["id"] for p in est["staticPolicies"].values()]
    assert len(ids) == len(set(ids))
    assert all(i.split("#")[0].startswith("specs/") and "#" in i for i in ids)
    assert "specs/agents/billing-agent.yaml#permissions.tables.invoices.read" in ids
    assert "specs/workflows/dunning.yaml#steps.load-customer.enter" in ids
    assert not any("[" in i or i.split("#")[1][:1].isdigit() for i in ids), "ids must name things, not positions"


def test_same_bytes_whatever_the_hash_seed(tmp_path):
    script = (
        "import hashlib, pathlib\n"
        "from paybill.diagnostics import DiagnosticSink\n"
        "from paybill.emit.bundles import emit_bundles\n"
        "from paybill.emit.contract import EmitContext\n"
        "from paybill.validate import validate_repository\n"
        "tree = emit_bundles(EmitContext(validate_repository(pathlib.Path('specs')).index, DiagnosticSink()))\n"
        "print(hashlib.sha256(b''.join(k.encode() + b'\\0' + v for k, v in sorted(tree.items()))).hexdigest())\n"
    )
    digests = set()
    for seed in ("1", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        env.pop("PAYBILL_BUNDLE_SIGNING_KEY", None)
        out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                             check=True)
        digests.add(out.stdout.strip())
    assert len(digests) == 1


def test_reordering_spec_lists_changes_no_byte(edited_specs, example):
    def reorder(text: str) -> str:
        return text.replace("tenants: [acme-corp, globex, initech, wayne-enterprises]",
                            "tenants: [wayne-enterprises, initech, globex, acme-corp]")

    from bundle_support import emit_from

    tree, _ = emit_from(edited_specs({"agents/ops-agent.yaml": reorder}))
    before = bundle_files(example[0], "ops-agent")
    after = bundle_files(tree, "ops-agent")
    # Only the manifest's source hash of the edited file differs: every content file is identical.
    assert {k: v for k, v in after.items() if k != MANIFEST_FILE} == {k: v for k, v in before.items()
                                                                      if k != MANIFEST_FILE}


def test_every_feature_compiles_with_its_golden_decisions_holding(edited_specs):
    """Insert, delete, approve, a global table and a one-tenant scope: Cedar agrees with every golden."""
    from bundle_support import emit_from

    workflow = """apiVersion: paybill.dev/v1alpha1
kind: Workflow
metadata:
  name: cleanup
spec:
  start: look
  terminal: [done]
  steps:
    - {id: look, action: read, resource: currencies, next: [add]}
    - {id: add, action: insert, resource: tickets, next: [sign-off]}
    - {id: sign-off, action: approve, next: [purge]}
    - {id: purge, action: delete, resource: tickets, requiresApproval: true, next: [done]}
    - {id: done, action: none}
"""
    agent = """apiVersion: paybill.dev/v1alpha1
kind: Agent
metadata:
  name: cleanup-agent
spec:
  description: Exercises every action the bundle language has.
  owner: {team: sre, email: sre@paybill.example.com}
  tenantScope:
    tenants: [initech]
  permissions:
    tables:
      - {table: currencies, read: [code, name]}
      - {table: tickets, insert: [id, customer_id, subject, body, status, priority], delete: true}
  limits: {maxSteps: 6, maxRowsRead: 10, maxRowsWritten: 3, maxWallTimeSeconds: 60, maxCallsPerMinute: 5,
           budgetUnits: 20}
  workflows: [cleanup]
"""
    specs = edited_specs({"workflows/cleanup.yaml": workflow, "agents/cleanup-agent.yaml": agent})
    tree, diagnostics = emit_from(specs)
    assert [d.code for d in diagnostics] == [], [str(d) for d in diagnostics]
    files = bundle_files(tree, "cleanup-agent")
    tests = json.loads(files["tests.json"])["tests"]
    names = [t["name"] for t in tests]
    assert "allow insert tickets in cleanup/add" in names and "allow delete tickets in cleanup/purge" in names
    assert "deny cleanup: sign-off -> purge without approval" in names
    assert "allow approve in cleanup/sign-off" in names
    assert "deny read currencies of tenant outside_scope in a run for initech" not in names, "global table"
    policies = files["policies.cedar"].decode()
    assert 'resource == Paybill::Workflow::"cleanup"' in policies  # the approve step's permit
    assert 'unless {\n  resource == Paybill::Table::"currencies"\n}' in policies  # global data: no isolation
