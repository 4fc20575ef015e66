"""``paybill plan`` reuses what it can (issue 14) and says exactly what it says without reusing anything.

A plan with the base commit's committed ``generated/`` and the cache folder its compile left parses
no file that compile parsed (:meth:`paybill.load.cache.LoadCache.documents_of`), validates each
shared document's schema once for both sides, reads from git only the committed files whose bytes
the head's compile does not already hold, and builds stack units only for the pools whose stacks
changed. None of that may change the report: every scenario is planned both ways and compared.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from paybill.diagnostics import DiagnosticSink
from paybill.gitio import snapshot
from paybill.gitio.repo import GitRepo
from paybill.load import load_source
from paybill.load.cache import LoadCache
from paybill.store import cache_dir
from paybill.validate import validate_documents

from .scenarios import SCENARIOS, VANDELAY

PLAN = ("plan", "specs", "--base", "HEAD~1", "--head", "HEAD", "--format", "json")


def _compiled_base(repo, run) -> None:
    """The base commit with its compiled generated/ committed, and the cache folder that compile left."""
    code, out, err = run(repo.root, "compile", "specs")
    assert code == 0, out + err
    repo.commit("generated/")


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_a_plan_that_reuses_the_cache_and_the_committed_tree_says_what_a_plan_from_scratch_says(
        name, repo, run, monkeypatch) -> None:
    _compiled_base(repo, run)
    SCENARIOS[name](repo)
    repo.commit(f"scenario: {name}")
    assert (repo.root / ".paybill" / "cache").is_dir()
    code, fast, _ = run(repo.root, *PLAN)
    monkeypatch.setenv("PAYBILL_CACHE_DIR", "off")
    slow_code, slow, _ = run(repo.root, *PLAN, "--compile-base")
    fast_report, slow_report = json.loads(fast), json.loads(slow)
    assert fast_report["terraform"].pop("base") == "base: committed generated/ of the base commit (fresh)"
    assert slow_report["terraform"].pop("base") == "base: compiled"
    assert fast_report == slow_report
    assert code == slow_code


def test_the_base_side_is_not_parsed_again_and_unchanged_committed_files_are_not_read(repo, run, monkeypatch) -> None:
    _compiled_base(repo, run)
    repo.edit(VANDELAY, "lifecycle: active", "lifecycle: suspended")
    repo.commit("suspend vandelay")
    reused: list[str] = []
    documents_of = LoadCache.documents_of

    def spy(self, display: str, raw: bytes):
        found = documents_of(self, display, raw)
        if found is not None:
            reused.append(display)
        return found

    read: list[str] = []
    read_blobs = GitRepo.read_blobs

    def count(self, blobs):
        blobs = list(blobs)
        read.extend(blobs)
        return read_blobs(self, blobs)

    rules: list[bool] = []

    def validate(*args, **kwargs):
        rules.append(kwargs.get("rules", True))
        return validate_documents(*args, **kwargs)

    monkeypatch.setattr(LoadCache, "documents_of", spy)
    monkeypatch.setattr(GitRepo, "read_blobs", count)
    monkeypatch.setattr(snapshot, "validate_documents", validate)
    code, out, err = run(repo.root, *PLAN)
    assert code == 0, err
    report = json.loads(out)
    assert [s["address"] for s in report["terraform"]["stacks"]] == ["tenant/vandelay"]
    spec_files = repo.git("ls-tree", "-r", "--name-only", "HEAD", "specs").split()
    # every base file once (shared with the head where unchanged); vandelay's head bytes are parsed
    assert sorted(reused) == sorted(spec_files)
    # the base side is exactly what the compile that saved the cache validated: its rules are not run
    assert rules == [False, True]
    committed: dict[str, str] = {}
    for line in repo.git("ls-tree", "-r", "HEAD~1", "generated/terraform").splitlines():
        meta, path = line.split("\t")
        committed[path] = meta.split()[2]
    stacks_read = [path for path, blob in committed.items() if blob in read]
    # spec blobs, the manifest, and of the committed stacks only the one whose bytes the head changes
    assert stacks_read == ["generated/terraform/tenant/vandelay/main.tf.json"]


def test_the_base_rules_run_unless_the_base_is_exactly_what_a_successful_compile_validated(
        repo, run, monkeypatch) -> None:
    _compiled_base(repo, run)
    repo.edit(VANDELAY, "lifecycle: active", "lifecycle: suspended")
    repo.commit("suspend vandelay")
    code, out, err = run(repo.root, "compile", "specs")  # the cache now holds the head's files
    assert code == 0, out + err
    rules: list[bool] = []

    def validate(*args, **kwargs):
        rules.append(kwargs.get("rules", True))
        return validate_documents(*args, **kwargs)

    monkeypatch.setattr(snapshot, "validate_documents", validate)
    assert run(repo.root, *PLAN)[0] == 0
    assert rules == [True, True]  # a head-side cache proves nothing about the base: both validated


def test_only_a_compile_that_succeeds_saves_the_parsed_files(repo, run) -> None:
    """What :meth:`LoadCache.displays` promises, and plan's base side relies on to skip its rules."""
    repo.edit(VANDELAY, "plan: free", "plan: nonexistent")  # PB0302: an unknown plan
    assert run(repo.root, "compile", "specs")[0] != 0
    assert LoadCache(repo.root / cache_dir(), repo.root / "specs").displays() == frozenset()
    repo.edit(VANDELAY, "plan: nonexistent", "plan: free")
    assert run(repo.root, "compile", "specs")[0] == 0
    spec_files = repo.git("ls-files", "specs").split()
    assert LoadCache(repo.root / cache_dir(), repo.root / "specs").displays() == frozenset(spec_files)


def test_a_cached_parse_is_used_only_for_the_very_bytes_it_was_made_from(repo, run) -> None:
    _compiled_base(repo, run)
    cache = LoadCache(repo.root / cache_dir(), repo.root / "specs")
    raw = repo.path(VANDELAY).read_bytes()
    documents = cache.documents_of(VANDELAY, raw)
    assert documents is not None
    parsed = load_source(raw, VANDELAY, DiagnosticSink())
    assert [(d.path, d.index, d.data, d.kind, d.name, d.text_hash) for d in documents] == \
        [(d.path, d.index, d.data, d.kind, d.name, d.text_hash) for d in parsed]
    assert documents[0].position("spec", "lifecycle") == parsed[0].position("spec", "lifecycle")
    assert cache.documents_of(VANDELAY, raw.replace(b"lifecycle: active", b"lifecycle: suspended")) is None
    assert cache.documents_of("specs/tenants/nobody.yaml", raw) is None


def test_models_are_reused_only_when_asked(tmp_path: Path) -> None:
    raw = Path(__file__).resolve().parents[2].joinpath("specs", "tenants").glob("*.yaml")
    documents = [d for path in sorted(raw)[:3] for d in load_source(path.read_bytes(), path.name, DiagnosticSink())]
    validate_documents(documents, DiagnosticSink())
    first = [d.model for d in documents]
    validate_documents(documents, DiagnosticSink(), reuse_models=True)
    assert all(d.model is model for d, model in zip(documents, first, strict=True))
    validate_documents(documents, DiagnosticSink())
    assert all(d.model is not model and d.model == model for d, model in zip(documents, first, strict=True))
