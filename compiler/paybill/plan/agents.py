"""Change control in review: commits an agent authored must pass the rules ``propose`` enforces.

``paybill propose`` refuses what the rules forbid, but an agent with push access could create a
branch by other means. ``paybill plan`` (which CI runs on every pull request) therefore looks at the
commits between base and head: each commit with a ``Paybill-Agent:`` trailer is checked field by
field against that agent's spec and the Cedar policies *of the base side* (a pull request cannot
loosen the rules it is judged by). A denial is an error finding, so the pull request fails.
"""

from __future__ import annotations

from paybill.changes.control import check_changes
from paybill.changes.history import SPEC_SUFFIXES, CommitInfo, documents_at, walk_history
from paybill.changes.model import Finding
from paybill.changes.policies import ChangeControl
from paybill.changes.specdiff import diff_documents
from paybill.changes.trailers import AGENT_TRAILER, REVIEW_TRAILER, VIA_TRAILER, parse_trailers, trailer_values
from paybill.gitio.blobcache import BlobCache
from paybill.gitio.repo import GitRepo
from paybill.gitio.snapshot import Snapshot, SpecsLocation

CODE_AGENT_COMMIT = "PB0978"


def agent_commits(repo: GitRepo, base_commit: str, head_commit: str, where: SpecsLocation) -> list[CommitInfo]:
    """The commits between base and head that touch the specs and carry a ``Paybill-Agent:`` trailer."""
    return [c for c in walk_history(repo, where.prefix, rev=f"{base_commit}..{head_commit}")
            if trailer_values(parse_trailers(c.message), AGENT_TRAILER)]


def agent_commit_findings(repo: GitRepo, base_commit: str, head_commit: str, where: SpecsLocation,
                          cache: BlobCache, base: Snapshot, head: Snapshot,
                          control: ChangeControl | None) -> list[Finding]:
    commits = agent_commits(repo, base_commit, head_commit, where)
    if not commits:
        return []
    findings: list[Finding] = []
    if control is None or not control.ok:
        first = commits[0]
        return [Finding(CODE_AGENT_COMMIT, "error", "change-control", f"commit {first.sha[:12]}",
                        f"{len(commits)} agent-authored commit(s) but no valid change-control policies on the base "
                        "side to check them against", hint="add policies/ (paybill init scaffolds it)")]
    needed = {blob for c in commits for f in c.files if f.path.endswith(SPEC_SUFFIXES)
              for blob, path in ((f.old, f.path), (f.new, f.path)) if blob and (blob, where.display(path)) not in cache}
    contents = repo.read_blobs(needed)
    for commit in commits:
        specs = [f for f in commit.files if f.path.endswith(SPEC_SUFFIXES)]
        before = documents_at([(f.path, f.old) for f in specs if f.old], where, cache, contents)
        after = documents_at([(f.path, f.new) for f in specs if f.new], where, cache, contents)
        changes = diff_documents(before, after)
        trailers = parse_trailers(commit.message)
        for agent in trailer_values(trailers, AGENT_TRAILER):
            where_ = f"commit {commit.sha[:12]}"
            decisions = check_changes(agent, changes, base.index, head.index, control, where=where_,
                                      context=_origin(trailers))
            for decision in decisions:
                if decision.allowed or decision.diagnostic is None:
                    continue
                d = decision.diagnostic
                findings.append(Finding(
                    CODE_AGENT_COMMIT, "error", "change-control", f"commit {commit.sha[:12]}",
                    f"agent-authored commit '{commit.message.strip().splitlines()[0]}' breaks change control: "
                    f"{d.message}", d.path, d.position, d.hint))
    return findings


def _origin(trailers: list[tuple[str, str]]) -> dict[str, str]:
    """``via``/``review`` from the commit's trailers, as ``paybill billing`` passed them to change control
    when it made the commit. The trailer is as trustworthy as ``Paybill-Agent`` itself: whoever can push
    a branch can write either, which is why the policies of the *base* side still judge every field."""
    context: dict[str, str] = {}
    for key, trailer in (("via", VIA_TRAILER), ("review", REVIEW_TRAILER)):
        values = trailer_values(trailers, trailer)
        if values:
            context[key] = values[0]
    return context
