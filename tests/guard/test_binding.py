"""A bundle is bound to the agent the caller runs, and a revision older than the newest seen is refused.

The reported bugs: a validly signed bundle of one agent copied into another agent's folder loaded,
and so did an older signed revision. ``expect_agent`` checks the signed manifest's agent; a
:class:`RevisionStore` remembers the revisions loaded with it, so going back is refused.
"""

from __future__ import annotations

import json

import orjson
import pytest
from click.testing import CliRunner
from guard_support import copy_bundle

from paybill.cli.main import cli
from paybill.guard import BundleError, Guard
from paybill.guard.revisions import MAX_REVISIONS, STORE_FORMAT, RevisionStore


def test_a_signed_bundle_of_another_agent_is_refused(signed_bundles, keys, tmp_path):
    impostor = copy_bundle(signed_bundles / "support-assistant", tmp_path / "ops-agent")
    assert Guard.load(impostor, keys["public_pem"]).agent == "support-assistant", "signature alone passes"
    with pytest.raises(BundleError, match="is for agent 'support-assistant', not the expected 'ops-agent'") as refused:
        Guard.load(impostor, keys["public_pem"], expect_agent="ops-agent")
    assert refused.value.reason == "agent"
    assert Guard.load(signed_bundles / "ops-agent", keys["public_pem"], expect_agent="ops-agent").agent == "ops-agent"


def test_the_agent_is_covered_by_the_signature(signed_bundles, keys, tmp_path):
    bundle = copy_bundle(signed_bundles / "support-assistant", tmp_path / "ops-agent")
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["agent"] = "ops-agent"
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError) as refused:
        Guard.load(bundle, keys["public_pem"], expect_agent="ops-agent")
    assert refused.value.reason == "signature"


@pytest.fixture
def two_revisions(bundles, edited_bundles):
    """ops-agent as compiled from the example specs (old) and after an edit to its limits (new)."""
    new = edited_bundles({"agents/ops-agent.yaml": lambda t: t.replace("maxRowsRead: 2000", "maxRowsRead: 1999")})
    old = bundles
    assert Guard.load(old / "ops-agent").revision != Guard.load(new / "ops-agent").revision
    return old / "ops-agent", new / "ops-agent"


def test_a_revision_older_than_the_newest_seen_is_refused(two_revisions, tmp_path):
    old, new = two_revisions
    store = tmp_path / "state" / "ops-agent.revisions.json"
    store.parent.mkdir()
    first = Guard.load(old, revisions=store)
    assert Guard.load(old, revisions=store).revision == first.revision, "the newest loads again"
    second = Guard.load(new, revisions=RevisionStore(store))
    with pytest.raises(BundleError, match="older than the newest loaded here") as refused:
        Guard.load(old, revisions=store)
    assert refused.value.reason == "rollback" and "1 revision(s) later" in str(refused.value)
    assert orjson.loads(store.read_bytes()) == {"agent": "ops-agent", "format": STORE_FORMAT,
                                                "revisions": [first.revision, second.revision]}
    assert Guard.load(new, revisions=store).revision == second.revision
    assert [p.name for p in store.parent.iterdir()] == [store.name], "no temporary file left behind"


def test_a_refused_bundle_is_not_recorded(bundles, tmp_path):
    store = tmp_path / "revisions.json"
    broken = copy_bundle(bundles / "ops-agent", tmp_path / "ops-agent")
    (broken / "policies.cedar").write_text("// edited\n")
    with pytest.raises(BundleError):
        Guard.load(broken, revisions=store)
    assert not store.exists()
    with pytest.raises(BundleError):
        Guard.load(bundles / "ops-agent", expect_agent="billing-agent", revisions=store)
    assert not store.exists()


@pytest.mark.parametrize(("content", "words"), [
    (b"{not json", "cannot be read"),
    (b"[]", "is not a paybill.dev/revision-store/v1 file"),
    (b'{"format": "other", "agent": "ops-agent", "revisions": []}', "is not a"),
    (b'{"format": "paybill.dev/revision-store/v1", "agent": "ops-agent", "revisions": "abc"}', "is not a"),
    (b'{"format": "paybill.dev/revision-store/v1", "agent": "ops-agent", "revisions": [1]}', "is not a"),
    (b'{"format": "paybill.dev/revision-store/v1", "agent": "ops-agent"}', "is not a"),
    (b'{"format": "paybill.dev/revision-store/v1", "agent": "billing-agent", "revisions": []}',
     "belongs to agent 'billing-agent', not 'ops-agent'"),
])
def test_a_damaged_or_foreign_store_refuses_the_bundle(bundles, tmp_path, content, words):
    store = tmp_path / "revisions.json"
    store.write_bytes(content)
    with pytest.raises(BundleError, match=words) as refused:
        Guard.load(bundles / "ops-agent", revisions=store)
    assert refused.value.reason == "store"
    assert store.read_bytes() == content


def test_a_store_that_cannot_be_written_or_read_refuses(bundles, tmp_path):
    with pytest.raises(BundleError, match="cannot be written") as refused:
        Guard.load(bundles / "ops-agent", revisions=tmp_path / "missing" / "revisions.json")
    assert refused.value.reason == "store"
    folder = tmp_path / "a-folder"
    folder.mkdir()
    with pytest.raises(BundleError, match="cannot be read") as refused:
        Guard.load(bundles / "ops-agent", revisions=folder)
    assert refused.value.reason == "store"


