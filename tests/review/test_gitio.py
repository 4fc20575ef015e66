"""Reading specs from git objects: commits, the work tree, blob caching, symlinks."""

from __future__ import annotations

import os
import subprocess

from paybill.gitio import BlobCache, GitRepo, TreeSide, WorkTreeSide, load_snapshot
from paybill.gitio.snapshot import SpecsLocation
from paybill.gitio.sources import blob_hash

WHERE = SpecsLocation("specs", "specs")


def test_blob_hash_is_gits(repo) -> None:
    data = repo.path("specs/tenants/hooli.yaml").read_bytes()
    expected = subprocess.run(["git", "hash-object", "specs/tenants/hooli.yaml"], cwd=repo.root, text=True,
                              capture_output=True, check=True).stdout.strip()
    assert blob_hash(data) == expected


def test_commit_side_ignores_the_work_tree_and_work_tree_side_sees_everything(repo) -> None:
    repo.edit("specs/tenants/hooli.yaml", "plan: starter", "plan: growth")
    repo.write("specs/tenants/new-one.yaml", repo.read("specs/tenants/vandelay.yaml").replace("vandelay", "new-one"))
    git = GitRepo(repo.root)
    cache = BlobCache()
    committed = load_snapshot(TreeSide(git, git.resolve("HEAD")), WHERE, cache)
    work = load_snapshot(WorkTreeSide(git), WHERE, cache)
    assert committed.index.model("Tenant", "hooli").spec.plan == "starter"
    assert committed.index.get("Tenant", "new-one") is None
    assert work.index.model("Tenant", "hooli").spec.plan == "growth"
    assert work.index.get("Tenant", "new-one") is not None
    # Unchanged files are parsed once and shared between the sides: same document objects.
    assert committed.index.get("Tenant", "acme-corp") is work.index.get("Tenant", "acme-corp")
    assert cache.misses == len(committed.files) + 2


def test_many_blobs_in_one_batch(repo) -> None:
    git = GitRepo(repo.root)
    entries = git.ls_tree(git.resolve("HEAD"), "specs")
    contents = git.read_blobs(e.blob for e in entries)
    assert len(contents) == len({e.blob for e in entries}) >= 15
    for entry in entries:
        assert contents[entry.blob] == repo.path(entry.path).read_bytes()


def test_symlink_escaping_the_specs_root_in_a_commit_is_reported_not_read(repo, tmp_path) -> None:
    secret = tmp_path / "secret.yaml"
    secret.write_text("kind: Tenant\n")
    os.symlink(secret, repo.path("specs/tenants/evil.yaml"))
    os.symlink("hooli.yaml", repo.path("specs/tenants/alias.yaml"))
    repo.commit("links")
    git = GitRepo(repo.root)
    snap = load_snapshot(TreeSide(git, git.resolve("HEAD")), WHERE, BlobCache())
    codes = {(d.code, d.path) for d in snap.diagnostics}
    assert ("PB0112", "specs/tenants/evil.yaml") in codes
    # A link inside the root is read (and its document is then a duplicate of hooli).
    assert ("PB0301", "specs/tenants/hooli.yaml") in codes  # alias.yaml (read first) defines hooli too


def test_unknown_ref_and_outside_a_repository_are_usage_errors(repo, run, tmp_path) -> None:
    code, _, err = run(repo.root, "plan", "specs", "--base", "no-such-branch")
    assert code == 2 and "unknown git revision 'no-such-branch'" in err
    outside = tmp_path / "outside"
    (outside / "specs").mkdir(parents=True)
    code, _, err = run(outside, "plan", "specs")
    assert code == 2 and "is not inside a git repository" in err


def test_first_commit_plans_against_an_empty_repository(tmp_path, run) -> None:
    from .conftest import SpecRepo

    fresh = SpecRepo(tmp_path / "fresh").seed()
    code, out, _ = run(fresh.root, "plan", "specs", "--no-terraform")
    assert code == 0, out
    assert "paybill plan: empty repository -> work tree" in out
    assert "+ Tenant/acme-corp" in out
