"""Compile both sides to Terraform and compare them stack by stack.

Both sides go through :func:`paybill.compile.compile_index` with one shared
:class:`~paybill.compile.CompileCache`: units whose inputs have the same fingerprint on both sides
(every tenant a change does not touch) are built once by the emitters that memoise their units.
Documents are shared between the sides by the blob cache, so their fingerprints match exactly.

The base side is not compiled at all when its commit carries a fresh ``generated/`` tree (see
:mod:`paybill.changes.committed`): that tree is what is deployed, and reading it from git objects is
what keeps a plan of a 10,000-tenant repository close to the cost of a single compile.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from paybill.changes.committed import committed_terraform
from paybill.changes.database_model import DatabaseChange
from paybill.changes.model import Finding, PlanReport, StackChange
from paybill.diagnostics import Diagnostic, DiagnosticSink, Position
from paybill.gitio.repo import GitRepo
from paybill.gitio.snapshot import Snapshot
from paybill.plan.terraform import diff_trees, stack_findings
from paybill.store import UnitStore

if TYPE_CHECKING:  # the compiler is imported when a side is compiled, not with this module
    from paybill.compile.result import CompileResult
    from paybill.plan.databases import Locator  # the SQL catalog comparison: imported when there is one


@dataclass
class TerraformOutcome:
    stacks: list[StackChange] | None
    note: str | None = None
    findings: list[Finding] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    base_source: str | None = None
    """Where the base side's Terraform came from: compiled, or the committed generated/ tree."""
    databases: list[DatabaseChange] | None = None
    """Databases whose compiled SQL differs (see :mod:`paybill.plan.databases`)."""


def _first_error(diagnostics: list[Diagnostic]) -> str:
    for d in diagnostics:
        if d.severity == "error":
            return f"{d.path}:{d.position.line}: [{d.code}] {d.message}"
    return "unknown error"


def _reach(sides: tuple[Snapshot, ...], stacks: list[StackChange]) -> dict[str, tuple[str, ...]]:
    """Stack address -> tenants whose stack reads it (on either side), for the changed stacks only.

    Only a tenant stack depends on another stack, and only on its pool's (``pool/<pool>``, see
    :func:`paybill.resolve.units.tenant_unit`), so a change that touches no pool stack needs no
    units at all, and one that does needs the units of that pool's tenants only, not all 10,000.
    """
    from paybill.resolve.layers import plan_layers
    from paybill.resolve.units import tenant_unit

    pools = {stack.address[len("pool/"):] for stack in stacks if stack.address.startswith("pool/")}
    reach: dict[str, set[str]] = {}
    for side in sides if pools else ():
        for doc in side.index.of_kind("Tenant"):
            tenant = doc.model
            pool = tenant.spec.placement.pool
            if pool not in pools or tenant.spec.lifecycle == "deleted":
                continue  # stack_units: no stack for a deleted tenant; depends_on names its own pool only
            unit = tenant_unit(doc, tenant, plan_layers(tenant), side.index.get("Pool", pool) is not None)
            for dependency in unit.depends_on:
                reach.setdefault(dependency, set()).add(doc.name)
    return {address: tuple(sorted(tenants)) for address, tenants in reach.items()}


class TerraformComparer:
    """A :data:`~paybill.plan.engine.TerraformStep` holding the compile cache shared by both sides."""

    def __init__(self, repo: GitRepo | None = None, generated: str | None = None,
                 store: UnitStore | None = None) -> None:
        from paybill.compile import CompileCache

        self.cache = CompileCache()
        self.repo = repo
        self.generated = generated
        """Repository prefix of the committed output folder; None compiles the base side too."""
        self.store = store
        """The on-disk unit store (``.paybill/cache/units``): head-side units an earlier compile
        built (a CI cache step restores it) are read back, not built."""

    def _base_tree(self, base: Snapshot, head: CompileResult | None
                   ) -> tuple[Mapping[str, bytes] | None, str | None, str, bool]:
        """(tree, error note, source, compiled here) of the base side: committed when fresh, else compiled.
        ``head``: the head side's compile, whose files the committed tree mostly shares."""
        reason = "compiled"
        if self.repo is not None and self.generated is not None:
            tree, why = committed_terraform(self.repo, base, self.generated, head.tree if head else None,
                                            head.digests if head else None)
            if tree is not None:
                return tree, None, why, False
            reason = f"compiled ({why})"
        from paybill.compile import compile_index

        result = compile_index(base.index, DiagnosticSink(), cache=self.cache)
        if not result.ok:
            return None, f"the base side does not compile ({_first_error(result.diagnostics)})", reason, True
        return result.tree, None, reason, True

    def __call__(self, base: Snapshot, head: Snapshot, report: PlanReport) -> TerraformOutcome:
        from paybill.compile import compile_index

        if not head.ok:
            return TerraformOutcome(None, "the head side has errors; fix them to see the Terraform changes")
        if not base.ok:
            return TerraformOutcome(None, "the base side does not validate, so there is nothing to compare "
                                          "Terraform against")
        head_result = None
        if self.repo is not None and self.generated is not None:
            # A committed base is expected: the head is compiled first, without the shared cache (it
            # only pays when the base is compiled here too, and would keep the head compile from
            # running independent emitters in a helper, compile.apart), so that committed files
            # with the head's bytes need not be read from git. Same result, same order of notes.
            head_result = compile_index(head.index, DiagnosticSink(), store=self.store)
        base_tree, problem, source, base_compiled = self._base_tree(
            base, head_result if head_result is not None and head_result.ok else None)
        if base_tree is None:
            return TerraformOutcome(None, problem)
        if head_result is None:
            cache = self.cache if base_compiled else None
            head_result = compile_index(head.index, DiagnosticSink(), cache=cache, store=self.store)
        diagnostics = [d for d in head_result.diagnostics if d not in head.diagnostics]
        if not head_result.ok:
            return TerraformOutcome(None, "the head side does not compile (see diagnostics)", diagnostics=diagnostics)
        stacks = diff_trees(base_tree, head_result.tree)
        reach = _reach((base, head), stacks)
        stacks = [replace(stack, reach=reach.get(stack.address, ())) for stack in stacks]
        from paybill.plan.databases import PiiColumns, database_findings, diff_databases

        databases = diff_databases(base_tree, head_result.tree, PiiColumns.of(base.index, head.index))
        findings = stack_findings(stacks) + database_findings(databases, agent_locator(head))
        return TerraformOutcome(stacks, None, findings, diagnostics, f"base: {source}", databases)


def agent_locator(head: Snapshot) -> Locator:
    """Where an agent's grants are on the head side (no place for an agent the head side removed)."""

    def locate(agent: str) -> tuple[str, Position]:
        doc = head.index.get("Agent", agent)
        return (doc.path, doc.position("spec", "permissions")) if doc is not None else ("", Position())

    return locate
