"""A plan without a compile: both commits' committed ``generated/`` trees, proven to be this compiler's output.

In a paybill repository both sides of a pull request carry their compiled ``generated/`` (CI's
``compile --check`` refuses a pull request whose tree is stale). When that can be *proven* for both
commits, a plan needs no compile at all, and a one-tenant change at 10,000 tenants reads, parses
and validates a few files instead of every one. The proof, per side:

* the side's spec files, read from git, are exactly the inputs its ``manifest.json`` lists (display
  path and SHA-256 of the bytes: the check :mod:`paybill.changes.committed` makes for the base);
* the cache folder holds a :mod:`~paybill.changes.record` of a successful compile of exactly those
  inputs by this compiler (a ``paybill compile``, or a ``compile --check`` that found the tree
  fresh), and that compile's ``manifest.json`` has the committed manifest's SHA-256.

So each committed manifest is what this compiler makes of that side's specs, and the head's record
holds the warnings its compile reported (the plan lists them). Every stack and SQL catalog is
covered by a hash in the manifest: a stack whose files ``git diff-tree`` reports unchanged must have
the same hash in both manifests (else a committed file is not what the compiler made of it: the
full plan runs); a changed one is read on both sides and checked against each manifest, as the
full plan checks the base. Committed files the change leaves alone are not read (the full plan
does not read them either when the head's compile has the same bytes); ``compile --check``
compares them with a compile byte for byte.

The head may be the work tree (``paybill plan`` without ``--head``, as CI plans its checkout) when
``git status`` finds it exactly ``HEAD`` under the specs root.

The change must be small and touch tenants only: at most :data:`MAX_CHANGED_FILES` spec files,
each holding only ``Tenant`` documents on both sides, and no agent-authored commit in the range
(those are checked against change control with both full indexes). Then the spec-level
comparisons need only every non-tenant document (plans, clouds, pools, agents, data models, ...:
a few hundred) and the changed tenants: an unchanged tenant is identical on both sides, and no
comparison reports one (a staged isolation migration reports a commit that moves its phase; an
agent's scope, the tenants that enter or leave it). Revenue totals are summed over every tenant, the
unchanged ones from their plain data (plan, billing status and lifecycle are required strings, so
the data is what the model holds). The Terraform comparison reads only the stacks that changed;
who reads a changed pool stack comes from the manifests' ``dependsOn``. Anything else returns
None, and the caller runs the full plan: the report is the same either way
(``tests/review/test_plan_committed.py`` plans every review scenario both ways).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from paybill.changes.committed import MANIFEST, file_digest, generated_prefix, stack_hash
from paybill.changes.history import FileChange, changed_files
from paybill.changes.manifest_index import load_manifest_index
from paybill.changes.model import PlanReport
from paybill.changes.record import load_record
from paybill.diagnostics import Diagnostic, DiagnosticSink
from paybill.gitio.blobcache import BlobCache, KnownParses
from paybill.gitio.repo import Background, GitError, GitRepo
from paybill.gitio.snapshot import Snapshot, SpecsLocation
from paybill.gitio.sources import (
    SPEC_SUFFIXES,
    SYMLINK_MODE,
    Side,
    SourceFile,
    TreeSide,
    WorkTreeSide,
    _hidden,
    under,
)
from paybill.load import SpecDocument
from paybill.load.cache import Share, tenant_share

if TYPE_CHECKING:
    from paybill.plan.compiled import TerraformOutcome

MAX_CHANGED_FILES = 64
"""More changed spec files than this is not a small change: the full plan runs."""
SQL_INDEX = "/migrations.json"


def _sql_index(path: str) -> bool:
    return path.startswith("sql/") and path.endswith(SQL_INDEX) and path.count("/") == 2


class _LazyStacks(Mapping[str, bytes]):
    """Stack address -> bytes of one commit's committed ``main.tf.json``, read from git on first use.

    Only a changed remote-state lookup asks (:class:`paybill.plan.stackconfig.StateIndex`), and then
    it reads every stack once, as the full plan has them in memory anyway. Which stacks have one is
    worked out then too (``stacks``: the manifest's entries by address)."""

    def __init__(self, repo: GitRepo, commit: str, prefix: str, stacks: Mapping[str, Mapping[str, Any]]) -> None:
        self._repo, self._commit, self._prefix, self._stacks = repo, commit, prefix, stacks
        self._addresses: list[str] | None = None
        self._bytes: dict[str, bytes] | None = None

    def _keys(self) -> list[str]:
        from paybill.plan.terraform import REMOVED_PREFIX

        if self._addresses is None:
            self._addresses = sorted(a for a, s in self._stacks.items()
                                     if f"terraform/{a}/main.tf.json" in s.get("files", [])
                                     and not f"terraform/{a}/".startswith(REMOVED_PREFIX))
        return self._addresses

    def _load(self) -> dict[str, bytes]:
        if self._bytes is None:
            names = {a: f"{self._commit}:{self._prefix}/terraform/{a}/main.tf.json" for a in self._keys()}
            contents = self._repo.read_blobs(names.values())
            self._bytes = {a: contents[name] for a, name in names.items()}
        return self._bytes

    def __getitem__(self, address: str) -> bytes:
        return self._load()[address]

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys())

    def __len__(self) -> int:
        return len(self._keys())


