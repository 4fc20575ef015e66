"""The delta compile (paybill.delta): a tenant identity, billing-status or label edit is patched in, and
is exactly a full compile.

Each test drives ``paybill compile`` as a user does (the CLI, a cache folder, an output folder) and
compares what it leaves on disk, and what it prints, with a compile that uses no cache at all. A spy
on the full pipeline tells whether the delta path was taken: it must be for identity edits (display
name, contacts, Stripe customer id, a billing status outside trials, labels that move the tenant in or
out of no agent's scope, comments, formatting) and must not be for anything else.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from compile_support import SPECS, exit_probe, invoke, read_tree
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import paybill.compile as compile_package
from paybill import store
from paybill.delta import identity
from paybill.delta.identity import ALLOWED_LIFECYCLES
from paybill.delta.state import (
    DISPLAY_NAME_IN_STACK,
    IDENTITY_FIELDS,
    LABELS,
    PATCHED_FIELDS,
    projection,
    state_names,
)
from paybill.load.document import git_blob_id

COMPILER = Path(compile_package.__file__).resolve().parents[1]
GCP_TENANTS = sorted(p.name for p in (SPECS / "tenants").iterdir() if "cloud: gcp-prod" in p.read_text())
OTHER_TENANTS = sorted(p.name for p in (SPECS / "tenants").iterdir() if p.name not in GCP_TENANTS)


class Spy:
    """Counts full compiles (the pipeline the delta path replaces)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        real = compile_package.compile_repository

        def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
            self.calls += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(compile_package, "compile_repository", counted)


def _compile(base: Path, specs: Path, *extra: str):  # type: ignore[no-untyped-def]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(store.CACHE_ENV, str(base / "cache"))
        return invoke("compile", str(specs), "--out", "generated", *extra, cwd=base)


def _reference(tmp_path: Path, specs: Path) -> tuple[dict[str, bytes], int, str]:
    """What a compile without any cache writes and prints (same relative --out, another folder)."""
    where = tmp_path / "reference"
    if where.exists():
        import shutil

        shutil.rmtree(where)
    where.mkdir()
    result = invoke("compile", str(specs), "--out", "generated", "--no-cache", cwd=where)
    tree = read_tree(where / "generated") if result.exit_code == 0 else {}
    return tree, result.exit_code, result.output


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1))


@pytest.fixture
def repo(tmp_path: Path, spec_copy) -> tuple[Path, Path]:  # type: ignore[no-untyped-def]
    base = tmp_path / "work"
    base.mkdir()
    specs = spec_copy({}, name="work")
    assert _compile(base, specs).exit_code == 0
    return base, specs


IDENTITY_EDITS = {
    "display name": ("acme-corp.yaml", "displayName: Acme Corp", "displayName: Acme Corporation (EU)"),
    "contact email": ("acme-corp.yaml", "email: platform@acme-corp.example.com", "email: ops@acme-corp.example.com"),
    "customer id": ("acme-corp.yaml", "customerId: cus_7c879ad6a7611d", "customerId: cus_NEW123"),
    "a comment": ("acme-corp.yaml", "spec:\n", "# reviewed by finance\nspec:\n"),
    "a document marker": ("acme-corp.yaml", "apiVersion:", "---\napiVersion:"),
    "gcp contacts": (GCP_TENANTS[0], "role: technical", "role: security"),
    "unicode name": ("acme-corp.yaml", "displayName: Acme Corp", "displayName: \"Acmé \\\"Corp\\\" ✓\""),
    "billing status": ("acme-corp.yaml", "status: active\n", "status: past_due\n"),
    "billing back to active": ("soylent.yaml", "status: past_due\n", "status: active\n"),
    "billing cancelled, offboarding": ("tyrell.yaml", "status: cancelled\n", "status: past_due\n"),
    "a trial's display name": ("hooli.yaml", "displayName: ", "displayName: Renamed "),
    # acme-corp is in three bundles (support-assistant selects support-tier: premium); none moves
    "label value, in three scopes": ("acme-corp.yaml", "segment: enterprise", "segment: strategic"),
    "label added": ("bluth.yaml", "labels: {segment: smb}", "labels: {segment: smb, cost-center: c-42}"),
    "label removed, a selector's key": ("initech.yaml", ", support-tier: standard}", "}"),
    "labels emptied": ("gringotts.yaml", "labels: {segment: mid-market, regulated: pci}", "labels: {}"),
    "gcp label": (GCP_TENANTS[0], "segment: ", "segment: x"),
}


