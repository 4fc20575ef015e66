"""``paybill plan`` from both commits' committed ``generated/`` (:mod:`paybill.plan.committed`) says what the
full plan says.

Each side is compiled and committed with its ``generated/`` (as CI's ``compile --check`` demands), so the
cache folder holds a compile record for both; the plan then takes no compile at all when the change
touches only tenants, and must print the very report (JSON and markdown) and exit code of a plan that
compiles both sides with no cache. A change it cannot prove (not tenants only, a stale or hand-edited
committed file, no record) falls back to the full plan: the same report again.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from paybill.changes import record
from paybill.load.document import git_blob_id
from paybill.plan import committed

from .scenarios import ACME, HOOLI, SCENARIOS, VANDELAY

PLAN = ("plan", "specs", "--base", "HEAD~1", "--head", "HEAD")
FRESH = "base: committed generated/ of the base commit (fresh)"
PLAN_FROM_COMMITS = committed.plan_from_commits
TENANTS_ONLY = {"tenant_plan_upgrade", "isolation_migration", "lifecycle_skips_offboarding", "tenant_onboarded",
                "live_tenant_removed", "tenant_suspended"}


def _compile_and_commit(repo, run, message: str) -> None:
    code, out, err = run(repo.root, "compile", "specs")
    assert code == 0, out + err
    repo.commit(message)


@pytest.fixture
def taken(monkeypatch) -> list[bool]:
    """Whether each plan took the committed-tree path (True) or fell back to the full plan (False)."""
    seen: list[bool] = []

    def spy(*args, **kwargs):
        report = PLAN_FROM_COMMITS(*args, **kwargs)
        seen.append(report is not None)
        return report

    monkeypatch.setattr(committed, "plan_from_commits", spy)
    return seen


def _both_ways(repo, run, monkeypatch, plan: tuple[str, ...] = PLAN
               ) -> tuple[tuple[int, dict, str], tuple[int, dict, str]]:
    """(exit code, JSON, markdown) of the plan with the cache, then of the full plan compiling both sides."""
    out = []
    for extra in ((), ("--compile-base",)):
        if extra:
            monkeypatch.setenv("PAYBILL_CACHE_DIR", "off")
        code, text, _ = run(repo.root, *plan, *extra, "--format", "json")
        md_code, markdown, _ = run(repo.root, *plan, *extra, "--format", "markdown")
        assert code == md_code
        report = json.loads(text)
        base = report["terraform"].pop("base")
        out.append((code, report, markdown.replace(base, "BASE"), base))
    monkeypatch.delenv("PAYBILL_CACHE_DIR")
    (code, fast, fast_md, fast_base), (slow_code, slow, slow_md, slow_base) = out
    assert slow_base == "base: compiled"
    assert fast_base == FRESH
    return (code, fast, fast_md), (slow_code, slow, slow_md)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_a_plan_from_the_committed_trees_says_what_a_plan_that_compiles_both_sides_says(
        name, repo, run, monkeypatch, taken) -> None:
    _compile_and_commit(repo, run, "generated/")
    SCENARIOS[name](repo)
    _compile_and_commit(repo, run, f"scenario: {name}")
    fast, slow = _both_ways(repo, run, monkeypatch)
    assert fast == slow
    assert taken[:2] == [name in TENANTS_ONLY] * 2  # the JSON and the markdown plan


def _migrating(repo) -> None:
    """ACME (silo) moving into a pool in phases: a tenant whose unchanged spec the plan still reports."""
    repo.edit(ACME, "    region: us-east-1\n", "    region: us-east-1\n    pool: aws-use1-shared\n")
    repo.edit(ACME, "    model: silo\n", "    model: silo\n    migration:\n      from: {model: pooled}\n"
                    "      phase: provision\n")


EDITS: dict[str, Callable] = {
    "suspend": lambda repo: repo.edit(VANDELAY, "lifecycle: active", "lifecycle: suspended"),
    "upgrade": lambda repo: repo.edit(HOOLI, "plan: starter", "plan: growth"),
}


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_a_tenant_in_a_staged_migration_that_the_change_leaves_alone(edit, repo, run, monkeypatch, taken) -> None:
    _migrating(repo)
    _compile_and_commit(repo, run, "acme: provision")
    EDITS[edit](repo)
    _compile_and_commit(repo, run, edit)
    fast, slow = _both_ways(repo, run, monkeypatch)
    assert fast == slow
    assert taken[:2] == [True, True]


def test_the_work_tree_is_planned_from_head_when_it_is_exactly_head(repo, run, monkeypatch, taken) -> None:
    """CI plans its checkout (no ``--head``): a clean work tree is ``HEAD``, and the report names it
    ``HEAD (<commit>)`` either way (test_plan_cli); anything modified, untracked or ignored under specs/
    falls back. generated/ on disk is read by neither plan: a stale file there changes nothing."""
    _compile_and_commit(repo, run, "generated/")
    repo.edit(VANDELAY, "lifecycle: active", "lifecycle: suspended")
    _compile_and_commit(repo, run, "suspend vandelay")
    work_tree = ("plan", "specs", "--base", "HEAD~1")
    fast, slow = _both_ways(repo, run, monkeypatch, work_tree)
    assert fast == slow
    assert fast[1]["head"] == slow[1]["head"]
    assert taken[:2] == [True, True]
    stack = "generated/terraform/tenant/vandelay/main.tf.json"
    repo.write(stack, repo.read(stack).replace('"paybill-tenant"', '"paybill-tenant-edited"', 1))
    assert (fast, slow) == _both_ways(repo, run, monkeypatch, work_tree)  # still HEAD's committed tree
    assert taken[2:4] == [True, True]
    repo.git("checkout", "--", stack)
    repo.write("specs/tenants/initech.yaml", repo.read(HOOLI).replace("name: hooli", "name: initech"))
    fast, slow = _both_ways(repo, run, monkeypatch, work_tree)  # an untracked spec file: the full plan
    assert fast == slow
    assert taken[4:6] == [False, False]


def test_the_warnings_of_the_head_compile_are_reported_from_its_record(repo, run, monkeypatch, taken) -> None:
    """A tenant edit that leaves an agent with no tenant in scope: the bundles emitter warns (PB0704)."""
    _compile_and_commit(repo, run, "generated/")
    repo.edit(ACME, "support-tier: premium", "support-tier: standard")
    _compile_and_commit(repo, run, "acme: standard support")
    fast, slow = _both_ways(repo, run, monkeypatch)
    assert fast == slow
    assert "PB0704" in {d["code"] for d in fast[1]["diagnostics"]}
    assert taken[:2] == [True, True]


def test_a_stale_committed_head_tree_falls_back_to_the_full_plan(repo, run, monkeypatch, taken) -> None:
    _compile_and_commit(repo, run, "generated/")
    repo.edit(VANDELAY, "lifecycle: active", "lifecycle: suspended")
    repo.commit("suspend vandelay, generated/ not compiled")
    fast, slow = _both_ways(repo, run, monkeypatch)
    assert fast == slow
    assert taken[:2] == [False, False]


def test_a_hand_edited_committed_stack_falls_back_to_the_full_plan(repo, run, monkeypatch, taken) -> None:
    _compile_and_commit(repo, run, "generated/")
    repo.edit(VANDELAY, "lifecycle: active", "lifecycle: suspended")
    run(repo.root, "compile", "specs")
    stack = "generated/terraform/tenant/vandelay/main.tf.json"
    repo.write(stack, repo.read(stack).replace('"paybill-tenant"', '"paybill-tenant-edited"', 1))
    repo.commit("suspend vandelay, stack edited by hand")
    fast, slow = _both_ways(repo, run, monkeypatch)
    assert fast == slow
    assert taken[:2] == [False, False]


def test_without_a_compile_record_of_the_head_the_full_plan_runs(repo, run, monkeypatch, taken) -> None:
    from paybill.store import cache_dir, key

    _compile_and_commit(repo, run, "generated/")
    repo.edit(VANDELAY, "lifecycle: active", "lifecycle: suspended")
    _compile_and_commit(repo, run, "suspend vandelay")
    inputs = json.loads(repo.read("generated/manifest.json"))["inputs"]
    (repo.root / cache_dir() / key(record.NAMESPACE, record.inputs_digest(inputs))).unlink()
    fast, slow = _both_ways(repo, run, monkeypatch)
    assert fast == slow
    assert taken[:2] == [False, False]


def _base_record(repo) -> tuple[object, dict[str, str], record.CompileRecord]:
    """The cache folder, the base commit's manifest inputs and its compile record."""
    from paybill.store import cache_dir

    folder = repo.root / cache_dir()
    inputs = json.loads(repo.git("show", "HEAD~1:generated/manifest.json"))["inputs"]
    found = record.load_record(folder, inputs)
    assert found is not None
    return folder, inputs, found