@dataclass
class _Side:
    """One side as the proof needs it: its inputs, the documents of its changed files, its manifest."""

    side: TreeSide
    commit: str | None
    """The commit the report names (None for a clean work tree read as ``HEAD``)."""
    inputs: dict[str, str]
    """Display path -> ``sha256:<hex>`` of every spec file that holds a document (the manifest's ``inputs``)."""
    changed: list[SpecDocument]
    manifest: dict[str, Any]
    """What the plan reads of the side's ``manifest.json`` (:func:`paybill.changes.manifest_index.plan_view`)."""


@dataclass
class _Unchanged:
    """The spec files both sides share: their documents once, tenants as three strings each."""

    shared: list[SpecDocument] = field(default_factory=list)
    """Every document but the tenants below: one object on both sides, validated once."""
    tenants: list[tuple[str, Share]] = field(default_factory=list)
    """Tenant name -> (plan, billing status, lifecycle) (:data:`~paybill.load.cache.TENANT_SHARE`),
    from its plain data."""

    def add(self, documents: list[SpecDocument]) -> None:
        for doc in documents:
            share = tenant_share(doc.data) if doc.kind == "Tenant" else None
            if share is None:  # not that shape: indexed instead (an unchanged tenant on both sides is exact)
                self.shared.append(doc)
            else:
                self.tenants.append((doc.name, share))


class KnownShares(KnownParses, Protocol):
    """Parsed files of the cache folder: a :class:`~paybill.load.cache.LoadSummary` (or the full
    :class:`~paybill.load.cache.LoadCache` when the folder holds no summary)."""

    def shares_of(self, display: str, digest: str) -> list[tuple[str, Share]] | None: ...


def _listing(side: TreeSide, where: SpecsLocation) -> dict[str, SourceFile] | None:
    if any(entry.mode == SYMLINK_MODE for entry in side.entries(where.prefix)):
        return None  # a symlink's target is resolved by the listing: the full plan handles those
    listing = side.list(where.prefix, SPEC_SUFFIXES)
    if listing.problems or not listing.files:
        return None
    return {where.display(f.repo_path): f for f in listing.files}


def _is_spec(path: str, where: SpecsLocation) -> bool:
    """What :meth:`TreeSide.list` lists (symlinks are refused by the caller)."""
    return (not where.prefix or under(path, where.prefix)) and path.endswith(SPEC_SUFFIXES) \
        and not _hidden(path, where.prefix)


