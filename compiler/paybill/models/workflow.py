"""Workflow: the only paths an agent may take: steps, transitions, approvals, bounded loops."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from paybill.models.base import Envelope, Identifier, SpecModel, Text
from paybill.models.tenant import Lifecycle

StepId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,39}$")]
StepAction = Literal["read", "insert", "update", "delete", "propose", "approve", "none"]
DATA_ACTIONS = frozenset({"read", "insert", "update", "delete"})
LIFECYCLE_ORDER: tuple[str, ...] = ("onboarding", "active", "suspended", "offboarding", "deleted")
"""Every tenant lifecycle state, in the order a tenant lives through them (the order states are shown in)."""
DEFAULT_LIFECYCLES: tuple[Lifecycle, ...] = ("onboarding", "active")
"""The states a workflow acts in unless it says otherwise: tenants that are being set up or in use."""


class Step(SpecModel):
    id: StepId
    action: StepAction
    resource: Identifier | Literal["Plan", "Tenant", "Pool", "Cloud", "Agent", "Workflow", "DataModel"] | None = None
    """A table for data actions; a spec kind for ``propose``; nothing for ``approve``/``none``."""
    next: list[StepId] = Field(default_factory=list)
    requires_approval: bool = False
    """The run stops before this step until a human approves it."""
    max_visits: int | None = Field(default=None, ge=1, le=1_000)
    """Required on every step that is part of a loop."""
    description: Text | None = None
    lifecycles: list[Lifecycle] | None = Field(default=None, min_length=1)
    """Tenant lifecycle states this step may act in; replaces the workflow's ``lifecycles`` for it."""


class WorkflowSpec(SpecModel):
    description: Text | None = None
    start: StepId
    terminal: list[StepId] = Field(min_length=1)
    steps: list[Step] = Field(min_length=1)
    lifecycles: list[Lifecycle] = Field(default_factory=lambda: list(DEFAULT_LIFECYCLES), min_length=1)
    """Tenant lifecycle states the workflow's steps may act in (``deleted`` never: rule PB0520). A
    dunning workflow adds ``suspended``; an export step overrides it with ``offboarding``."""

    def step_lifecycles(self, step: Step) -> tuple[str, ...]:
        """The states ``step`` may act in, in lifecycle order, ``deleted`` left out whatever the spec
        says (validation reports it; the compiled outputs never allow it)."""
        declared = set(step.lifecycles if step.lifecycles is not None else self.lifecycles)
        return tuple(s for s in LIFECYCLE_ORDER if s in declared and s != "deleted")


class Workflow(Envelope):
    kind: Literal["Workflow"]
    spec: WorkflowSpec