def test_a_record_whose_blob_ids_are_not_the_committed_files_falls_back_to_the_full_plan(
        repo, run, monkeypatch, taken) -> None:
    """The base's spec files are matched to its record by git blob id, not read: a record naming
    another blob for one file (forged, or compiled from other bytes) proves nothing."""
    _compile_and_commit(repo, run, "generated/")
    repo.edit(VANDELAY, "lifecycle: active", "lifecycle: suspended")
    _compile_and_commit(repo, run, "suspend vandelay")
    folder, inputs, found = _base_record(repo)
    forged = dict(found.blob_ids)
    forged[HOOLI] = git_blob_id((repo.read(HOOLI) + "# not committed\n").encode())
    assert record.save_record(folder, inputs, found.manifest_sha256, found.diagnostics, forged)
    fast, slow = _both_ways(repo, run, monkeypatch)
    assert fast == slow
    assert taken[:2] == [False, False]
    assert record.save_record(folder, inputs, found.manifest_sha256, found.diagnostics, None)  # no blob ids
    fast, slow = _both_ways(repo, run, monkeypatch)
    assert fast == slow
    assert taken[2:4] == [False, False]
    assert record.save_record(folder, inputs, found.manifest_sha256, found.diagnostics, found.blob_ids)
    fast, slow = _both_ways(repo, run, monkeypatch)
    assert fast == slow
    assert taken[4:6] == [True, True]  # the genuine record again: the committed trees


