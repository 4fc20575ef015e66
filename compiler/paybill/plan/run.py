"""Plan two sides of a repository end to end: load both through one blob cache, compare, report.

Besides the spec and Terraform comparison, this is where review enforces change control: the head
side's ``policies/`` must validate (so a broken rule cannot be merged), and commits authored by
agents must pass the base side's rules (see :mod:`paybill.plan.agents`).
"""

from __future__ import annotations

from pathlib import Path

from paybill.changes.model import PlanReport
from paybill.changes.policies import load_change_control
from paybill.changes.trailers import branch_agent
from paybill.gcpause import gc_paused
from paybill.gitio.blobcache import BlobCache
from paybill.gitio.repo import GitRepo
from paybill.gitio.snapshot import SpecsLocation, load_snapshot
from paybill.gitio.sources import Side, WorkTreeSide
from paybill.load.cache import LoadCache, LoadSummary
from paybill.plan.engine import build_report
from paybill.store import UnitStore


def plan_sides(base: Side, head: Side, where: SpecsLocation, *, cache: BlobCache | None = None,
               terraform: bool = True, repo: GitRepo | None = None, policies_prefix: str | None = None,
               compile_base: bool = False, store: UnitStore | None = None,
               cache_folder: Path | None = None, head_ref: str | None = None) -> PlanReport:
    """Compare ``base`` and ``head``. With a ``repo``, the base commit's committed ``generated/`` is used
    for its Terraform when fresh (``compile_base=True`` compiles it instead). ``store``: the unit
    store the head side's compile reads unchanged units from (docs/cache.md). ``cache_folder``: the
    cache folder (``.paybill/cache``) whose parsed spec files a compile of this repository left; with
    a ``repo``, files of either side whose bytes it parsed are not parsed again. ``head_ref``: the
    pull request's branch; an agent's branch (``paybill/<agent>/<slug>``) has every commit checked
    against change control as that agent's (:func:`paybill.plan.agents.agent_commit_findings`).

    The cyclic collector is paused throughout, as for a compile (:mod:`paybill.gcpause`): two sides
    of 10,000 tenants are millions of long-lived objects that every collection would walk again."""
    with gc_paused():
        root = repo.root / where.prefix if repo is not None else None
        known: LoadCache | None = None
        if terraform and repo is not None and not compile_base and branch_agent(head_ref) is None:
            from paybill.plan.committed import plan_from_commits

            # the parsed files' summary (a fifth of the full entry) is all a plan from commits reads
            summary = LoadSummary(cache_folder, root) if cache_folder and root else None
            if (summary is None or not summary.found) and cache_folder and root:
                known = LoadCache(cache_folder, root)
            quick = summary if summary is not None and summary.found else known
            blobs = cache if cache is not None else BlobCache(known=quick)
            report = plan_from_commits(base, head, where, repo, blobs, cache_folder, quick)
            if report is not None:  # no agent-authored commit in the range: only the head's rules to check
                report.compiled = False
                return _with_head_control(report, base, head, policies_prefix)
        if known is None and cache_folder and root:
            known = LoadCache(cache_folder, root)
        blobs = cache if cache is not None else BlobCache(known=known)
        return _plan_sides(base, head, where, blobs, terraform, repo, policies_prefix, compile_base, store, head_ref)


def _with_head_control(report: PlanReport, base: Side, head: Side, policies_prefix: str | None) -> PlanReport:
    """The head side's ``policies/`` must validate, so a broken rule cannot be merged; a change to
    the rules is shown rule by rule (PB0985)."""
    if policies_prefix is not None:
        from paybill.plan.policychanges import policy_change_findings

        head_control = load_change_control(head, policies_prefix, required=False)
        if head_control is not None:
            report.diagnostics = sorted([*report.diagnostics, *head_control.diagnostics], key=lambda d: d.sort_key)
        found = policy_change_findings(base, head, policies_prefix, head_control)
        if found:
            report.findings = sorted([*report.findings, *found], key=lambda f: f.sort_key)
    return report


def _plan_sides(base: Side, head: Side, where: SpecsLocation, cache: BlobCache, terraform: bool,
                repo: GitRepo | None, policies_prefix: str | None, compile_base: bool,
                store: UnitStore | None, head_ref: str | None = None) -> PlanReport:
    # only the base side's errors are read (PB0902, and whether its Terraform can be compared)
    base_snapshot = load_snapshot(base, where, cache, require_files=False, errors_only=True)
    head_snapshot = load_snapshot(head, where, cache)
    step = None
    if terraform:
        from paybill.changes.committed import generated_prefix
        from paybill.plan.compiled import TerraformComparer

        use_committed = repo is not None and not compile_base
        step = TerraformComparer(repo if use_committed else None,
                                 generated_prefix(where.prefix) if use_committed else None, store)
    report = _with_head_control(build_report(base_snapshot, head_snapshot, step), base, head, policies_prefix)
    if policies_prefix is not None and repo is not None and base.commit is not None:
        from paybill.plan.agents import agent_commit_findings

        head_commit = head.commit or (repo.resolve("HEAD") if isinstance(head, WorkTreeSide) else None)
        if head_commit is not None and head_commit != base.commit:
            base_control = load_change_control(base, policies_prefix, required=False)
            report.findings += agent_commit_findings(repo, base.commit, head_commit, where, cache,
                                                     base_snapshot, head_snapshot, base_control, policies_prefix,
                                                     head_ref)
            report.findings.sort(key=lambda f: f.sort_key)
    return report
