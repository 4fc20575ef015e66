"""Agent: an AI agent's explicit ACL, tenant scope, limits and the workflows it may run."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Discriminator, Field, StringConstraints, Tag
from pydantic_core import PydanticCustomError

from paybill.models.base import Email, Envelope, Identifier, LabelKey, LabelValue, Name, SpecModel, Text

ProposableKind = Literal["Plan", "Tenant", "Pool", "Cloud", "Agent", "Workflow", "DataModel"]
FieldPath = Annotated[str, StringConstraints(pattern=r"^spec(\.[a-zA-Z][a-zA-Z0-9]*)+$")]


class Owner(SpecModel):
    team: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,39}$")]
    email: Email


def _strict_true(value: object) -> object:
    """``Literal[True]`` alone accepts ``1`` and ``1.0`` (they compare equal to True); YAML's ``1`` is not."""
    if not isinstance(value, bool):
        raise PydanticCustomError("bool_type", "Input should be a valid boolean")
    return value


class AllTenants(SpecModel):
    all: Annotated[Literal[True], BeforeValidator(_strict_true)]


class TenantList(SpecModel):
    tenants: list[Name] = Field(min_length=1)


class LabelSelector(SpecModel):
    match_labels: dict[LabelKey, LabelValue] = Field(min_length=1)


class SelectorScope(SpecModel):
    selector: LabelSelector



def _scope_kind(value: object) -> str | None:
    """Pick the scope form by its one key, so errors speak of that form only."""
    if isinstance(value, dict):
        for key, tag in (("all", "all-tenants"), ("tenants", "tenant-list"), ("selector", "label-selector")):
            if key in value:
                return tag
    return None


TenantScope = Annotated[
    Annotated[AllTenants, Tag("all-tenants")]
    | Annotated[TenantList, Tag("tenant-list")]
    | Annotated[SelectorScope, Tag("label-selector")],
    Discriminator(
        _scope_kind,
        custom_error_type="tenant_scope",
        custom_error_message="tenantScope needs exactly one of 'all: true', 'tenants: [...]' "
        "or 'selector: {matchLabels: {...}}'",
    ),
]


class TableGrant(SpecModel):
    """What the agent may do on one table. Columns are listed explicitly: there is no wildcard."""

    table: Identifier
    read: list[Identifier] = Field(default_factory=list)
    insert: list[Identifier] = Field(default_factory=list)
    update: list[Identifier] = Field(default_factory=list)
    delete: bool = False


class ProposalGrant(SpecModel):
    """Which spec fields the agent may propose changes to (as a pull request, never directly)."""

    kind: ProposableKind
    fields: list[FieldPath] = Field(min_length=1)


class Permissions(SpecModel):
    tables: list[TableGrant] = Field(default_factory=list)
    proposals: list[ProposalGrant] = Field(default_factory=list)


class Limits(SpecModel):
    """Execution limits per workflow run; the guard fails closed when any is reached."""

    max_steps: int = Field(ge=1, le=10_000)
    max_rows_read: int = Field(ge=0, le=10_000_000)
    max_rows_written: int = Field(ge=0, le=10_000_000)
    max_wall_time_seconds: int = Field(ge=1, le=86_400)
    max_calls_per_minute: int = Field(ge=1, le=100_000)
    budget_units: int = Field(ge=0, le=10_000_000)
    """Abstract cost units; each guarded operation spends one unit per row touched (min 1)."""


class AgentSpec(SpecModel):
    description: Text
    owner: Owner
    tenant_scope: TenantScope
    permissions: Permissions
    limits: Limits
    workflows: list[Name] = Field(min_length=1)


class Agent(Envelope):
    kind: Literal["Agent"]
    spec: AgentSpec
