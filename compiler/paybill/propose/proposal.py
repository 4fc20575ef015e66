"""The propose flow: edit -> validate -> change control -> compile -> branch -> pull-request body."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from paybill.changes.control import Decision, check_changes
from paybill.changes.markdown_text import cell
from paybill.changes.model import PlanReport, SpecChange
from paybill.changes.policies import load_change_control
from paybill.changes.sides import locate_specs, policies_prefix, tree_side
from paybill.changes.specdiff import diff_documents
from paybill.diagnostics import Diagnostic, Position, Severity
from paybill.diagnostics.suggest import did_you_mean
from paybill.gitio.blobcache import BlobCache
from paybill.gitio.repo import GitRepo
from paybill.gitio.snapshot import Snapshot, SpecsLocation, load_snapshot
from paybill.gitio.sources import OverlaySide, Side, TreeSide
from paybill.propose.branch import Identity, commit_message, committer_identity, create_branch, free_branch, slugify
from paybill.propose.generated import GeneratedChange, output_prefix, recompile
from paybill.propose.setspec import SetOp
from paybill.propose.yamledit import EditError, edit_text

CODE_UNKNOWN_TARGET = "PB0971"
CODE_NO_CHANGE = "PB0975"
CODE_EDIT = "PB0976"
WHERE = "<--set>"


class Planner(Protocol):
    """What ``propose`` asks for the plan of its commit (:func:`paybill.plan.run.plan_sides`).

    Passed in by the caller rather than imported: ``plan`` and ``propose`` sit side by side above the
    shared change core (:mod:`paybill.changes`), and neither imports the other (docs/architecture.md).
    """

    def __call__(self, base: Side, head: Side, where: SpecsLocation, *, cache: BlobCache | None = ...,
                 terraform: bool = ..., repo: GitRepo | None = ..., policies_prefix: str | None = ...) -> PlanReport:
        ...


@dataclass
class Proposal:
    """What happened: refused with diagnostics, or a branch with a commit and its plan."""

    diagnostics: list[Diagnostic] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    changes: list[SpecChange] = field(default_factory=list)
    diff: str = ""
    branch: str | None = None
    commit: str | None = None
    base_commit: str | None = None
    report: PlanReport | None = None
    generated: GeneratedChange | None = None
    """The recompiled output folder committed with the edit (None until change control passed)."""
    files: int = 0
    """Spec files on the base side (for the diagnostics summary line)."""

    @property
    def refused(self) -> bool:
        return any(d.severity is Severity.ERROR for d in self.diagnostics)


def _edits(sets: list[SetOp], base: Snapshot, where, result: Proposal):
    """Group ``--set`` operations by file: repo path -> (display path, [(doc index, path, value)])."""
    by_ref = base.documents_by_ref()
    files: dict[str, tuple[str, list]] = {}
    for op in sets:
        doc = by_ref.get((op.kind, op.name))
        if doc is None:
            names = [name for kind, name in by_ref if kind == op.kind]
            result.diagnostics.append(Diagnostic(
                CODE_UNKNOWN_TARGET, f"no {op.kind} named '{op.name}' on the base side", WHERE, Position(),
                did_you_mean(op.name, names) or f"known {op.kind} specs: {', '.join(sorted(names)[:10]) or 'none'}"))
            continue
        repo_path = where.repo_path(doc.path)
        files.setdefault(repo_path, (doc.path, []))[1].append((doc.index, op.path, op.value))
    return files


def _unified(path: str, old: str, new: str) -> str:
    return "".join(difflib.unified_diff(old.splitlines(True), new.splitlines(True), f"a/{path}", f"b/{path}"))


def propose(specs: Path, agent: str, sets: list[SetOp], message: str, *, planner: Planner,
            base_ref: str | None = None, policies: Path | None = None, terraform: bool = True,
            dry_run: bool = False, out: Path | None = None) -> Proposal:
    result = Proposal()
    repo = GitRepo(specs if specs.exists() else Path.cwd())
    where = locate_specs(repo, specs)
    base_commit = repo.resolve(base_ref or "HEAD")
    result.base_commit = base_commit
    base_side = TreeSide(repo, base_commit, base_ref or "HEAD")
    cache = BlobCache()
    base = load_snapshot(base_side, where, cache)
    result.files = len(base.files)

    files = _edits(sets, base, where, result)
    if result.refused:
        return result
    listing = {f.repo_path: f for f in base_side.list(where.prefix).files}
    contents = base_side.read(listing[path] for path in files)  # only the files being edited
    replacements: dict[str, bytes] = {}
    diffs = []
    for repo_path, (display, edits) in sorted(files.items()):
        old = contents[listing[repo_path].blob].decode("utf-8")
        try:
            new = edit_text(old, edits)
        except EditError as error:
            result.diagnostics.append(Diagnostic(CODE_EDIT, str(error), display, error.position, error.hint))
            continue
        if new != old:
            replacements[repo_path] = new.encode("utf-8")
            diffs.append(_unified(repo_path, old, new))
    result.diff = "".join(diffs)
    if result.refused:
        return result
    if not replacements:
        result.diagnostics.append(Diagnostic(CODE_NO_CHANGE, "the proposal changes nothing: every value is already set",
                                             WHERE, Position(), "check the values given with --set"))
        return result

    head_side = OverlaySide(base_side, replacements, label="proposal")
    head = load_snapshot(head_side, where, cache)
    if not head.ok:
        result.diagnostics = head.diagnostics
        return result
    result.changes = diff_documents(base.documents_by_ref(), head.documents_by_ref())

    control_prefix = policies_prefix(where, policies, repo)
    control = load_change_control(base_side, control_prefix, required=True)
    assert control is not None
    if not control.ok:
        result.diagnostics = control.diagnostics
        return result
    result.decisions = check_changes(agent, result.changes, base.index, head.index, control)
    result.diagnostics = [d.diagnostic for d in result.decisions if d.diagnostic is not None]
    if result.refused:
        return result
    # The branch must pass `paybill compile --check` in the pull-request check: compile the proposed
    # specs (from memory, not the work tree) and commit the changed generated/ with the edit.
    result.generated = recompile(repo, base_commit, head, where.prefix, output_prefix(repo, where.prefix, out))
    if not result.generated.ok:
        result.diagnostics = result.generated.diagnostics
        return result
    if dry_run:
        return result

    agent_model = base.index.model("Agent", agent)
    assert agent_model is not None  # change control refused an agent the base side does not declare
    author = Identity(agent, agent_model.spec.owner.email)
    body = [f"- {c.ref} {f.describe()}" for c in result.changes for f in c.fields]
    result.branch = free_branch(repo, agent, slugify(message))
    commit_files: dict[str, bytes | None] = {**result.generated.as_commit_files(), **replacements}
    result.commit = create_branch(repo, base_commit, commit_files, result.branch,
                                  commit_message(message, agent, body), author, committer_identity(repo) or author)
    # The pull-request body is what the pull-request check posts: `paybill plan --base <base> --head <commit>`.
    result.report = planner(tree_side(repo, base_commit), tree_side(repo, result.branch), where, cache=cache,
                               terraform=terraform, repo=repo, policies_prefix=control_prefix)
    return result


def pull_request_body(proposal: Proposal, agent: str, message: str,
                      render_markdown: Callable[[PlanReport], str]) -> str:
    """The pull-request body: who proposed what, then the plan of the commit as ``render_markdown`` prints it."""
    rules = sorted({d.change.ref + " " + d.field for d in proposal.decisions if d.allowed})
    # the agent writes the message: shown as text, so it cannot restyle or hide the plan below it
    header = [f"**Proposed by agent `{agent}`**: {cell(message.strip().splitlines()[0]) if message.strip() else ''}",
              "",
              f"Change control: {len(rules)} field change{'s' if len(rules) != 1 else ''} allowed by the agent's "
              "spec and `policies/`.", "", ""]
    assert proposal.report is not None
    return "\n".join(header) + render_markdown(proposal.report)