def test_several_files_and_several_edits_in_a_row(repo, tmp_path: Path, monkeypatch) -> None:
    base, specs = repo
    spy = Spy(monkeypatch)
    for round_ in range(3):
        for name in OTHER_TENANTS[:3]:
            path = specs / "tenants" / name
            path.write_text(re.sub(r"(displayName: .*)", rf"\1 r{round_}", path.read_text(), count=1))
        result = _compile(base, specs)
        assert result.exit_code == 0, result.output
        assert spy.calls == 0, f"round {round_}: the delta path was not taken"
        tree, _, printed = _reference(tmp_path, specs)
        spy.calls = 0
        assert read_tree(base / "generated") == tree and result.output == printed


OTHER_EDITS = {
    "plan": ("acme-corp.yaml", "plan: enterprise", "plan: growth"),
    "label out of a selector's scope": ("acme-corp.yaml", "support-tier: premium", "support-tier: basic"),
    "label into a selector's scope": ("bluth.yaml", "labels: {segment: smb}",
                                      "labels: {segment: smb, support-tier: premium}"),
    "label and plan": ("bluth.yaml", "labels: {segment: smb}\nspec:\n  displayName: Bluth Company\n  plan: starter",
                       "labels: {segment: x}\nspec:\n  displayName: Bluth Company\n  plan: growth"),
    "label key not valid": ("bluth.yaml", "labels: {segment: smb}", "labels: {Segment: smb}"),
    "label value not text": ("bluth.yaml", "labels: {segment: smb}", "labels: {segment: 3}"),
    "billing into a trial": ("acme-corp.yaml", "status: active\n", "status: trialing\n"),
    "billing out of a trial": ("hooli.yaml", "status: trialing\n", "status: active\n"),
    "billing against lifecycle": ("acme-corp.yaml", "status: active\n", "status: cancelled\n"),
    "billing unknown status": ("acme-corp.yaml", "status: active\n", "status: overdue\n"),
    "billing status not text": ("acme-corp.yaml", "status: active\n", "status: 3\n"),
    "gcp display name": (GCP_TENANTS[0], "displayName: ", "displayName: Renamed "),
    "bad email": ("acme-corp.yaml", "email: platform@acme-corp.example.com", "email: not-an-email"),
    "bad customer id": ("acme-corp.yaml", "customerId: cus_7c879ad6a7611d", "customerId: cus with spaces"),
    "unknown field": ("acme-corp.yaml", "  displayName: Acme Corp\n", "  displayName: Acme Corp\n  nickname: ac\n"),
    "duplicate key": ("acme-corp.yaml", "  displayName: Acme Corp\n", "  displayName: Acme Corp\n  displayName: X\n"),
    "document moved": ("acme-corp.yaml", "apiVersion:", "null\n---\napiVersion:"),
}


EDITS = {**{name: (*edit, True) for name, edit in IDENTITY_EDITS.items()},
         **{name: (*edit, False) for name, edit in OTHER_EDITS.items()}}


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_an_edit_is_patched_in_exactly_when_it_is_an_identity_edit(repo, tmp_path: Path, monkeypatch,
                                                                    edit: str) -> None:
    """Identity edits take the delta path, every other edit the full compile; either way the folder
    and the printed text are an uncached compile's."""
    base, specs = repo
    name, old, new, identity = EDITS[edit]
    _edit(specs / "tenants" / name, old, new)
    spy = Spy(monkeypatch)
    result = _compile(base, specs)
    assert (spy.calls == 0) is identity, "identity edits, and only they, are patched in"
    tree, code, printed = _reference(tmp_path, specs)
    assert result.exit_code == code and result.output == printed
    if code == 0:
        assert read_tree(base / "generated") == tree
    if identity:  # its record holds every input's git blob id, the edited file's new one (`paybill plan`)
        blob_ids = _record_blob_ids(base)
        assert f"{specs.name}/tenants/{name}" in blob_ids
        assert blob_ids == {rel: git_blob_id((specs.parent / rel).read_bytes()) for rel in blob_ids}
    if identity:  # the next compile with no change takes the whole-compile short cut; `--check` agrees
        spy.calls = 0
        assert _compile(base, specs).exit_code == 0 and spy.calls == 0
        assert _compile(base, specs, "--check").exit_code == 0


def _record_blob_ids(base: Path) -> dict[str, str]:
    """The blob ids of the compile record of the manifest in ``base/generated``."""
    import json

    from paybill.changes.record import load_record

    inputs = json.loads((base / "generated" / "manifest.json").read_bytes())["inputs"]
    found = load_record(base / "cache", inputs)
    assert found is not None and found.blob_ids
    return dict(found.blob_ids)


