"""The shape of one quota entry (data, no behaviour beyond naming its scope)."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Scope(enum.StrEnum):
    """What one count of a quota is kept per."""

    ACCOUNT = "account"
    """The cloud account: AWS account, Azure subscription, GCP project, OCI tenancy, IBM account."""
    REGION = "region"
    """The account and the stack's region."""
    REFERENCED = "referenced"
    """The resource a reference attribute points at: the stack's own (e.g. its resource group or
    KMS key) or, when it reads ``terraform_remote_state.pool``, its pool's."""


@dataclass(frozen=True, slots=True)
class Quota:
    name: str
    """The key under a Cloud spec's ``spec.quotas`` that overrides ``default`` (camelCase)."""
    provider: str
    resource_types: tuple[str, ...]
    scope: Scope
    default: int
    doc: str
    """Where the provider documents the default."""
    verified: bool
    """True when the default was read from ``doc`` when this entry was written; False when it is
    the commonly documented value that could not be re-checked here (say so before relying on it)."""
    description: str
    reference_attribute: str | None = None
    """For :attr:`Scope.REFERENCED`: the attribute whose reference names the scoped resource."""
    scope_label: str = ""
    """How the scope reads in a message ("per account", "per KMS key")."""