def test_the_store_keeps_the_newest_revisions_only(tmp_path):
    store = RevisionStore(tmp_path / "revisions.json")
    store.admit("ops-agent", "r0")
    # a full store, written as admit writes it: 4,094 more admits would rewrite the file each time (~9 s)
    store._write("ops-agent", [f"r{n}" for n in range(MAX_REVISIONS)])
    assert store.revisions("ops-agent")[-1] == f"r{MAX_REVISIONS - 1}"
    for n in (MAX_REVISIONS, MAX_REVISIONS + 1):
        store.admit("ops-agent", f"r{n}")
    kept = store.revisions("ops-agent")
    assert len(kept) == MAX_REVISIONS and kept[0] == "r2" and kept[-1] == f"r{MAX_REVISIONS + 1}"
    with pytest.raises(BundleError, match=f"{MAX_REVISIONS - 1} revision"):
        store.admit("ops-agent", "r2")
    store.admit("ops-agent", "r1")  # forgotten: taken as new
    assert store.revisions("ops-agent")[-1] == "r1"


def test_cli_exits_4_for_another_agent_or_an_older_revision(two_revisions, tmp_path):
    old, new = two_revisions
    args = ["guard", "check", "--tenant", "acme-corp", "--workflow", "incident-response", "--step", "inspect",
            "--action", "read", "--resource", "tickets", "--columns", "id"]
    runner = CliRunner()
    wrong = runner.invoke(cli, [*args, "--bundle", str(old), "--expect-agent", "billing-agent"])
    assert wrong.exit_code == 4
    assert "bundle refused (agent): bundle" in wrong.output and "not the expected 'billing-agent'" in wrong.output
    store = tmp_path / "revisions.json"
    for bundle, code in ((old, 0), (new, 0), (old, 4)):
        result = runner.invoke(cli, [*args, "--bundle", str(bundle), "--expect-agent", "ops-agent",
                                     "--revision-store", str(store)])
        assert result.exit_code == code, result.output
    assert "bundle refused (rollback)" in result.output
    replayed = runner.invoke(cli, ["guard", "replay", "--bundle", str(old), "--expect-agent", "ops", str(store)])
    assert replayed.exit_code == 4 and "not the expected 'ops'" in replayed.output


def test_the_store_remembers_4096_revisions_and_reads_up_to_1_mib(tmp_path):
    assert MAX_REVISIONS == 4096
    path = tmp_path / "revisions.json"
    document = orjson.dumps({"agent": "ops-agent", "format": STORE_FORMAT, "revisions": ["a"]})
    path.write_bytes(document + b" " * (1024 * 1024 - len(document)))
    assert RevisionStore(path).revisions("ops-agent") == ["a"]
    path.write_bytes(document + b" " * (1024 * 1024 + 1 - len(document)))
    with pytest.raises(BundleError, match="cannot be read") as refused:
        RevisionStore(path).revisions("ops-agent")
    assert refused.value.reason == "store"


def test_a_store_that_fails_while_being_replaced_refuses_and_leaves_no_temporary(tmp_path, monkeypatch):
    import os

    path = tmp_path / "revisions.json"

    def broken(source, target):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(BundleError, match="cannot be written: No space left on device") as refused:
        RevisionStore(path).admit("ops-agent", "r1")
    assert refused.value.reason == "store"
    assert list(tmp_path.iterdir()) == []


def test_a_fresh_store_records_the_first_revision(tmp_path):
    store = RevisionStore(tmp_path / "revisions.json")
    assert store.revisions("ops-agent") == []
    store.admit("ops-agent", "r1")
    store.admit("ops-agent", "r1")
    assert store.revisions("ops-agent") == ["r1"]


def test_the_rollback_message_names_both_revisions_and_the_distance(tmp_path):
    store = RevisionStore(tmp_path / "revisions.json")
    for revision in ("a" * 64, "b" * 64, "c" * 64):
        store.admit("ops-agent", revision)
    with pytest.raises(BundleError) as refused:
        store.admit("ops-agent", "a" * 64)
    assert str(refused.value) == (f"revision {'a' * 12} is older than the newest loaded here ({'c' * 12}, "
                                  f"2 revision(s) later); see {(tmp_path / 'revisions.json').as_posix()}")


def test_a_revision_proved_current_is_recorded_as_the_newest_again(tmp_path):
    """``paybill serve`` proves with the database's ledger that a revision is the deployed one (a tenant
    suspended, then reactivated, compiles back to its earlier revision); then it is no rollback. The
    next proof-less load of the revision it replaced is one."""
    store = RevisionStore(tmp_path / "revisions.json")
    for revision in ("active", "suspended"):
        store.admit("ops-agent", revision)
    store.admit("ops-agent", "active", current=True)
    assert store.revisions("ops-agent") == ["suspended", "active"]
    with pytest.raises(BundleError) as refused:
        store.admit("ops-agent", "suspended")
    assert refused.value.reason == "rollback"
    store.admit("ops-agent", "fresh", current=True)  # never seen: recorded as any new revision is
    assert store.revisions("ops-agent") == ["suspended", "active", "fresh"]