@pytest.mark.parametrize("damage", ["flip overlay", "flip base", "foreign", "stale", "another base"])
def test_a_damaged_or_stale_state_is_never_used(repo, tmp_path: Path, monkeypatch, damage: str) -> None:
    base, specs = repo
    cache = base / "cache"
    overlay, base_entry = (cache / name for name in state_names(base / "generated"))
    if damage.startswith("flip"):
        entry = overlay if damage == "flip overlay" else base_entry
        data = bytearray(entry.read_bytes())
        data[-3] ^= 0xFF
        entry.write_bytes(bytes(data))
    elif damage == "foreign":
        overlay.write_bytes(b"another compiler\n" + overlay.read_bytes())
    else:
        value = store.read(cache, overlay.name)
        assert isinstance(value, tuple)
        if damage == "stale":  # the state of another output (say, copied from another checkout)
            value = (value[0], value[1], "0" * 64, value[3])
        else:  # an overlay that extends another full compile's base
            value = (value[0], "1" * 64, value[2], value[3])
        store.write(cache, overlay.name, value)
    _edit(specs / "tenants" / "acme-corp.yaml", "displayName: Acme Corp", "displayName: Acme Two")
    spy = Spy(monkeypatch)
    result = _compile(base, specs)
    assert result.exit_code == 0 and spy.calls == 1
    assert read_tree(base / "generated") == _reference(tmp_path, specs)[0]


def test_an_output_file_edited_by_hand_is_not_patched_from(repo, tmp_path: Path, monkeypatch) -> None:
    """The patched files are read from the output folder: one that is not what the journal says is
    never the base of a patch (the full compile rewrites it)."""
    base, specs = repo
    entitlements = base / "generated" / "tenants" / "acme-corp.json"
    entitlements.write_text(entitlements.read_text().replace("Acme Corp", "Hacked Corp"))
    _edit(specs / "tenants" / "acme-corp.yaml", "customerId: cus_7c879ad6a7611d", "customerId: cus_X")
    result = _compile(base, specs)
    assert result.exit_code == 0
    assert read_tree(base / "generated") == _reference(tmp_path, specs)[0]


def _compiled_with_warning(tmp_path: Path, spec_copy, spec: str, edit, code: str) -> tuple[Path, Path]:  # type: ignore[no-untyped-def]
    """The example specs with ``edit`` applied to ``spec``, compiled once (with a cache): it warns ``code``."""
    base = tmp_path / "work"
    base.mkdir()
    specs = spec_copy({spec: edit}, name="work")
    first = _compile(base, specs)
    assert first.exit_code == 0 and f"warning[{code}]" in first.output
    return base, specs


def _is_uncached(result, base: Path, tmp_path: Path, specs: Path) -> None:  # type: ignore[no-untyped-def]
    tree, code, printed = _reference(tmp_path, specs)
    assert (result.exit_code, result.output) == (code, printed) and read_tree(base / "generated") == tree