def plan_from_commits(base: Side, head: Side, where: SpecsLocation, repo: GitRepo, cache: BlobCache,
                      folder: Path | None, known: KnownShares | None) -> PlanReport | None:
    """The plan of ``base`` -> ``head`` from their committed trees, or None when it cannot be proven
    equal to the full plan's (then run that). Change control (``policies/``) is left to the caller.
    ``known``: the parsed spec files of the cache folder (unchanged files it holds are not parsed)."""
    from paybill.plan.agents import agent_commits

    if folder is None or not isinstance(base, TreeSide):
        return None
    prefix = generated_prefix(where.prefix)
    try:
        head_commit = _head_commit(head, repo)
    except GitError:
        return None
    if head_commit is None or base.commit == head_commit:
        return None
    # four independent git commands at once (gitio.repo.Background); their outcomes are taken in the
    # order they were once run in, so an early "no" still wins over a later command's error
    base_commit = base.commit
    listing = Background(lambda: _listing(base, where))
    diff = Background(lambda: changed_files(repo, base_commit, head_commit, where.prefix, prefix))
    agents = Background(lambda: agent_commits(repo, base_commit, head_commit, where))
    try:
        clean = isinstance(head, TreeSide) or _clean_work_tree(repo, where)
    except GitError:
        clean = False
    for task in (listing, diff, agents):
        task.wait()
    if not clean:
        return None
    base_files = listing.result()
    if base_files is None:
        return None
    reported = head.commit  # None for the work tree: the report names it, planned as HEAD
    head = head if isinstance(head, TreeSide) else TreeSide(repo, head_commit, head.label)
    spec_changes: dict[str, FileChange] = {}
    generated: dict[str, FileChange] = {}
    for change in diff.result():
        if under(change.path, prefix):
            generated[change.path[len(prefix) + 1:]] = change
        elif _is_spec(change.path, where):
            if {change.old_mode, change.new_mode} - {"100644", "100755", "000000"}:
                return None  # a symlink or a submodule comes or goes: the full plan
            spec_changes[where.display(change.path)] = change
    if not 0 < len(spec_changes) <= MAX_CHANGED_FILES or agents.result():
        return None
    manifests = [f"{side.commit}:{prefix}/{MANIFEST}" for side in (base, head)]
    indexed = _indexed_manifests(folder, generated.get(MANIFEST))
    blobs = {blob for c in spec_changes.values() for blob in (c.old, c.new) if blob}
    blobs |= {blob for path, c in generated.items() if _compared(path) for blob in (c.old, c.new) if blob}
    try:
        contents = repo.read_blobs([*blobs, *(manifests if indexed is None else ())])
    except GitError:
        return None
    if indexed is None:  # no index of both manifests in the cache folder: read and parse them
        parsed = [_manifest(contents[name]) for name in manifests]
        digests = [hashlib.sha256(contents[name]).hexdigest() for name in manifests]
    else:
        digests, parsed = [digest for digest, _ in indexed], [view for _, view in indexed]
    base_manifest, head_manifest = parsed
    if base_manifest is None or head_manifest is None:
        return None
    # The base's files are matched against its compile record by git blob id (ls-tree), not read.
    base_record = load_record(folder, base_manifest["inputs"])
    if base_record is None or base_record.manifest_sha256 != digests[0] \
            or not _same_blobs(base_record.blob_ids, {d: f.blob for d, f in base_files.items()}):
        return None
    proven: dict[str, str] = base_manifest["inputs"]
    sink = DiagnosticSink()
    unchanged = _Unchanged()
    inputs: dict[str, str] = {}
    before: list[SpecDocument] = []
    unread: dict[str, SourceFile] = {}  # files whose documents are needed: not only tenants, or not an input
    for display, source in base_files.items():
        if display in spec_changes:
            before += _documents(cache, source.blob, display, contents[source.blob], sink, inputs)
            continue
        digest = proven.get(display)
        shares = known.shares_of(display, digest[len("sha256:"):]) if known is not None and digest else None
        if digest is not None and shares:
            unchanged.tenants += shares
            inputs[display] = digest
        else:  # a file the cache does not hold, or not only tenants, or no input: its documents
            unread[display] = source
    try:
        extra = repo.read_blobs(f.blob for f in unread.values())
    except GitError:
        return None
    for display, source in unread.items():
        unchanged.add(_documents(cache, source.blob, display, extra[source.blob], sink, inputs))
    after: list[SpecDocument] = []
    head_inputs = {d: digest for d, digest in inputs.items() if d not in spec_changes}
    head_blobs = {d: f.blob for d, f in base_files.items() if d in head_inputs}
    for display, change in sorted(spec_changes.items()):
        if change.new is not None:
            after += _documents(cache, change.new, display, contents[change.new], sink, head_inputs)
            if display in head_inputs:
                head_blobs[display] = change.new
    if len(sink) or any(doc.kind != "Tenant" for doc in (*before, *after)):
        return None
    sides = []
    for side, side_inputs, side_blobs, documents, manifest, digest in (
            (base, inputs, _blobs_of(base_files, inputs), before, base_manifest, digests[0]),
            (head, head_inputs, head_blobs, after, head_manifest, digests[1])):
        if manifest["inputs"] != side_inputs:
            return None  # stale: the full plan says which
        record = base_record if side is base else load_record(folder, side_inputs)
        if record is None or record.manifest_sha256 != digest or not _same_blobs(record.blob_ids, side_blobs):
            return None
        sides.append((_Side(side, side.commit, side_inputs, documents, manifest), record))
    (old, _), (new, head_record) = sides
    new.commit = reported
    return _report(old, new, unchanged, prefix, repo, generated, contents, list(head_record.diagnostics))


