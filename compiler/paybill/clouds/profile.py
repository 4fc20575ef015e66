"""The :class:`CloudProfile`: one cloud's facts, declared once and read by every stage.

A profile is data (frozen dataclasses, no spec models, no emitter imports), so models can build the
Cloud spec from it and plan can read its tables without loading the emitters; the emitter itself is
named by an entry point (``module:attribute``) and imported only when a stack is built.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from paybill.clouds.checks import CapabilityCheck
from paybill.clouds.names import ClaimPlan, NameRule
from paybill.clouds.quotas import QuotaPlan


@dataclass(frozen=True, slots=True)
class AccountField:
    """One field of the cloud's block in a Cloud spec (``spec.aws.accountId``...): a pattern-checked string."""

    name: str
    """snake_case; the YAML key is its camelCase form."""
    pattern: str
    doc: str | None = None
    """Shown in the JSON Schema and editor hovers."""


@dataclass(frozen=True, slots=True)
class StateBackendUse:
    """A Terraform state backend type the cloud can host, and what its ``endpoint`` must be."""

    type: str
    """``s3``, ``azurerm``, ``gcs`` or ``oci`` (the backend models, see :mod:`paybill.models.cloud`)."""
    endpoint: Literal["required", "forbidden", "optional"] = "optional"
    problem: str = ""
    """The message when ``endpoint`` is violated (PB0410)."""
    hint: str | None = None


@dataclass(frozen=True, slots=True)
class PostgresService:
    """The cloud's managed PostgreSQL service and the major paybill provisions on it."""

    service: str
    major: int


@dataclass(frozen=True, slots=True)
class ProviderScope:
    """Which provider configuration keys decide where a provider's resources live."""

    account: tuple[str, ...]
    """Keys naming the account, subscription, project, tenancy or cluster: every resource moves."""
    location: tuple[str, ...] = ()
    """Keys naming the default region: regional resources that do not set :attr:`own_location` move."""
    own_location: tuple[str, ...] = ()
    """Resource arguments that override the provider's region (then the provider's does not matter)."""
    global_types: frozenset[str] = frozenset()
    """Types that do not live in a region (a region change leaves them where they are)."""


ReplaceWhen = Literal["shrinks", "removed", "turned_off"]
"""When a :class:`ConditionalReplace` argument's change replaces its resource (see :mod:`paybill.plan.replace_when`):

* ``shrinks``: a number gets smaller, or a CIDR range no longer contains the old range;
* ``removed``: a value that was set is unset (absent, empty);
* ``turned_off``: a flag that was ``true`` is no longer ``true``.
"""


@dataclass(frozen=True, slots=True)
class Flag:
    """A boolean argument a :class:`ConditionalReplace` depends on, read on the head side."""

    path: str
    """Dotted argument path (``settings.disk_autoresize``)."""
    value: bool
    """The rule applies when the argument is this."""
    default: bool
    """The provider's value when the argument is unset."""


@dataclass(frozen=True, slots=True)
class ConditionalReplace:
    """An argument whose change replaces the resource only in one direction (or, per :attr:`effect`,
    a one-way change the cloud refuses or ignores).

    Providers decide these in ``CustomizeDiff`` (``customdiff.ForceNewIfChange``) rather than with
    ``ForceNew`` in the schema, so a table of ForceNew arguments misses them: growing an Azure
    PostgreSQL Flexible Server disk is an in-place update, shrinking it destroys the server and
    creates an empty one.
    """

    type: str
    """The Terraform resource type (``google_sql_database_instance``)."""
    path: str
    """Dotted argument path, as in :attr:`TerraformProvider.force_new` (``settings.disk_size``)."""
    when: ReplaceWhen
    source: str
    """Where the provider decides it (file and function at the checked major), so the rule can be re-read."""
    effect: Literal["replace", "refused", "kept"] = "replace"
    """What the one-way change does instead of an update: ``replace`` (destroy and re-create),
    ``refused`` (the provider or the cloud rejects it: plan or apply fails) or ``kept`` (the provider
    ignores it and the resource keeps its current value). The last two are PB0941, not replacements."""
    why: str = ""
    """For ``refused`` and ``kept``: what the cloud does, in the words of the finding."""
    only_if: Flag | None = None
    """The rule applies only when this argument has this value (google ignores a smaller Cloud SQL
    disk while ``disk_autoresize`` is on and replaces the instance when it is off: two rules)."""


_MAJOR = re.compile(r"^~> (\d+)\.\d+$")