def test_a_label_edit_after_a_compile_that_reported_a_diagnostic_takes_the_full_compile(
        tmp_path: Path, spec_copy, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """PB0309's hint lists the labels in use, so a label edit can change what a compile reports: with a
    warning on record the label edit is compiled in full (an identity edit is still patched)."""
    base, specs = _compiled_with_warning(tmp_path, spec_copy, "agents/support-assistant.yaml",
                                         lambda text: text.replace("support-tier: premium", "support-tier: premum"),
                                         "PB0309")
    spy = Spy(monkeypatch)
    # no scope moves (the selector matches no tenant before or after), but the hint gains segment=tiny
    _edit(specs / "tenants" / "bluth.yaml", "labels: {segment: smb}", "labels: {segment: tiny}")
    result = _compile(base, specs)
    assert spy.calls == 1
    _is_uncached(result, base, tmp_path, specs)
    assert "segment=tiny" in result.output
    _edit(specs / "tenants" / "bluth.yaml", "displayName: Bluth Company", "displayName: Bluth Co")
    spy.calls = 0
    assert _compile(base, specs).exit_code == 0 and spy.calls == 0


def test_a_label_edit_after_a_compile_with_another_warning_is_patched(tmp_path: Path, spec_copy,
                                                                      monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A warning no label can change (PB0431, a deleted tenant without lifecycleSince) does not stop it."""
    base, specs = _compiled_with_warning(tmp_path, spec_copy, "tenants/cyberdyne.yaml", lambda text: re.sub(
        r"\n  lifecycleSince: .*", "", text), "PB0431")
    spy = Spy(monkeypatch)
    _edit(specs / "tenants" / "acme-corp.yaml", "segment: enterprise", "segment: strategic")
    result = _compile(base, specs)
    assert spy.calls == 0
    _is_uncached(result, base, tmp_path, specs)


def test_the_label_sensitive_codes_are_every_code_of_the_label_readers_that_report() -> None:
    """Every diagnostic code spelled by a module that reads labels and reports (PB0309's rule, the
    bundle emitter and its checks) is one the delta path treats as label-sensitive; others are not."""
    from paybill.delta.patch import label_sensitive

    spelled: set[str] = set()
    for source in [COMPILER / "validate/rules/agent_selector.py", *sorted((COMPILER / "emit/bundles").glob("*.py"))]:
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and re.fullmatch(r"PB\d{4}", node.value):
                spelled.add(node.value)
    assert {"PB0309", "PB0702", "PB0706"} <= spelled and all(label_sensitive(code) for code in spelled)
    assert not any(label_sensitive(code) for code in ("PB0431", "PB0405", "PB0601", "PB0112"))


def test_generated_policies_never_read_tags() -> None:
    """Why a patched label edit cannot change a bundle check: the policies paybill generates never ask
    about a tenant's tags (Cedar's ``hasTag``/``getTag``), so Cedar answers alike for every tenant of a
    scope in one lifecycle state. A generator that starts reading tags must teach paybill.delta first."""
    generators = [COMPILER / "emit/bundles/policies.py", COMPILER / "emit/bundles/cedar_text.py"]
    policies = sorted((COMPILER.parents[1] / "generated" / "bundles").glob("*/policies.cedar"))
    assert len(policies) >= 3
    for source in [*generators, *policies]:
        text = source.read_text()
        assert "hasTag" not in text and "getTag" not in text, source


def test_a_signing_key_takes_the_full_compile(repo, tmp_path: Path, monkeypatch) -> None:
    """A signed bundle manifest's signature covers its sources: it is never patched."""
    base, specs = repo
    key = tmp_path / "key.pem"
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key.write_bytes(Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    monkeypatch.setenv("PAYBILL_BUNDLE_SIGNING_KEY", str(key))
    assert _compile(base, specs).exit_code == 0
    _edit(specs / "tenants" / "acme-corp.yaml", "displayName: Acme Corp", "displayName: Acme Signed")
    spy = Spy(monkeypatch)
    assert _compile(base, specs).exit_code == 0
    assert spy.calls == 1


_EDIT = st.one_of(
    st.tuples(st.just("display"), st.sampled_from(sorted(p.name for p in (SPECS / "tenants").iterdir())),
              st.sampled_from(["Ltd", "GmbH", "Inc", "ünïcode"])),
    st.tuples(st.just("customer"), st.sampled_from(OTHER_TENANTS), st.sampled_from(["cus_A1", "cus_B2", "cus_C3"])),
    st.tuples(st.just("comment"), st.sampled_from(OTHER_TENANTS), st.sampled_from(["one", "two"])),
    st.tuples(st.just("lifecycle"), st.sampled_from(OTHER_TENANTS), st.sampled_from(["active", "suspended"])),
    st.tuples(st.just("label"), st.sampled_from(OTHER_TENANTS), st.sampled_from(["premium", "basic"])),
    st.tuples(st.just("billing"), st.sampled_from(sorted(p.name for p in (SPECS / "tenants").iterdir())),
              st.sampled_from(["active", "past_due", "cancelled", "trialing"])),
)


def _apply(specs: Path, edit: tuple[str, str, str], quiet: bool) -> bool:
    """Apply ``edit``; True when it is an edit the delta path must take (``quiet``: the last compile
    reported no diagnostic, which a label edit needs)."""
    what, name, value = edit
    path = specs / "tenants" / name
    text = path.read_text()
    if what == "display":
        text = re.sub(r"(displayName: .*)", lambda m: f"{m.group(1)} {value}", text, count=1)
        identity = name not in GCP_TENANTS
    elif what == "customer":
        text = re.sub(r"customerId: \S+", f"customerId: {value}", text, count=1)
        identity = True
    elif what == "comment":
        text = f"# {value}\n" + text
        identity = True
    elif what == "billing":
        before = re.search(r"\n    status: (\w+)\n", text)
        lifecycle = re.search(r"\n  lifecycle: (\w+)\n", text)
        assert before is not None and lifecycle is not None, name
        text = text.replace(before.group(0), f"\n    status: {value}\n", 1)
        # patched: outside trials, and what rule PB0405 accepts beside the lifecycle (else it reports)
        identity = before.group(1) == value or ("trialing" not in (before.group(1), value)
                                                and lifecycle.group(1) in ALLOWED_LIFECYCLES[value])
    elif what == "lifecycle":
        if "lifecycle: active\n" not in text and "lifecycle: suspended\n" not in text:
            return True  # nothing to edit: nothing to compile
        text = re.sub(r"lifecycle: (active|suspended)\n", f"lifecycle: {value}\n", text, count=1)
        identity = f"lifecycle: {value}\n" in path.read_text()
    else:
        before = re.search(r"support-tier: (\w+)", text)
        text = re.sub(r"support-tier: \w+", f"support-tier: {value}", text, count=1)
        # patched unless support-assistant's selector (support-tier: premium) picks the tenant or drops it
        identity = before is None or before.group(1) == value or (
            quiet and (before.group(1) == "premium") == (value == "premium"))
    path.write_text(text)
    return identity


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(_EDIT, min_size=1, max_size=4))
@example(edits=[("display", "hooli.yaml", "Ltd"), ("billing", "hooli.yaml", "active"),  # a trial: patched, its end
                ("comment", "hooli.yaml", "one")])  # full, then patched
@example(edits=[("label", "initech.yaml", "basic"), ("label", "initech.yaml", "premium"),  # patched, then full
                ("label", "acme-corp.yaml", "basic"), ("display", "acme-corp.yaml", "Inc")])
def test_random_edit_sequences_equal_a_full_compile(spec_copy, tmp_path_factory, edits) -> None:  # type: ignore[no-untyped-def]
    """After every edit the tree on disk and the printed text are an uncached compile's, and the
    delta path is taken exactly for identity edits (a no-op edit counts as one)."""
    base = tmp_path_factory.mktemp("delta")
    specs = spec_copy({}, name=base.name)
    first = _compile(base, specs)
    assert first.exit_code == 0
    quiet = "warning[" not in first.output
    for edit in edits:
        identity = _apply(specs, edit, quiet)
        with pytest.MonkeyPatch.context() as patch:
            spy = Spy(patch)
            result = _compile(base, specs)
            calls = spy.calls
        tree, code, printed = _reference(base, specs)
        assert (result.exit_code, result.output) == (code, printed)
        if code == 0:
            assert read_tree(base / "generated") == tree
            assert (calls == 0) is identity, (edit, calls)
        quiet = code == 0 and "warning[" not in result.output


def test_projection_ignores_exactly_the_patched_fields() -> None:
    document = {"kind": "Tenant", "spec": {"displayName": "A", "contacts": [], "billing": {"customerId": "c", "status":
                                                                                             "active"}, "plan": "p"},
                "metadata": {"labels": {"segment": "enterprise", "tier": "gold"}}}
    same = {"kind": "Tenant", "spec": {"displayName": "B", "billing": {"customerId": "d", "status": "past_due"},
                                       "plan": "p"}, "metadata": {"labels": {"segment": "smb"}}}
    assert projection(document) == projection(same) == projection({**same, "metadata": {}})
    assert projection({**same, "metadata": {"name": "x"}}) != projection(same)
    assert projection({**same, "metadata": {"annotations": {"a": "b"}}}) != projection(same)
    for changed in ({**document, "kind": "Tenantx"}, {**document, "spec": {**document["spec"], "plan": "q"}},
                    {**document, "spec": {**document["spec"], "billing": {"customerId": "c", "trialDays": 3}}},
                    {**document, "spec": {**document["spec"], "lifecycle": "active"}},
                    {**document, "spec": {**document["spec"], "plan": 1}}):
        assert projection(changed) != projection(document)
    assert projection({"spec": {"x": 1}}) != projection({"spec": {"x": 1.0}}) != projection({"spec": {"x": True}})
    assert projection({"spec": {"x": float("nan")}}) is None
    assert projection({"spec": {1: "x"}}) is None
    assert document["spec"]["displayName"] == "A"  # the loaded document itself is left alone


# Modules a compile runs, and the only ones of them that may read a tenant's identity fields.
COMPILE_PACKAGES = ("load", "validate", "resolve", "graph", "emit", "compile", "clouds", "quotas", "providers",
                    "write")
READERS = {
    "display_name": {"emit/entitlements.py", "emit/terraform/providers/gcp/identity.py"},
    "customer_id": {"emit/entitlements.py"},
    "contacts": set(),
    # the billing status: the entitlement file, rule PB0405 (patch checks it) and "is it trialing"
    "status": {"emit/entitlements.py", "emit/terraform/context.py", "validate/rules/billing_lifecycle.py"},
}
SPELLINGS = {"displayName", "customerId", "contacts"}
STATUS_SPELLED = {
    "emit/entitlements.py",  # the entitlement file's billing.status
    "emit/terraform/providers/aws/storage.py",  # an S3 versioning configuration's own "status": "Enabled"
    "load/cache.py",  # TENANT_SHARE: plain values kept for `paybill plan`, no output reads them
}


# A tenant's labels (``.labels``): the entitlement file, the bundles' tenant entities and their checks'
# choice of tenants, the scope resolver and PB0309: what paybill.delta.patch patches or proves unchanged.
# (``"labels"`` is also a Terraform attribute of GCP, IBM and Kubernetes resources, filled from the
# stack's tags, which hold no tenant label: not checked by spelling.)
LABEL_READERS = {"emit/entitlements.py", "emit/bundles/documents.py", "emit/bundles/checks.py", "validate/scope.py",
                 "validate/rules/agent_selector.py"}


def test_no_other_compiler_module_reads_the_identity_fields() -> None:
    """The delta compile patches exactly the outputs the readers below produce. A new reader of a
    tenant's display name, contacts, customer id, billing status or labels (an attribute, or the field's
    spelling in the specs) must be added to paybill.delta first, or a delta compile would differ from
    a full one."""
    assert {path[-1] for path in IDENTITY_FIELDS} == SPELLINGS and {"gcp"} == DISPLAY_NAME_IN_STACK
    assert (*IDENTITY_FIELDS, ("spec", "billing", "status"), ("metadata", "labels")) == PATCHED_FIELDS
    assert LABELS == ("metadata", "labels")
    found: dict[str, set[str]] = {name: set() for name in (*READERS, "labels")}
    spelled: set[str] = set()
    status_spelled: set[str] = set()
    for package in COMPILE_PACKAGES:
        for source in sorted((COMPILER / package).rglob("*.py")):
            relative = source.relative_to(COMPILER).as_posix()
            for node in ast.walk(ast.parse(source.read_text())):
                if isinstance(node, ast.Attribute) and node.attr in found:
                    found[node.attr].add(relative)
                elif isinstance(node, ast.Constant) and node.value in SPELLINGS:
                    spelled.add(relative)
                elif isinstance(node, ast.Constant) and node.value == "status":
                    status_spelled.add(relative)
    assert found == {**READERS, "labels": LABEL_READERS}
    assert spelled <= {"emit/entitlement_text.py", "emit/entitlements.py"}, spelled
    assert status_spelled == STATUS_SPELLED, status_spelled


def test_the_billing_status_rules_are_the_models_and_the_validators() -> None:
    """The delta path's copy of rule PB0405's table (copied so that it loads no validate module) and
    its list of statuses are the rule's and the model's own."""
    from typing import get_args

    from paybill.models.tenant import BillingStatus
    from paybill.validate.rules.billing_lifecycle import ALLOWED_LIFECYCLES as RULES

    assert ALLOWED_LIFECYCLES == RULES
    assert set(ALLOWED_LIFECYCLES) == set(get_args(BillingStatus)) and identity.TRIALING in ALLOWED_LIFECYCLES


def test_the_delta_path_loads_no_stage(repo) -> None:  # type: ignore[no-untyped-def]
    """Observed from outside: a real ``paybill compile`` process patching an identity edit loads none of
    the stages it replaces (what makes it cheap), not even pydantic: only the loader."""
    base, specs = repo
    _edit(specs / "tenants" / "acme-corp.yaml", "displayName: Acme Corp", "displayName: Acme Probe")
    probe = exit_probe("'LOADED', sorted(m for m in sys.modules if m.split('.')[:2] in (['paybill', "
                       "'compile'], ['paybill', 'validate'], ['paybill', 'resolve'], ['paybill', 'graph'], "
                       "['networkx'], ['cedarpy'], ['pydantic'], ['paybill', 'models']) or "
                       "(m.startswith('paybill.emit.') and m != 'paybill.emit.entitlement_text'))",
                       "['paybill', 'compile', sys.argv[1], '--out', 'generated']")
    run = subprocess.run([sys.executable, "-c", probe, str(specs)], cwd=base, capture_output=True, text=True,
                         check=False, env={**os.environ, store.CACHE_ENV: str(base / "cache")})
    assert run.returncode == 0, run.stderr
    assert "LOADED []" in run.stderr, run.stderr
    assert b"Acme Probe" in (base / "generated" / "tenants" / "acme-corp.json").read_bytes()


def test_the_fast_identity_check_uses_the_models_own_rules() -> None:
    from typing import get_args

    from paybill.models import base as model_base
    from paybill.models.tenant import Billing, Contact

    def pattern(annotation) -> str:  # type: ignore[no-untyped-def]
        return next(m.pattern for m in getattr(annotation, "__metadata__", ()) if getattr(m, "pattern", None))

    assert pattern(model_base.Email) == identity.EMAIL_PATTERN
    assert next(m.pattern for m in Billing.model_fields["customer_id"].metadata
                                                if getattr(m, "pattern", None)) == identity.CUSTOMER_ID_PATTERN
    assert set(get_args(Contact.model_fields["role"].annotation)) == identity.CONTACT_ROLES
    assert identity.TEXT_MAX == model_base.TEXT_MAX
    assert (identity.LABEL_KEY_PATTERN, identity.LABEL_VALUE_PATTERN) == (model_base.LABEL_KEY_PATTERN,
                                                                          model_base.LABEL_VALUE_PATTERN)
    assert model_base.Metadata.model_fields["labels"].annotation == dict[model_base.LabelKey, model_base.LabelValue]
    # every tenant of the example repository is checked without pydantic
    from paybill.diagnostics import DiagnosticSink
    from paybill.load import load_source

    for path in sorted((SPECS / "tenants").iterdir()):
        for document in load_source(path.read_bytes(), path.name, DiagnosticSink()):
            assert identity.surely_valid(document.data), path.name


_ANY_TEXT = st.one_of(st.text(max_size=300), st.sampled_from(["Acme", "Acme\tCorp", "Acme\n", "a" * 256, "a" * 257, "",
                                                            "\u202eevil", "x\x7f", "café ✓"]))
_EMAILS = st.one_of(st.emails(), st.text(max_size=40), st.sampled_from(
    ["ops@acme.example.com", "ops@acme.example.com\n", "o ps@acme.io", "ops@ACME.io", "o$@a.io", "ops@a.b", "é@a.io"]))


@settings(max_examples=300, deadline=None)
@given(display=st.one_of(_ANY_TEXT, st.integers()), customer=st.one_of(st.from_regex(r"[A-Za-z0-9_-]{1,70}",
       fullmatch=True), st.text(max_size=70), st.none()), contacts=st.lists(st.fixed_dictionaries(
       {"name": _ANY_TEXT, "email": _EMAILS, "role": st.sampled_from(["technical", "billing", "ceo"])}), max_size=3))
def test_the_fast_identity_check_never_accepts_what_the_model_rejects(display, customer, contacts) -> None:  # type: ignore[no-untyped-def]
    """Soundness, with random values: whenever the fast check says valid, the Tenant model agrees."""
    document = _acme()
    document["spec"]["displayName"] = display
    document["spec"]["billing"]["customerId"] = customer
    document["spec"]["contacts"] = contacts
    _sound(document)


def _acme() -> dict:  # type: ignore[type-arg]
    import yaml

    return yaml.safe_load((SPECS / "tenants" / "acme-corp.yaml").read_text())  # type: ignore[no-any-return]


def _sound(document: dict) -> None:  # type: ignore[type-arg]
    """When the fast check says ``document`` is valid, the Tenant model must accept it."""
    from pydantic import ValidationError

    from paybill.models.tenant import Tenant

    if identity.surely_valid(document):
        try:
            Tenant.model_validate(document)
        except ValidationError as error:  # pragma: no cover - the property's counterexample
            raise AssertionError(f"the fast check accepted what the model rejects: {error}") from None


_LABEL_TEXT = st.one_of(st.from_regex(r"[a-z0-9_-]{0,64}", fullmatch=True), st.text(max_size=66), st.integers(),
                       st.none(), st.sampled_from(["a", "a-", "-a", "a\n", "A", "é", "a" * 63, "a" * 64, ""]))


@settings(max_examples=300, deadline=None)
@given(labels=st.one_of(st.dictionaries(_LABEL_TEXT, _LABEL_TEXT, max_size=4), st.lists(_LABEL_TEXT, max_size=2),
                        _LABEL_TEXT))
def test_the_fast_label_check_never_accepts_what_the_model_rejects(labels) -> None:  # type: ignore[no-untyped-def]
    """Soundness of the label check the delta path runs instead of pydantic, with random labels."""
    document = _acme()
    document["metadata"]["labels"] = labels
    _sound(document)


def test_the_manifest_splice_replaces_each_entry_found_exactly_once() -> None:
    from paybill.delta.patch import _NotDelta, _splice

    data = b'{"a": "sha256:1", "b": "sha256:2", "c": "sha256:3"}'
    swaps = [(b'"c": "sha256:3"', b'"c": "sha256:33"'), (b'"a": "sha256:1"', b'"a": "sha256:x"')]
    expected = data
    for before, after in swaps:  # what one count() and replace() per entry did
        expected = expected.replace(before, after)
    assert _splice(data, swaps) == expected == b'{"a": "sha256:x", "b": "sha256:2", "c": "sha256:33"}'
    assert _splice(data, []) == data
    for bad in ([(b'"d": "sha256:4"', b"")],  # absent
                [(b'sha256:', b"")],  # more than once
                [(b'"a": "sha256:1", "b"', b"x"), (b'"b": "sha256:2"', b"y")]):  # two sharing bytes
        with pytest.raises(_NotDelta):
            _splice(data, bad)


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=40), swaps=st.lists(st.tuples(st.binary(min_size=1, max_size=4), st.binary(max_size=4)),
                                                    max_size=3))