def _indexed_manifests(folder: Path, change: FileChange | None) -> list[tuple[str, dict[str, Any]]] | None:
    """(SHA-256, what the plan reads) of both sides' ``manifest.json`` from the cache folder's index
    (:mod:`paybill.changes.manifest_index`), found by the blob ids ``diff-tree`` listed; None unless
    both are there (then the manifests are read from git)."""
    if change is None or change.old is None or change.new is None:
        return None
    found = [load_manifest_index(folder, blob) for blob in (change.old, change.new)]
    return None if found[0] is None or found[1] is None else [found[0], found[1]]


def _blobs_of(files: Mapping[str, SourceFile], inputs: Mapping[str, str]) -> dict[str, str]:
    """Display path -> blob id of each of ``files`` that is an input."""
    return {display: files[display].blob for display in inputs}


def _manifest(raw: bytes) -> dict[str, Any] | None:
    """A committed manifest, when it is paybill's and lists its inputs as display path -> ``sha256:<hex>``."""
    try:
        manifest = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(manifest, dict) or manifest.get("generatedBy") != "paybill":
        return None
    inputs = manifest.get("inputs")
    if not isinstance(inputs, dict) or not all(isinstance(d, str) and d.startswith("sha256:")
                                               for d in inputs.values()):
        return None
    return manifest


def _same_blobs(recorded: Mapping[str, str], committed: Mapping[str, str]) -> bool:
    """Whether every input the record names is committed with the blob id of the bytes the compile parsed.

    A git blob id is the SHA-1 of the blob's bytes (with git's ``blob <size>`` header): git itself
    trusts it to name those bytes (checkouts, fetches and ``git fsck`` go by it; its SHA-1 detects the
    known collision attacks). So an equal id is proof that the committed file holds the bytes the
    compile hashed for the manifest's ``inputs``, as good as reading and hashing them. A record
    without blob ids (empty) proves nothing here."""
    return bool(recorded) and recorded.items() <= committed.items()


def _documents(cache: BlobCache, blob: str, display: str, raw: bytes, sink: DiagnosticSink,
               inputs: dict[str, str]) -> list[SpecDocument]:
    """The documents of one file (parsed, or from the parse cache); a file with one is an input."""
    documents = cache.documents(blob, display, raw, sink)
    if documents:
        inputs[display] = "sha256:" + documents[0].text_hash
    return documents


