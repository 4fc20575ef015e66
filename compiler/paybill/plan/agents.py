"""Change control in review: commits an agent authored must pass the rules ``propose`` enforces.

``paybill propose`` refuses what the rules forbid, but an agent with push access could create a
branch by other means. ``paybill plan`` (which CI runs on every pull request) therefore looks at the
commits between base and head: each commit with a ``Paybill-Agent:`` trailer is checked field by
field against that agent's spec and the Cedar policies *of the base side* (a pull request cannot
loosen the rules it is judged by). A denial is an error finding, so the pull request fails.

An agent proposes spec changes, nothing else: ``paybill propose`` and ``paybill billing`` commit spec
files and the recompiled ``generated/``, as regular files. Any other file an agent-authored commit
touches is an error too, whatever it holds: the change-control policies (which judge the next pull
request), the workflows (which run the check), a symlink or submodule (whose content the
field-by-field check would not see), a file the loader does not read, an executable bit. So is an
agent-authored merge commit, whose changes are not checked one by one.
"""

from __future__ import annotations

from paybill.changes.committed import generated_prefix
from paybill.changes.control import check_changes
from paybill.changes.history import CommitInfo, FileChange, documents_at, loaded_spec_file, walk_history
from paybill.changes.model import Finding
from paybill.changes.policies import ChangeControl
from paybill.changes.specdiff import diff_documents
from paybill.changes.trailers import (
    AGENT_BRANCHES,
    AGENT_TRAILER,
    REVIEW_TRAILER,
    VIA_TRAILER,
    branch_agent,
    parse_trailers,
    trailer_values,
)
from paybill.diagnostics import Position
from paybill.diagnostics.text import printable
from paybill.gitio.blobcache import BlobCache
from paybill.gitio.repo import GitRepo
from paybill.gitio.snapshot import Snapshot, SpecsLocation
from paybill.gitio.sources import under

CODE_AGENT_COMMIT = "PB0978"
CODE_AGENT_CHECKED = "PB0984"
REGULAR = "100644"
ABSENT = "000000"
_MODES = {"120000": "a symlink", "160000": "a submodule", "100755": "an executable file"}


def agent_commits(repo: GitRepo, base_commit: str, head_commit: str, where: SpecsLocation,
                  every: bool = False) -> list[CommitInfo]:
    """The commits between base and head that carry a ``Paybill-Agent:`` trailer (``every``: all of
    them, for an agent's branch), merges included, with every file they changed (not only the specs:
    what else an agent touched is checked too)."""
    return [c for c in walk_history(repo, "", rev=f"{base_commit}..{head_commit}", merges=True)
            if every or trailer_values(parse_trailers(c.message), AGENT_TRAILER)]


def _subject(commit: CommitInfo) -> str:
    return commit.message.strip().splitlines()[0] if commit.message.strip() else ""


def _not_a_proposal(file: FileChange, where: SpecsLocation, policies_prefix: str | None) -> str | None:
    """Why an agent-authored commit may not change ``file``, or None when a proposal may."""
    modes = {file.old_mode, file.new_mode} - {REGULAR, ABSENT}
    if modes:
        return f"it is {_MODES.get(min(modes), f'a file of mode {min(modes)}')}, not a regular file"
    if policies_prefix is not None and under(file.path, policies_prefix):
        return "it is a change-control policy: the rules agents are judged by are changed by people"
    if under(file.path, generated_prefix(where.prefix)):
        return None  # the recompiled output (`paybill compile --check` proves it is the specs' output)
    if not under(file.path, where.prefix):
        return (f"it is outside the specs root ({where.prefix or '.'}/) and the compiled output: workflows, "
                "policies and other files are changed by people")
    if not loaded_spec_file(file.path, where.prefix):
        return "the loader does not read it as a spec (a hidden path, or not .yaml/.yml), so no field of it is checked"
    return None


def _shape_findings(commit: CommitInfo, where: SpecsLocation, policies_prefix: str | None) -> list[Finding]:
    """PB0978 for what an agent-authored commit may not be, or touch, whatever the fields say."""
    label = f"commit {commit.sha[:12]}"
    title = f"agent-authored commit '{_subject(commit)}'"
    if len(commit.parents) > 1:
        return [Finding(CODE_AGENT_COMMIT, "error", "change-control", label,
                        f"{title} is a merge: change control checks an agent's own commits one by one, and what a "
                        "merge brings in is not",
                        hint="rebase the branch onto its base instead of merging (paybill propose makes one commit)")]
    findings = []
    for file in commit.files:  # (a merge has returned above: its files are not all its own)
        why = _not_a_proposal(file, where, policies_prefix)
        if why is not None:
            findings.append(Finding(
                CODE_AGENT_COMMIT, "error", "change-control", label,
                f"{title} changes '{printable(file.path)}', which an agent may not: {why}",
                printable(file.path),  # a path git holds as bytes that are not UTF-8 is shown escaped too
                hint="an agent proposes spec fields only (paybill propose); a person makes this change in a "
                     "pull request of their own"))
    return findings