def test_a_splice_that_succeeds_is_each_pattern_replaced_where_it_occurred_once(data: bytes, swaps) -> None:  # type: ignore[no-untyped-def]
    from paybill.delta.patch import _NotDelta, _splice

    try:
        spliced = _splice(data, swaps)
    except _NotDelta:
        return
    assert all(data.count(before) == 1 for before, _ in swaps)
    spans = sorted((data.index(before), before, after) for before, after in swaps)
    rebuilt, done = b"", 0
    for start, before, after in spans:
        assert start >= done
        rebuilt += data[done:start] + after
        done = start + len(before)
    assert spliced == rebuilt + data[done:]


def test_a_file_of_the_state_base_that_does_not_unpack_reads_as_not_a_tenant_only_file(tmp_path: Path) -> None:
    import marshal

    from paybill.delta.state import STATE_FORMAT, TenantEntry, load_state

    out = tmp_path / "generated"
    overlay, base = state_names(out)
    row = (0, "acme", "p" * 64, "aws", "Acme")
    packed = {"specs/tenants/acme.yaml": marshal.dumps(((row,), ("tenants/bundle/manifest.json",))),
              "specs/tenants/bad.yaml": b"\x00not marshal", "specs/tenants/odd.yaml": marshal.dumps(("rows", 1))}
    assert store.write(tmp_path, base, (STATE_FORMAT, "m1", packed, {"a": (("k", 1),)}))
    assert store.write(tmp_path, overlay, (STATE_FORMAT, "m1", "m2", {}))
    state = load_state(tmp_path, out)
    assert state is not None and state.manifest_sha256 == "m2"
    assert state.entries("specs/tenants/acme.yaml") == (TenantEntry(*row),)
    assert state.listings.get("specs/tenants/acme.yaml", ()) == ("tenants/bundle/manifest.json",)
    assert state.selectors is None  # not (agent -> ((label, value), ...)): no label edit is patched
    for path in ("specs/tenants/bad.yaml", "specs/tenants/odd.yaml", "specs/tenants/absent.yaml"):
        assert state.entries(path) is None and state.listings.get(path) is None


def test_the_record_a_delta_compile_saves_lists_every_spec_file_as_it_is_now(repo, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The delta compile's record reuses the last record's rows of the files it did not see change: they
    must be exactly the rows a record built from scratch holds (stat and SHA-256 of every spec file)."""
    import hashlib

    from paybill.write import shortcut

    base, specs = repo
    spy = Spy(monkeypatch)
    for round_ in range(2):
        _edit(specs / "tenants" / "acme-corp.yaml", "customerId: ", f"customerId: cus_R{round_}")
        assert _compile(base, specs).exit_code == 0 and spy.calls == 0
        record = shortcut.read_record(base / "cache", base / "generated")
        scan = shortcut.scan_specs(specs)
        assert record is not None and scan is not None
        assert record["specs"] == {path: (*stat_, hashlib.sha256((Path(scan.base) / path).read_bytes()).hexdigest())
                                   for path, stat_ in scan.files.items()}