def test_a_base_commit_whose_spec_was_edited_after_its_compile_falls_back_to_the_full_plan(
        repo, run, monkeypatch, taken) -> None:
    """The base commit's manifest and record are genuine, but a spec file it commits is not the one they
    were compiled from (edited after the compile, the manifest left alone): its blob id differs."""
    run(repo.root, "compile", "specs")
    repo.edit(HOOLI, "plan: starter", "plan: growth")
    repo.commit("generated/ of hooli on starter, hooli on growth")
    repo.edit(VANDELAY, "lifecycle: active", "lifecycle: suspended")
    _compile_and_commit(repo, run, "suspend vandelay")
    with_cache = run(repo.root, *PLAN, "--format", "json")
    monkeypatch.setenv("PAYBILL_CACHE_DIR", "off")
    assert run(repo.root, *PLAN, "--format", "json") == with_cache
    assert taken[0] is False
    assert json.loads(with_cache[1])["terraform"]["base"].startswith("base: compiled")


def test_the_parsed_files_summary_is_what_the_plan_reads_and_the_full_entry_stands_in_for_it(
        repo, run, monkeypatch, taken) -> None:
    """A plan from commits reads the summary of the parsed files (each tenant's plan, billing status and
    lifecycle; other files' documents), not the full entry; a cache folder without one still works."""
    import os

    from paybill.load.cache import LoadCache, LoadSummary, summary_name, tenant_share
    from paybill.store import cache_dir, key

    _compile_and_commit(repo, run, "generated/")
    repo.edit(VANDELAY, "lifecycle: active", "lifecycle: suspended")
    _compile_and_commit(repo, run, "suspend vandelay")
    folder, root = repo.root / cache_dir(), repo.root / "specs"
    full, summary = LoadCache(folder, root), LoadSummary(folder, root)
    assert summary.found and summary.displays() == full.displays()
    for display in sorted(full.displays()):
        digest = full._old[display][3]
        assert summary.shares_of(display, digest) == full.shares_of(display, digest)
        plain = full.plain_of(display, digest) or []
        if all(kind == "Tenant" and tenant_share(data) for _, data, kind, _ in plain):
            assert summary.shares_of(display, digest) == [(name, tenant_share(data)) for _, data, _, name in plain]
        else:
            assert summary.shares_of(display, digest) is None
            raw = repo.path(display).read_bytes()
            assert [(d.index, d.data, d.kind, d.name, d.blob_id) for d in summary.documents_of(display, raw)] == \
                [(d.index, d.data, d.kind, d.name, d.blob_id) for d in full.documents_of(display, raw)]
    fast, slow = _both_ways(repo, run, monkeypatch)
    assert fast == slow
    os.remove(folder / summary_name(key("load", os.path.abspath(root))))
    assert not LoadSummary(folder, root).found
    assert (fast, slow) == _both_ways(repo, run, monkeypatch)
    assert taken[:4] == [True, True, True, True]