def _head_commit(head: Side, repo: GitRepo) -> str | None:
    """The commit the head is planned as: its own, or for the work tree (``paybill plan`` without
    ``--head``, as CI runs it on its checkout) ``HEAD``, provided :func:`_clean_work_tree`."""
    if isinstance(head, TreeSide):
        return head.commit
    return repo.resolve("HEAD") if isinstance(head, WorkTreeSide) else None


def _clean_work_tree(repo: GitRepo, where: SpecsLocation) -> bool:
    """Whether the specs on disk are exactly ``HEAD``'s: nothing modified, staged, untracked or ignored
    there (one ``git status``), so listing the files on disk finds the same files with the same bytes.
    The output folder on disk is not looked at: neither plan reads it for the report (this one reads
    ``HEAD``'s committed tree, the full plan compiles the work tree's specs and trusts a stored unit's
    bytes there only by their hash), and at 10,000 tenants it holds ~36,000 files that ``git status``
    would stat."""
    status = repo.run_bytes("status", "--porcelain=v1", "-z", "--untracked-files=all", "--ignored=matching",
                            "--", where.prefix or ".")
    return not status.strip(b"\0")


def _compared(path: str) -> bool:
    """Output files the plan compares: stacks (not decommission configurations) and SQL catalogs."""
    return _sql_index(path) or (path.startswith("terraform/") and path.endswith("/main.tf.json"))


def _report(old: _Side, new: _Side, unchanged: _Unchanged, prefix: str, repo: GitRepo,
            generated: dict[str, FileChange], contents: dict[str, bytes],
            head_diagnostics: list[Diagnostic]) -> PlanReport | None:
    from paybill.plan.engine import build_report
    from paybill.plan.revenue import Contribution, Prices, contribution, contributions, revenue_of
    from paybill.validate import validate_documents

    snapshots = []
    for side in (old, new):
        documents = unchanged.shared + side.changed
        sink = DiagnosticSink()
        index = validate_documents(documents, sink, reuse_models=True, rules=False)
        if len(sink):
            return None
        snapshots.append(Snapshot(side.side.label, side.commit, documents, index,
                                  head_diagnostics if side is new else []))
    base, head = snapshots
    prices = [Prices(snapshot.index) for snapshot in snapshots]
    kept: list[dict[str, Contribution]] = [{}, {}]
    for side, side_prices in enumerate(prices):
        for name, (plan, status, lifecycle) in unchanged.tenants:
            share = contribution(side_prices, plan, status, lifecycle)
            if share is not None:
                kept[side][name] = share
        seen = side_prices.looked_up()
        if side == 0 and all(prices[1](plan) == price for plan, price in seen.items()):
            kept[1] = kept[0]  # the same price for every plan they are on: the same shares (computed once)
            break
    shares = []
    for snapshot, side_prices, unchanged_shares in zip(snapshots, prices, kept, strict=True):
        found = contributions(snapshot.index, side_prices)
        found.update(unchanged_shares)
        shares.append(found)
    revenue = revenue_of(shares[0], shares[1], base.index, head.index)
    outcome = _terraform(old, new, prefix, repo, generated, contents, base, head)
    if outcome is None:
        return None
    return build_report(base, head, lambda _base, _head, _report: outcome, revenue=revenue)


