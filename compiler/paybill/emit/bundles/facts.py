"""Everything one agent's bundle is made of, resolved from the spec index once.

The policy, entity, workflow and golden-test writers all read these facts instead of walking the
specs themselves, so they agree on what the scope, the grants and the steps are. Every fact keeps
the document and path it came from, so a problem found later (by Cedar) is reported at the spec
position that caused it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from paybill.load.document import SpecDocument
from paybill.models.datamodel import Table
from paybill.models.workflow import DATA_ACTIONS, Step
from paybill.validate.index import SpecIndex
from paybill.validate.scope import agent_scope
from paybill.validate.workflow_graph import WorkflowGraph

Loc = tuple[Any, ...]


@dataclass(frozen=True)
class Origin:
    """Where a fact is written: a document and a path inside it."""

    document: SpecDocument
    loc: Loc

    @property
    def path(self) -> str:
        return self.document.path


@dataclass(frozen=True)
class StepRef:
    workflow: str
    step: Step
    origin: Origin


@dataclass
class Grant:
    """One permission of the ACL: an action on a table (columns) or a proposal on a kind (fields)."""

    action: str
    resource: str
    columns: tuple[str, ...]
    origin: Origin
    rule: str
    """The ``<rule>`` half of the policy id: ``permissions.tables.invoices.read``."""
    steps: list[StepRef] = field(default_factory=list)
    """Workflow steps that name this action and resource: the only places the grant applies."""


@dataclass
class WorkflowFacts:
    name: str
    document: SpecDocument
    graph: WorkflowGraph

    @property
    def steps(self) -> list[Step]:
        return list(self.graph.spec.steps)

    def origin(self, step_id: str, *loc: Any) -> Origin:
        return Origin(self.document, ("spec", "steps", self.graph.step_index[step_id], *loc))


@dataclass
class AgentFacts:
    name: str
    document: SpecDocument
    tenants: dict[str, SpecDocument]
    """Tenants in scope, by name (sorted)."""
    tables: dict[str, tuple[SpecDocument, Table]]
    """Tables the ACL names, by name (sorted), with their data model document."""
    grants: list[Grant]
    workflows: list[WorkflowFacts]
    duplicates: list[Origin] = field(default_factory=list)
    """Table grants that repeat an earlier grant of the same table (reported, not merged)."""

    @property
    def limits(self) -> Any:
        return self.document.model.spec.limits

    def origin(self, *loc: Any) -> Origin:
        return Origin(self.document, loc)

    def table_origin(self, name: str) -> Origin:
        """Where table ``name`` is declared (its entry in the data model's ``spec.tables``)."""
        document = self.tables[name][0]
        position = next(i for i, t in enumerate(document.model.spec.tables) if t.name == name)
        return Origin(document, ("spec", "tables", position))

    def sources(self) -> list[SpecDocument]:
        """Every document whose content shaped the bundle, once each, in path order."""
        docs = {id(d): d for d in (self.document, *self.tenants.values(), *(w.document for w in self.workflows),
                                   *(d for d, _ in self.tables.values()))}
        return sorted(docs.values(), key=lambda d: (d.path, d.index))


def _grants(agent: SpecDocument, index: SpecIndex, facts: AgentFacts) -> None:
    permissions = agent.model.spec.permissions
    seen: set[str] = set()
    for i, grant in enumerate(permissions.tables):
        loc = ("spec", "permissions", "tables", i)
        if grant.table in seen:
            facts.duplicates.append(Origin(agent, (*loc, "table")))
            continue
        seen.add(grant.table)
        ref = index.tables.get(grant.table)
        if ref is not None:
            facts.tables[grant.table] = (ref.document, ref.table)
        for action in ("read", "insert", "update"):
            columns = getattr(grant, action)
            if columns:
                facts.grants.append(Grant(action, grant.table, tuple(sorted(set(columns))),
                                          Origin(agent, (*loc, action)),
                                          f"permissions.tables.{grant.table}.{action}"))
        if grant.delete:
            facts.grants.append(Grant("delete", grant.table, (), Origin(agent, (*loc, "delete")),
                                      f"permissions.tables.{grant.table}.delete"))
    kinds: set[str] = set()
    for i, proposal in enumerate(permissions.proposals):
        loc = ("spec", "permissions", "proposals", i)
        if proposal.kind in kinds:
            facts.duplicates.append(Origin(agent, (*loc, "kind")))
            continue
        kinds.add(proposal.kind)
        facts.grants.append(Grant("propose", proposal.kind, tuple(sorted(set(proposal.fields))),
                                  Origin(agent, (*loc, "fields")), f"permissions.proposals.{proposal.kind}"))
    facts.tables = dict(sorted(facts.tables.items()))


def collect(index: SpecIndex, agent: SpecDocument) -> AgentFacts:
    """The facts of one agent's bundle. Workflows that do not exist are left out (validation reports them)."""
    spec = agent.model.spec
    facts = AgentFacts(agent.name, agent, agent_scope(index, agent), {}, [], [])
    _grants(agent, index, facts)
    by_key = {(g.action, g.resource): g for g in facts.grants}
    for name in sorted(set(spec.workflows)):
        document = index.get("Workflow", name)
        if document is None:
            continue
        workflow = WorkflowFacts(name, document, WorkflowGraph(document.model.spec))
        facts.workflows.append(workflow)
        for step in workflow.steps:
            if step.action in DATA_ACTIONS or step.action == "propose":
                grant = by_key.get((step.action, str(step.resource)))
                if grant is not None:
                    grant.steps.append(StepRef(name, step, workflow.origin(step.id)))
    return facts