def test_the_manifests_are_read_from_their_index_and_a_damaged_or_missing_index_reads_them_from_git(
        repo, run, monkeypatch, taken) -> None:
    """Each compile that leaves a record also keeps what a plan reads of its manifest, named by the
    manifest's git blob id (:mod:`paybill.changes.manifest_index`): the plan then reads no manifest from
    git. A damaged, missing or forged index entry is not used: the manifests are read from git, the plan
    still comes from the committed trees, and the report is the same."""
    import hashlib

    from paybill.changes import manifest_index
    from paybill.gitio.repo import GitRepo
    from paybill.store import cache_dir, key

    _compile_and_commit(repo, run, "generated/")
    repo.edit(VANDELAY, "lifecycle: active", "lifecycle: suspended")
    _compile_and_commit(repo, run, "suspend vandelay")
    folder = repo.root / cache_dir()
    blobs = [repo.git("rev-parse", f"{rev}:generated/manifest.json").strip() for rev in ("HEAD~1", "HEAD")]
    for rev, blob in zip(("HEAD~1", "HEAD"), blobs, strict=True):
        raw = repo.git("show", f"{rev}:generated/manifest.json").encode()
        found = manifest_index.load_manifest_index(folder, blob)
        assert found is not None
        assert found == (hashlib.sha256(raw).hexdigest(), manifest_index.plan_view(json.loads(raw)))
    names: list[str] = []
    read_blobs = GitRepo.read_blobs

    def spy(self, wanted):
        wanted = list(wanted)
        names.extend(wanted)
        return read_blobs(self, wanted)

    monkeypatch.setattr(GitRepo, "read_blobs", spy)
    reports = [_both_ways(repo, run, monkeypatch)]
    assert not any(name.endswith("manifest.json") for name in names)
    entry = folder / key(manifest_index.NAMESPACE, blobs[0])
    entry.write_bytes(entry.read_bytes()[:-1] + b"?")  # damaged: its digest no longer matches
    names.clear()
    reports.append(_both_ways(repo, run, monkeypatch))
    assert any(name.endswith("manifest.json") for name in names)
    entry.unlink()
    reports.append(_both_ways(repo, run, monkeypatch))
    # forged: the head's facts under the base's blob id (the base's record then names another manifest)
    head_entry = manifest_index.load_manifest_index(folder, blobs[1])
    assert head_entry is not None
    head_raw = repo.git("show", "HEAD:generated/manifest.json").encode()
    assert manifest_index.save_manifest_index(folder, head_raw)
    entry.write_bytes((folder / key(manifest_index.NAMESPACE, blobs[1])).read_bytes())
    reports.append(_both_ways(repo, run, monkeypatch))
    assert reports[1:] == reports[:1] * 3
    assert reports[0][0] == reports[0][1]
    assert taken[:6] == [True] * 6 and taken[6:] == [False, False]  # the forged base index: the full plan


def test_a_manifest_too_large_to_parse_at_the_compiles_peak_gets_no_index_and_plans_the_same(
        repo, run, monkeypatch, taken) -> None:
    """Parsing a manifest for its index costs ~3x its size at the compile's memory peak (~220 MB at
    100,000 tenants): beyond ``MAX_INDEXED_BYTES`` no index is kept, the plan reads both manifests
    from git, still from the committed trees, and reports the same."""
    from paybill.changes import manifest_index
    from paybill.store import cache_dir, key

    monkeypatch.setattr(manifest_index, "MAX_INDEXED_BYTES", 1000)
    _compile_and_commit(repo, run, "generated/")
    repo.edit(VANDELAY, "lifecycle: active", "lifecycle: suspended")
    _compile_and_commit(repo, run, "suspend vandelay")
    folder = repo.root / cache_dir()
    blobs = [repo.git("rev-parse", f"{rev}:generated/manifest.json").strip() for rev in ("HEAD~1", "HEAD")]
    assert not [blob for blob in blobs if (folder / key(manifest_index.NAMESPACE, blob)).exists()]
    fast, slow = _both_ways(repo, run, monkeypatch)
    assert fast == slow
    assert taken[:2] == [True, True]  # json and markdown, both from the committed trees