def _terraform(old: _Side, new: _Side, prefix: str, repo: GitRepo, generated: dict[str, FileChange],
               contents: dict[str, bytes], base: Snapshot, head: Snapshot) -> TerraformOutcome | None:
    """The Terraform and database comparison from the stacks and catalogs that differ, or None when the
    committed trees do not prove themselves (see the module docstring). ``generated``: output files
    that differ between the commits (output path -> change); ``contents``: their blobs, read."""
    from paybill.plan.compiled import TerraformOutcome, agent_locator
    from paybill.plan.stackconfig import StateIndex
    from paybill.plan.terraform import diff_trees, stack_findings

    stacks_of = [{s["address"]: s for s in side.manifest.get("stacks", []) if isinstance(s, dict)}
                 for side in (old, new)]
    differing: list[str] = []
    changed = generated.keys()
    for address in sorted(stacks_of[0].keys() | stacks_of[1].keys()):
        before, after = stacks_of[0].get(address), stacks_of[1].get(address)
        if before is not None and after is not None:
            files = before.get("files", [])
            if changed.isdisjoint(files) and changed.isdisjoint(after.get("files", [])):
                if before.get("hash") != after.get("hash") or before.get("files") != after.get("files"):
                    return None  # the compiler's output differs, the committed file does not: not fresh
                continue
        differing.append(address)
    sql = [(side.manifest.get("outputs") or {}).get("sql") or {} for side in (old, new)]
    catalogs: list[str] = []
    for path in sorted(p for p in sql[0].keys() | sql[1].keys() if _sql_index(p)):
        if path in generated:
            catalogs.append(path)
        elif sql[0].get(path) != sql[1].get(path):
            return None
    trees: list[dict[str, bytes]] = []
    for n, (side, stacks, recorded) in enumerate(((old, stacks_of[0], sql[0]), (new, stacks_of[1], sql[1]))):
        wanted = [path for address in differing for path in (stacks.get(address) or {}).get("files", [])]
        wanted += [path for path in catalogs if path in recorded]
        tree: dict[str, bytes] = {}
        unread: dict[str, str] = {}  # an unchanged file of a stack whose other file changed
        for path in wanted:
            change = generated.get(path)
            blob = (change.old if n == 0 else change.new) if change is not None else None
            if change is not None and blob is None:
                return None  # a file the manifest lists is not committed
            if blob is not None and blob in contents:
                tree[path] = contents[blob]
            else:
                unread[path] = f"{side.side.commit}:{prefix}/{path}"
        try:
            extra = repo.read_blobs(unread.values()) if unread else {}
        except GitError:
            return None
        tree.update((path, extra[name]) for path, name in unread.items())
        for address in differing:
            entry = stacks.get(address)
            if entry is not None and \
                    stack_hash({f: file_digest(tree[f]) for f in entry.get("files", [])}) != entry.get("hash"):
                return None
        if any(recorded.get(path) != file_digest(tree[path]) for path in catalogs if path in recorded):
            return None
        trees.append(dict(sorted(tree.items())))
    states = (StateIndex(_LazyStacks(repo, old.side.commit, prefix, stacks_of[0])),
              StateIndex(_LazyStacks(repo, new.side.commit, prefix, stacks_of[1])))
    changes = diff_trees(trees[0], trees[1], reach=_reach(stacks_of, differing), states=states)
    findings = stack_findings(changes)
    databases = []
    if catalogs:  # the trees hold no catalog otherwise: no database to compare (nor its module to import)
        from paybill.plan.databases import PiiColumns, database_findings, diff_databases

        databases = diff_databases(trees[0], trees[1], PiiColumns.of(base.index, head.index))
        findings += database_findings(databases, agent_locator(head))
    return TerraformOutcome(changes, None, findings, [], f"base: committed {prefix}/ of the base commit (fresh)",
                            databases)


def _reach(stacks_of: list[dict[str, dict[str, Any]]], differing: list[str]) -> dict[str, tuple[str, ...]]:
    """Changed pool stack -> the tenants whose stack reads it on either side (their manifest ``dependsOn``)."""
    pools = {a for a in differing if a.startswith("pool/")}
    reach: dict[str, set[str]] = {}
    for stacks in stacks_of if pools else ():
        for address, entry in stacks.items():
            if not address.startswith("tenant/"):
                continue
            for dependency in entry.get("dependsOn", []):
                if dependency in pools:
                    reach.setdefault(dependency, set()).add(address[len("tenant/"):])
    return {address: tuple(sorted(tenants)) for address, tenants in reach.items()}


__all__ = ["MAX_CHANGED_FILES", "plan_from_commits"]
