"""A bundle whose hashes are consistent but whose content is not what the guard expects is refused.

Each case rewrites one file and its manifest hash and revision (as an attacker with write access but
no signing key could), so only the content checks stand between it and a loaded guard.
"""

from __future__ import annotations

import json

import pytest
from guard_support import copy_bundle

from paybill.contract.bundle import bundle_revision, sha256_hex
from paybill.guard import BundleError, Guard


def rewrite(bundle, name, data: bytes):
    (bundle / name).write_bytes(data)
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["files"][name] = sha256_hex(data)
    manifest["revision"] = bundle_revision(manifest["files"])
    (bundle / "manifest.json").write_text(json.dumps(manifest))


def edit_json(bundle, name, edit):
    rewrite(bundle, name, json.dumps(edit(json.loads((bundle / name).read_text()))).encode())


@pytest.fixture
def bundle(bundles, tmp_path):
    return copy_bundle(bundles / "ops-agent", tmp_path / "ops-agent")


def refused(bundle) -> BundleError:
    with pytest.raises(BundleError) as raised:
        Guard.load(bundle)
    return raised.value


@pytest.mark.parametrize(("name", "edit", "words"), [
    ("workflow.json", lambda d: [d], "workflow.json, limits.json or tests.json is not in the bundle format"),
    ("workflow.json", lambda d: {**d, "workflows": []}, "is not in the bundle format"),
    ("limits.json", lambda d: [d], "is not in the bundle format"),
    ("tests.json", lambda d: [d], "is not in the bundle format"),
    ("tests.json", lambda d: {**d, "tests": {}}, "is not in the bundle format"),
    ("workflow.json", lambda d: {**d, "agent": "billing-agent"}, "bundle files name different agents"),
    ("limits.json", lambda d: {**d, "agent": "billing-agent"}, "bundle files name different agents"),
    ("workflow.json", lambda d: {**d, "workflows": {"w": {"steps": [{"no-id": 1}]}}},
     "workflow.json steps are not in the bundle format"),
    ("workflow.json", lambda d: {**d, "workflows": {"w": {"steps": 5}}}, "steps are not in the bundle format"),
])
def test_json_files_not_in_the_bundle_format(bundle, name, edit, words):
    edit_json(bundle, name, edit)
    error = refused(bundle)
    assert error.reason == "content" and words in str(error)


def test_a_file_that_is_not_json_or_not_utf8(bundle):
    rewrite(bundle, "limits.json", b"{not json")
    error = refused(bundle)
    assert error.reason == "content" and "limits.json is not valid JSON" in str(error)


def test_policies_that_are_not_utf8(bundle):
    rewrite(bundle, "policies.cedar", b"\xff\xfe")
    error = refused(bundle)
    assert error.reason == "content" and str(error) == "policies.cedar is not UTF-8"


def test_policies_that_do_not_parse_or_validate(bundle, bundles, tmp_path):
    rewrite(bundle, "policies.cedar", b"permit(principal, action, resource")
    error = refused(bundle)
    assert error.reason == "cedar" and "Cedar could not load the bundle" in str(error)
    other = copy_bundle(bundles / "ops-agent", tmp_path / "other")
    text = (other / "policies.cedar").read_text()
    rewrite(other, "policies.cedar", (text + '\n@id("x")\npermit(principal, action, resource) when '
                                      '{ context.nope == 1 };\n').encode())
    error = refused(other)
    assert error.reason == "cedar" and str(error).startswith("policies do not validate against the schema: x: ")


def test_more_than_one_failing_golden_is_counted(bundle):
    tests = json.loads((bundle / "tests.json").read_text())
    flipped = [{**t, "expect": {**t["expect"], "allowed": not t["expect"]["allowed"]}} for t in tests["tests"][:3]]
    edit_json(bundle, "tests.json", lambda d: {**d, "tests": flipped})
    error = refused(bundle)
    assert error.reason == "golden" and str(error).endswith(" (and 2 more)")
    edit_json(bundle, "tests.json", lambda d: {**d, "tests": flipped[:2]})
    assert str(refused(bundle)).endswith(" (and 1 more)")
    edit_json(bundle, "tests.json", lambda d: {**d, "tests": flipped[:1]})
    error = refused(bundle)
    assert error.reason == "golden" and "more)" not in str(error)


def test_a_single_validation_error_is_reported(bundle):
    text = (bundle / "policies.cedar").read_text()
    rewrite(bundle, "policies.cedar", (text + '\n@id("only")\npermit(principal, action == Paybill::Action::"read", '
                                       'resource) when { context.nope == 1 };\n').encode())
    error = refused(bundle)
    assert error.reason == "cedar" and str(error).startswith("policies do not validate against the schema: only: ")


@pytest.mark.parametrize("expect", ["allow", {"allowed": True, "reasons": "p"},
                                    {"allowed": True, "reasons": [1]}, None])
def test_a_malformed_expectation_is_a_golden_failure_not_a_crash(bundle, expect):
    tests = json.loads((bundle / "tests.json").read_text())
    edit_json(bundle, "tests.json", lambda d: {**d, "tests": [{**tests["tests"][0], "expect": expect}]})
    error = refused(bundle)
    assert error.reason == "golden" and "(malformed 'expect')" in str(error)


def test_a_malformed_test_is_a_golden_failure(bundle):
    edit_json(bundle, "tests.json", lambda d: {**d, "tests": [{"name": "x"}]})
    error = refused(bundle)
    assert error.reason == "golden" and "<tests.json>" in str(error)
