"""One audit record per commit: who, when, why (trailers), and what changed semantically."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from paybill.audit.events import TenantEvent, tenant_events
from paybill.changes.history import (
    SPEC_SUFFIXES,
    CommitInfo,
    FileChange,
    documents_at,
    loaded_spec_file,
    walk_history,
)
from paybill.changes.lifecycle import CODE_NEW, check_transition
from paybill.changes.model import Finding, SpecChange
from paybill.changes.specdiff import diff_documents
from paybill.changes.trailers import parse_trailers, subject
from paybill.gitio.blobcache import BlobCache
from paybill.gitio.repo import GitRepo
from paybill.gitio.snapshot import SpecsLocation
from paybill.load import SpecDocument

BATCH = 2_000
"""Blobs read per ``cat-file --batch`` call: bounds memory on very long histories."""


@dataclass(frozen=True, slots=True)
class AuditFilter:
    since: str | None = None
    until: str | None = None
    author: str | None = None
    tenant: str | None = None
    kind: str | None = None
    agent: str | None = None


@dataclass
class AuditRecord:
    sha: str
    parents: tuple[str, ...]
    author: tuple[str, str]
    committer: tuple[str, str]
    date: str
    committed: str
    subject: str
    trailers: list[tuple[str, str]]
    changes: list[SpecChange] = field(default_factory=list)
    events: list[TenantEvent] = field(default_factory=list)
    violations: list[Finding] = field(default_factory=list)
    """Lifecycle transitions this commit made that ``paybill plan`` would have blocked (the same rule,
    :func:`paybill.changes.lifecycle.check_transition`, with the commit's parent as the base)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "sha": self.sha,
            "parents": list(self.parents),
            "author": {"name": self.author[0], "email": self.author[1]},
            "committer": {"name": self.committer[0], "email": self.committer[1]},
            "date": self.date,
            "committed": self.committed,
            "subject": self.subject,
            "trailers": [{"key": k, "value": v} for k, v in self.trailers],
            "changes": [c.to_dict() for c in self.changes],
            "events": [e.to_dict() for e in self.events],
            "violations": [v.to_dict() for v in self.violations],
        }


class ImportCommits:
    """Which commits bring specs into the repository: their first parent holds no spec file under the
    specs root (or they have no parent). ``paybill plan`` against an empty base is the same case, and
    :func:`~paybill.changes.lifecycle.check_transition` lets tenants appear there in any state.

    Asked only when a tenant would otherwise be reported as born in a late state, so a long history
    costs no extra git process per commit.
    """

    def __init__(self, repo: GitRepo, prefix: str) -> None:
        self.repo = repo
        self.prefix = prefix
        self._known: dict[str, bool] = {}

    def __call__(self, commit: CommitInfo) -> bool:
        if commit.sha not in self._known:
            specs = [f for f in commit.files if f.path.endswith(SPEC_SUFFIXES)]
            if any(f.old for f in specs):
                self._known[commit.sha] = False  # a spec file existed in the parent
            elif not commit.parents:
                self._known[commit.sha] = True
            else:
                entries = self.repo.ls_tree(commit.parents[0], self.prefix)
                self._known[commit.sha] = not any(e.path.endswith(SPEC_SUFFIXES) for e in entries)
        return self._known[commit.sha]