def test_a_record_is_left_by_a_compile_and_by_a_fresh_compile_check_only(repo, run) -> None:
    import hashlib

    from paybill.store import cache_dir

    assert run(repo.root, "compile", "specs", "--check")[0] != 0  # no generated/ yet: stale, no record
    folder = repo.root / cache_dir()
    inputs = {rel: "sha256:" + hashlib.sha256(repo.path(rel).read_bytes()).hexdigest()
              for rel in repo.git("ls-files", "specs").split()}
    assert record.load_record(folder, inputs) is None
    assert run(repo.root, "compile", "specs")[0] == 0
    found = record.load_record(folder, inputs)
    assert found is not None
    assert found.manifest_sha256 == hashlib.sha256(repo.path("generated/manifest.json").read_bytes()).hexdigest()
    assert found.blob_ids == {rel: repo.git("hash-object", rel).strip() for rel in inputs}  # what git calls them
    for entry in folder.iterdir():
        if entry.is_file() and entry.name != ".gitignore":
            entry.unlink()
    assert record.load_record(folder, inputs) is None
    assert run(repo.root, "compile", "specs", "--check")[0] == 0
    assert record.load_record(folder, inputs) == found


TENANT_FILES = (ACME, HOOLI, VANDELAY, "specs/tenants/nakatomi.yaml")
EDIT_VALUES = {
    r"plan: [a-z]+": ("plan: free", "plan: starter", "plan: growth", "plan: enterprise"),
    r"lifecycle: [a-z]+": ("lifecycle: onboarding", "lifecycle: active", "lifecycle: suspended",
                           "lifecycle: offboarding"),
    r"status: [a-z_]+": ("status: trialing", "status: active", "status: past_due", "status: cancelled"),
    r"displayName: ": ("displayName: Renamed ",),
    # labels: patched by the delta compile when no agent scope moves (support-tier selects support-assistant's)
    r"segment: [a-z-]+": ("segment: smb", "segment: enterprise", "segment: strategic"),
    r"support-tier: [a-z]+": ("support-tier: premium", "support-tier: standard"),
    r"remove": ("",),
}


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(TENANT_FILES), st.sampled_from(sorted(EDIT_VALUES)),
                          st.integers(min_value=0, max_value=3)), min_size=1, max_size=3))
@example([(ACME, r"segment: [a-z-]+", 2), ("specs/tenants/nakatomi.yaml", r"segment: [a-z-]+", 0)])  # labels
def test_random_small_tenant_edits_plan_the_same_both_ways(tmp_path_factory, run, monkeypatch, edits) -> None:
    import re

    from .conftest import SpecRepo

    repo = SpecRepo(tmp_path_factory.mktemp("platform")).seed()
    repo.commit("Initial specs")
    _compile_and_commit(repo, run, "generated/")
    for path, pattern, choice in edits:
        if not repo.path(path).exists():
            continue
        if pattern == "remove":
            repo.remove(path)
            continue
        values = EDIT_VALUES[pattern]
        repo.write(path, re.sub(pattern, values[choice % len(values)], repo.read(path), count=1))
    assume(run(repo.root, "compile", "specs")[0] == 0)  # CI lets no pull request through that does not compile
    assume(repo.git("status", "--porcelain").strip() != "")  # an edit that set a value to itself: no commit
    repo.commit("edits")
    seen: list[bool] = []

    def spy(*args, **kwargs):
        report = PLAN_FROM_COMMITS(*args, **kwargs)
        seen.append(report is not None)
        return report

    monkeypatch.setattr(committed, "plan_from_commits", spy)
    fast, slow = _both_ways(repo, run, monkeypatch)
    assert fast == slow
    changed = repo.git("diff", "--name-only", "HEAD~1", "HEAD", "--", "specs").split()
    assert seen[:2] == [bool(changed)] * 2
