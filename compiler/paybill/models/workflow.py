"""Workflow: the only paths an agent may take: steps, transitions, approvals, bounded loops."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from paybill.models.base import Envelope, Identifier, SpecModel, Text

StepId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,39}$")]
StepAction = Literal["read", "insert", "update", "delete", "propose", "approve", "none"]
DATA_ACTIONS = frozenset({"read", "insert", "update", "delete"})


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


class WorkflowSpec(SpecModel):
    description: Text | None = None
    start: StepId
    terminal: list[StepId] = Field(min_length=1)
    steps: list[Step] = Field(min_length=1)


class Workflow(Envelope):
    kind: Literal["Workflow"]
    spec: WorkflowSpec