def _record(commit: CommitInfo, where: SpecsLocation, cache: BlobCache, contents: dict[str, bytes],
            wanted: AuditFilter, imports: ImportCommits, seen: set[str]) -> AuditRecord | None:
    trailers = parse_trailers(commit.message)
    if wanted.agent and wanted.agent not in [v for k, v in trailers if k.lower() == "paybill-agent"]:
        return None
    specs = [f for f in commit.files if loaded_spec_file(f.path, where.prefix)]
    before = documents_at([(f.path, f.old) for f in specs if f.old], where, cache, contents)
    after = documents_at([(f.path, f.new) for f in specs if f.new], where, cache, contents)
    seen.update(name for kind, name in (*before, *after) if kind == "Tenant")
    changes = diff_documents(before, after)
    if len(commit.parents) > 1:
        changes = _merge_own(changes, specs, after, where, cache, contents)
        if not changes:
            return None  # an ordinary merge: every change is in the commits it joins, listed there
    if wanted.kind:
        changes = [c for c in changes if c.kind == wanted.kind]
    if wanted.tenant:
        changes = [c for c in changes if c.kind == "Tenant" and c.name == wanted.tenant]
    if (wanted.kind or wanted.tenant) and not changes:
        return None
    record = AuditRecord(commit.sha, commit.parents, (commit.author_name, commit.author_email),
                         (commit.committer_name, commit.committer_email), commit.author_date,
                         commit.committer_date, subject(commit.message), trailers, changes)
    for change in changes:
        if change.kind != "Tenant":
            continue
        old, new = before.get(("Tenant", change.name)), after.get(("Tenant", change.name))
        record.events += tenant_events(change, old, new)
        violation = check_transition(change.name, old, new)
        if violation is not None and violation.code == CODE_NEW and imports(commit):
            violation = None  # the import of a running fleet: a first appearance may be in any state
        if violation is not None:
            record.violations.append(violation)
    return record


def _merge_own(changes: list[SpecChange], specs: list[FileChange], after: dict[tuple[str, str], SpecDocument],
               where: SpecsLocation, cache: BlobCache, contents: dict[str, bytes]) -> list[SpecChange]:
    """Of a merge's changes against its first parent, those that no parent had: a spec, or a field of
    one, whose merged value differs from every parent's. That is what the merge's author wrote (a
    conflict resolved by hand, an edit slipped into the merge); the rest came from the commits merged."""
    others = max((len(f.others) for f in specs), default=0)
    against: list[dict[str, set[str] | None]] = []  # per other parent: ref -> changed field paths (None: all)
    for n in range(others):
        docs = documents_at([(f.path, blob) for f in specs if n < len(f.others) and (blob := f.others[n])],
                            where, cache, contents)
        against.append({c.ref: ({f.path for f in c.fields} if c.op == "modified" else None)
                        for c in diff_documents(docs, after)})
    own: list[SpecChange] = []
    for change in changes:
        if not all(change.ref in seen for seen in against):
            continue  # the same as in some parent
        if change.op != "modified":
            own.append(change)
            continue
        fields = tuple(f for f in change.fields
                       if all(seen[change.ref] is None or f.path in (seen[change.ref] or ()) for seen in against))
        if fields:
            own.append(replace(change, fields=fields, position=fields[0].position))
    return own


def audit_history(repo: GitRepo, where: SpecsLocation, wanted: AuditFilter = AuditFilter(),
                  cache: BlobCache | None = None, rev: str = "HEAD",
                  tenants_seen: set[str] | None = None) -> Iterator[AuditRecord]:
    """Records oldest first. Blobs are read in batches and parsed once each (cache by blob hash).

    ``tenants_seen`` collects the name of every Tenant document the walked commits touched (before
    any filter), so a caller can tell an unknown ``--tenant`` from one with no matching commit.
    """
    cache = cache or BlobCache()
    imports = ImportCommits(repo, where.prefix)
    seen = tenants_seen if tenants_seen is not None else set()
    commits = walk_history(repo, where.prefix, since=wanted.since, until=wanted.until, author=wanted.author, rev=rev,
                           merges=True)
    for start in range(0, len(commits), BATCH // 2 or 1):
        chunk = commits[start:start + BATCH // 2]
        needed = {blob for c in chunk for f in c.files if loaded_spec_file(f.path, where.prefix)
                  for blob, path in ((f.old, f.path), (f.new, f.path), *((o, f.path) for o in f.others))
                  if blob and (blob, where.display(path)) not in cache}
        contents = repo.read_blobs(needed)
        for commit in chunk:
            record = _record(commit, where, cache, contents, wanted, imports, seen)
            if record is not None:
                yield record