@dataclass(frozen=True, slots=True)
class TerraformProvider:
    """One Terraform provider a cloud's stacks use: its pin and the tables checked against that pin.

    ``checked_major`` records the provider major the ForceNew and data-store tables were checked
    against; a test fails when :attr:`version` moves to another major without the tables (and this
    number) being revisited, because a new major is exactly when ForceNew arguments change.
    """

    name: str
    """Local name in ``required_providers`` and provider blocks (``aws``, ``azurerm``, ``google``...)."""
    source: str
    version: str
    """``~> N.0``: any release of one major."""
    checked_major: int
    force_new: Mapping[str, tuple[str, ...]]
    """Resource type -> arguments (dotted for nested blocks) whose change replaces the resource."""
    data_stores: frozenset[str]
    """Types that hold data (databases, buckets, keys): replacing one loses or shreds data."""
    scope: ProviderScope
    checked: str = ""
    """How the tables were checked against ``checked_major`` (sources), and what was not."""
    unverified: frozenset[str] = frozenset()
    """Resource types whose entries were carried over from an older major without a re-check."""
    conditional: tuple[ConditionalReplace, ...] = ()
    """Arguments whose change replaces the resource only in one direction (checked against the same major)."""

    @property
    def pinned_major(self) -> int:
        found = _MAJOR.match(self.version)
        if found is None:
            raise ValueError(f"{self.name}: version pin {self.version!r} is not '~> N.M'")
        return int(found.group(1))

    def required(self) -> dict[str, str]:
        """The ``required_providers`` entry."""
        return {"source": self.source, "version": self.version}


@dataclass(frozen=True, slots=True)
class FixedInMigration:
    """A layer a staged isolation migration cannot move on this cloud (PB0442), and why."""

    layer: str
    why: str
    """Completes "on <cloud> the <layer> layer cannot move in an isolation migration: ..."."""
    hint: str


@dataclass(frozen=True, slots=True)
class CloudProfile:
    """Everything paybill knows about one cloud. See :mod:`paybill.clouds`."""

    provider: str
    """The Cloud spec's ``provider`` and the key of its account block (``spec.<provider>``)."""
    title: str
    """How messages name the cloud (``Google Cloud``)."""
    account: tuple[AccountField, ...]
    state_backends: tuple[StateBackendUse, ...]
    names: tuple[NameRule, ...]
    postgres: PostgresService
    terraform: tuple[TerraformProvider, ...]
    """The cloud's own provider first, then shared ones its stacks also use (kubernetes)."""
    emitter: str
    """Entry point ``module:attribute`` of its Terraform emitter (the ``CloudEmitter`` shape)."""
    checks: tuple[CapabilityCheck, ...] = ()
    """Run in order by validation; the first finding for a spec stops the others for that spec."""
    staged_migrations: bool = False
    """The emitter keeps a migration's ``from`` placement beside the target until ``decommission``
    (elsewhere the stanza is refused, PB0441: the first apply would drop the old access)."""
    fixed_in_migration: tuple[FixedInMigration, ...] = ()
    account_doc: str | None = None
    claims: ClaimPlan | None = None
    """The names each pool and tenant stack claims (:mod:`paybill.clouds.names`): resolve checks them
    for collisions (PB0601) and the emitter reads them. A cloud without one claims no names."""
    quota_usage: QuotaPlan | None = None
    """What each pool and tenant stack uses of the cloud's quotas (:mod:`paybill.clouds.quotas`): resolve
    counts it per stack and reports PB0681/PB0682 at validate. A cloud without one is not counted."""
    pooled_storage_on_delete: str | None = None
    """What becomes of a deleted tenant's objects in the pool's storage, as its emitter builds pooled
    storage (``{tenant}`` is the tenant's name): ``paybill plan`` says it when a pooled tenant is
    deleted (PB0940). It differs per cloud, because what the tenant stack holds does: an access point
    or an IAM grant on a prefix (the objects stay), a container or a bucket of its own (deleted by the
    decommission destroy, or blocking it). A cloud without one gets a pointer to the decommission
    configuration."""

    def name_rule(self, label: str) -> NameRule:
        """The declared name rule labelled ``label``."""
        for rule in self.names:
            if rule.label == label:
                return rule
        raise KeyError(f"{self.provider}: no name rule {label!r}")

    def backend(self, type_: str) -> StateBackendUse | None:
        for use in self.state_backends:
            if use.type == type_:
                return use
        return None

    def load_emitter(self) -> object:
        """Import the emitter named by :attr:`emitter` (emit code is loaded only by the emit stage)."""
        module, _, attribute = self.emitter.partition(":")
        return getattr(importlib.import_module(module), attribute)
