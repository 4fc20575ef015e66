"""Build a :class:`PlanReport` from two loaded sides: the one engine behind plan, propose and audit."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from paybill.changes.lifecycle import check_transition
from paybill.changes.model import Finding, PlanReport, Revenue
from paybill.changes.specdiff import diff_documents
from paybill.diagnostics import Severity
from paybill.gitio.snapshot import Snapshot
from paybill.plan.datastores import detect_data_store_loss
from paybill.plan.impact import compute_impact
from paybill.plan.isolation import detect_migrations
from paybill.plan.permissions import detect_widening
from paybill.plan.pooling import detect_unrecorded_pooling
from paybill.plan.revenue import compute_revenue, revenue_findings

if TYPE_CHECKING:
    from paybill.plan.compiled import TerraformOutcome

CODE_BASE_INVALID = "PB0902"

TerraformStep = Callable[[Snapshot, Snapshot, PlanReport], "TerraformOutcome"]
"""Compiles both sides and compares their Terraform (see :class:`paybill.plan.compiled.TerraformComparer`)."""


def build_report(base: Snapshot, head: Snapshot, terraform: TerraformStep | None = None,
                 revenue: Revenue | None = None) -> PlanReport:
    """``revenue``: computed by the caller, when the sides' indexes hold only part of the tenants
    (:mod:`paybill.plan.committed`); by default it is computed from the two indexes."""
    base_docs, head_docs = base.documents_by_ref(), head.documents_by_ref()
    report = PlanReport(base.label, head.label, base.commit, head.commit)
    report.changes = diff_documents(base_docs, head_docs)
    report.diagnostics = list(head.diagnostics)
    base_errors = sum(1 for d in base.diagnostics if d.severity is Severity.ERROR)
    if base_errors:
        first = next(d for d in base.diagnostics if d.severity is Severity.ERROR)
        report.findings.append(Finding(
            CODE_BASE_INVALID, "warning", "base", base.label,
            f"the base side ({base.label}) does not validate ({base_errors} error{'s' if base_errors != 1 else ''}, "
            f"first: {first.path}:{first.position.line}: {first.message}); specs that failed there are "
            "compared as raw YAML only", first.path, first.position))

    importing = not base.documents  # the first commit that brings specs in: an import of a running platform
    for change in report.changes:
        if change.kind == "Tenant" and change.op in ("added", "modified", "removed"):
            finding = check_transition(change.name, base_docs.get(("Tenant", change.name)),
                                       head_docs.get(("Tenant", change.name)), importing=importing)
            if finding is not None:
                report.findings.append(finding)

    report.findings += detect_migrations(base.index, head.index)
    report.findings += detect_unrecorded_pooling(base.index, head.index)
    report.findings += detect_widening(base.index, head.index)
    report.findings += detect_data_store_loss(base.index, head.index, base_docs, head_docs)
    report.revenue = revenue if revenue is not None else compute_revenue(base.index, head.index)
    report.findings += revenue_findings(report.revenue)
    report.impact, reach = compute_impact(report.changes, base.index, head.index)
    report.findings += reach

    if terraform is not None:
        outcome = terraform(base, head, report)
        report.stacks, report.terraform_note = outcome.stacks, outcome.note
        report.databases = outcome.databases
        report.terraform_base = outcome.base_source
        report.findings += outcome.findings
        report.diagnostics = sorted([*report.diagnostics, *outcome.diagnostics], key=lambda d: d.sort_key)
    else:
        report.terraform_note = "--no-terraform"
    report.findings.sort(key=lambda f: f.sort_key)
    return report