def agent_commit_findings(repo: GitRepo, base_commit: str, head_commit: str, where: SpecsLocation,
                          cache: BlobCache, base: Snapshot, head: Snapshot,
                          control: ChangeControl | None, policies_prefix: str | None = None,
                          head_ref: str | None = None) -> list[Finding]:
    """PB0978 for every agent-authored commit that breaks change control. ``head_ref``: the pull
    request's branch; on an agent's branch (``paybill/<agent>/<slug>``) every commit is that agent's,
    whether it carries the trailer or not (a trailer is what a commit declares; the branch is where
    the agent's credential may push), and a trailer naming another agent is refused."""
    owner = branch_agent(head_ref)
    commits = agent_commits(repo, base_commit, head_commit, where, every=owner is not None)
    if not commits:
        return []
    findings: list[Finding] = []
    if owner == "":
        return [Finding(CODE_AGENT_COMMIT, "error", "change-control", f"branch {printable(head_ref or '')}",
                        f"branch '{printable(head_ref or '')}' is in the namespace agents push to ({AGENT_BRANCHES}) "
                        "but names no agent", hint="agents' branches are paybill/<agent>/<slug> (paybill propose)")]
    if control is None or not control.ok:
        first = commits[0]
        return [Finding(CODE_AGENT_COMMIT, "error", "change-control", f"commit {first.sha[:12]}",
                        f"{len(commits)} agent-authored commit(s) but no valid change-control policies on the base "
                        "side to check them against", hint="add policies/ (paybill init scaffolds it)")]

    def spec_files(commit: CommitInfo) -> list[FileChange]:
        return [f for f in commit.files if loaded_spec_file(f.path, where.prefix)
                and {f.old_mode, f.new_mode} <= {REGULAR, ABSENT}]

    needed = {blob for c in commits for f in spec_files(c)
              for blob, path in ((f.old, f.path), (f.new, f.path)) if blob and (blob, where.display(path)) not in cache}
    contents = repo.read_blobs(needed)
    tally: dict[str, list[int]] = {}  # agent -> [commits, field changes allowed, refusals]
    for commit in commits:
        refusals = len(findings)
        findings += _shape_findings(commit, where, policies_prefix)
        for agent in [owner] if owner is not None else trailer_values(parse_trailers(commit.message), AGENT_TRAILER):
            tally.setdefault(agent, [0, 0, 0])[0] += 1
        if len(commit.parents) > 1:
            continue  # refused as a merge: its fields would mix in what the other parents changed
        specs = spec_files(commit)
        before = documents_at([(f.path, f.old) for f in specs if f.old], where, cache, contents)
        after = documents_at([(f.path, f.new) for f in specs if f.new], where, cache, contents)
        changes = diff_documents(before, after)
        trailers = parse_trailers(commit.message)
        declared = trailer_values(trailers, AGENT_TRAILER)
        if owner is not None and any(agent != owner for agent in declared):
            findings.append(Finding(
                CODE_AGENT_COMMIT, "error", "change-control", f"commit {commit.sha[:12]}",
                f"commit '{_subject(commit)}' on branch '{printable(head_ref or '')}' of agent '{owner}' declares "
                f"Paybill-Agent: {', '.join(printable(a) for a in declared)}",
                hint="an agent's branch carries that agent's commits only; it is judged as that agent"))
        for agent in [owner] if owner is not None else declared:
            where_ = f"commit {commit.sha[:12]}"
            decisions = check_changes(agent, changes, base.index, head.index, control, where=where_,
                                      context=_origin(trailers))
            tally[agent][1] += sum(1 for decision in decisions if decision.allowed)
            for decision in decisions:
                if decision.allowed or decision.diagnostic is None:
                    continue
                d = decision.diagnostic
                if owner is not None and not declared:  # a person's commit, maybe, on the agent's branch
                    title = (f"commit '{_subject(commit)}' on agent '{owner}''s branch '{printable(head_ref or '')}' "
                             "(every commit there is judged as the agent's)")
                    hint = (f"{d.hint}; a person's change goes on a branch of their own (outside {AGENT_BRANCHES}), "
                            "which may start from the agent's" if d.hint else None)
                else:
                    title, hint = f"agent-authored commit '{_subject(commit)}'", d.hint
                findings.append(Finding(
                    CODE_AGENT_COMMIT, "error", "change-control", f"commit {commit.sha[:12]}",
                    f"{title} breaks change control: {d.message}", d.path, d.position, hint))
        for agent in [owner] if owner is not None else trailer_values(parse_trailers(commit.message), AGENT_TRAILER):
            tally[agent][2] += len(findings) - refusals
    return findings + [_checked(agent, counts, owner is not None, base) for agent, counts in sorted(tally.items())]


def _checked(agent: str, counts: list[int], by_branch: bool, base: Snapshot) -> Finding:
    """PB0984: the reviewer sees that change control ran on the agent's commits, and what it found
    (``counts``: commits, field changes allowed, refusals), at the agent's spec on the base side."""
    commits, allowed, refused = counts
    doc = base.index.get("Agent", agent)
    how = "on its branch" if by_branch else "declaring Paybill-Agent"
    verdict = f"{refused} refusal{'s' if refused != 1 else ''} (PB0978)" if refused else "nothing refused"
    return Finding(CODE_AGENT_CHECKED, "notice", "change-control", f"Agent/{agent}",
                   f"{commits} commit{'s' if commits != 1 else ''} of agent '{printable(agent)}' ({how}) checked "
                   f"against the base side's change control: {allowed} field change{'s' if allowed != 1 else ''} "
                   f"allowed, {verdict}", doc.path if doc else "",
                   doc.position("metadata", "name") if doc else Position())


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
