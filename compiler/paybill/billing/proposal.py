"""A billing change as a proposal branch, through the same machinery as ``paybill propose``.

Same steps, same guarantees: the YAML is edited keeping comments (or a new spec file is added for
onboarding), the proposed specs are validated, every changed field is checked against the agent's
spec and ``policies/`` (with ``context.via = "billing"`` and ``context.review``), the proposed tree is
compiled from git objects and its ``generated/`` committed with the edit, and the branch
``paybill/<agent>/billing-<tenant>-...`` is created with plumbing: the checkout, the index, HEAD and
``main`` are never written. The pull-request body is the markdown plan of that commit (MRR change
included), under a header naming the events and whether the BillingPolicy lets it merge unreviewed.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

from paybill.changes.control import check_changes
from paybill.changes.model import PlanReport, SpecChange
from paybill.changes.policies import load_change_control
from paybill.changes.sides import locate_specs, policies_prefix, tree_side
from paybill.changes.specdiff import diff_documents
from paybill.changes.trailers import AGENT_TRAILER, REVIEW_TRAILER, VIA_TRAILER
from paybill.diagnostics import Diagnostic, Severity
from paybill.gitio.blobcache import BlobCache
from paybill.gitio.repo import GitRepo
from paybill.gitio.snapshot import Snapshot, SpecsLocation, load_snapshot
from paybill.gitio.sources import OverlaySide, TreeSide
from paybill.plan.run import plan_sides
from paybill.propose.branch import Identity, committer_identity, create_branch, free_branch, slugify
from paybill.propose.generated import output_prefix, recompile

EVENTS_TRAILER = "Paybill-Billing-Events"


@dataclass
class RepoContext:
    """The repository a pass proposes into, loaded once per pass from the base commit."""

    repo: GitRepo
    where: SpecsLocation
    base_ref: str
    base_commit: str
    base_side: TreeSide
    base: Snapshot
    cache: BlobCache
    control_prefix: str
    out_prefix: str
    terraform: bool = True


def open_repo(specs: Path, base_ref: str, policies: Path | None, out: Path | None, terraform: bool) -> RepoContext:
    repo = GitRepo(specs if specs.exists() else Path.cwd())
    where = locate_specs(repo, specs)
    commit = repo.resolve(base_ref)
    side = TreeSide(repo, commit, base_ref)
    cache = BlobCache()
    base = load_snapshot(side, where, cache)
    return RepoContext(repo, where, base_ref, commit, side, base, cache, policies_prefix(where, policies, repo),
                       output_prefix(repo, where.prefix, out), terraform)


@dataclass
class BillingProposal:
    diagnostics: list[Diagnostic] = field(default_factory=list)
    changes: list[SpecChange] = field(default_factory=list)
    branch: str | None = None
    commit: str | None = None
    body: str = ""
    diff: str = ""

    @property
    def refused(self) -> bool:
        return any(d.severity is Severity.ERROR for d in self.diagnostics)


def _unified(path: str, old: bytes | None, new: bytes) -> str:
    before = old.decode("utf-8").splitlines(True) if old is not None else []
    return "".join(difflib.unified_diff(before, new.decode("utf-8").splitlines(True),
                                        f"a/{path}" if old is not None else "/dev/null", f"b/{path}"))


def commit_message(subject: str, body: list[str], agent: str, event_ids: list[str], review: str) -> str:
    text = subject.strip()
    if body:
        text += "\n\n" + "\n".join(body)
    trailers = [f"{AGENT_TRAILER}: {agent}", f"{VIA_TRAILER}: billing", f"{REVIEW_TRAILER}: {review}",
                f"{EVENTS_TRAILER}: {' '.join(event_ids)}"]
    return text + "\n\n" + "\n".join(trailers) + "\n"


def propose_files(ctx: RepoContext, agent: str, replacements: dict[str, bytes], old: dict[str, bytes | None],
                  subject: str, body: list[str], event_ids: list[str], review: str, slug: str,
                  header: list[str], *, dry_run: bool = False) -> BillingProposal:
    """Commit ``replacements`` (repository path -> new bytes) as one proposal, if change control allows."""
    result = BillingProposal()
    result.diff = "".join(_unified(path, old.get(path), data) for path, data in sorted(replacements.items()))
    head_side = OverlaySide(ctx.base_side, replacements, label="billing proposal")
    head = load_snapshot(head_side, ctx.where, ctx.cache)
    if not head.ok:
        result.diagnostics = [d for d in head.diagnostics if d.severity is Severity.ERROR]
        return result
    result.changes = diff_documents(ctx.base.documents_by_ref(), head.documents_by_ref())
    control = load_change_control(ctx.base_side, ctx.control_prefix, required=True)
    assert control is not None
    if not control.ok:
        result.diagnostics = control.diagnostics
        return result
    decisions = check_changes(agent, result.changes, ctx.base.index, head.index, control,
                              context={"via": "billing", "review": review})
    result.diagnostics = [d.diagnostic for d in decisions if d.diagnostic is not None]
    if result.refused:
        return result
    generated = recompile(ctx.repo, ctx.base_commit, head, ctx.where.prefix, ctx.out_prefix)
    if not generated.ok:
        result.diagnostics = generated.diagnostics
        return result
    if dry_run:
        return result
    agent_model = ctx.base.index.model("Agent", agent)
    assert agent_model is not None  # change control refused an agent the base side does not declare
    author = Identity(agent, agent_model.spec.owner.email)
    result.branch = free_branch(ctx.repo, agent, slugify(slug))
    files: dict[str, bytes | None] = {**generated.as_commit_files(), **replacements}
    result.commit = create_branch(ctx.repo, ctx.base_commit, files, result.branch,
                                  commit_message(subject, body, agent, event_ids, review), author,
                                  committer_identity(ctx.repo) or author)
    report = plan_sides(tree_side(ctx.repo, ctx.base_commit), tree_side(ctx.repo, result.branch), ctx.where,
                        cache=ctx.cache, terraform=ctx.terraform, repo=ctx.repo, policies_prefix=ctx.control_prefix)
    result.body = pull_request_body(header, report)
    return result


def pull_request_body(header: list[str], report: PlanReport) -> str:
    from paybill.plan.render.markdown import render_markdown

    return "\n".join([*header, "", ""]) + render_markdown(report)
