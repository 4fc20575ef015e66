"""Which argument changes force Terraform to replace (destroy and re-create) a resource.

Terraform providers mark such arguments ``ForceNew`` in their schemas; the JSON schema Terraform
exports does not carry that flag, so paybill keeps a table for every resource type its emitters
write. The tables are part of each cloud's profile (:attr:`TerraformProvider.force_new` in
``paybill/providers/<cloud>/force_new.py``), versioned with the provider pin they were checked
against; this module only reads them. Facts come from each provider's documentation and schema
source for the pinned major version: AWS docs mark "(Forces new resource)" (and ``ForceNew`` in the
schema where the docs are silent), azurerm docs "Changing this forces a new ... to be created",
Google and IBM ``ForceNew`` in the resource schemas (IBM docs also say "Forces new resource"), OCI
docs mark the *other* arguments "(Updatable)", Kubernetes docs say ``metadata.name`` "Cannot be
updated". Only arguments paybill sets, or could set, matter; the table lists the ones found for
every type we emit.

A test compiles the example specs and fails when an emitted type is missing here, so a new emitter
cannot silently fall back to "update". Nested arguments use dots (``settings.edition``); a nested
path matches when the value at that path differs.

Some arguments replace the resource only when they change in one direction: the providers decide
those in ``CustomizeDiff``, not with ``ForceNew``, so the schema flag does not show them. Each
profile lists them as :class:`ConditionalReplace` rules (:attr:`TerraformProvider.conditional`:
shrinking a PostgreSQL Flexible Server disk, or a Cloud SQL disk without autoresize, narrowing a
subnetwork, removing a private network...); :func:`forcing_arguments` reports such a change as
``<path> shrinks 500 -> 100`` and the plan treats it like any other replacement (a data store's is
PB0942). The semantics of each condition are in :mod:`paybill.plan.replace_when`. A rule whose
``effect`` is ``refused`` or ``kept`` describes a one-way change that is no replacement but is not
made either (IBM Cloud Databases refuses to scale a disk down; the AWS and google providers ignore a
smaller RDS ``allocated_storage`` or Cloud SQL ``disk_size`` while storage autoscaling is on):
:func:`changes_not_made` lists those, and the plan reports them as PB0941.

A resource is also replaced when the *provider configuration* it is managed with moves it, even if
its own arguments are byte-identical: a provider block's region, account, subscription, project or
cluster is where every resource of that provider lives. :func:`provider_scopes` lists, per
provider (from its profile), the configuration keys that say *which account* (every resource of the provider moves)
and *which region* (only regional resources that do not set their own region move; IAM and other
account-wide types stay). Terraform then plans those resources as replaced: AWS 6.x records each
resource's region in state and forces replacement when it changes, the other providers plan a
create in the new place once refresh no longer finds the old object. Values that read a data source
(``${data.terraform_remote_state.pool.outputs.eks_host}``) count as changed when that data source's
configuration changes (a remote state counts as the stack whose state it reads, so moving a pool's
state to another bucket moves nothing), so a tenant stack pointed at another pool's cluster replaces
its Kubernetes objects. A change of the stack's backend (where its state is stored) is not a replacement but a
state move: see :mod:`paybill.plan.stackconfig`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from paybill.clouds import registry
from paybill.clouds.profile import ConditionalReplace, ProviderScope
from paybill.plan.replace_when import describe, holds

__all__ = ["DATA_STORE_TYPES", "PROVIDER_SCOPES", "REPLACE_ARGUMENTS", "ConditionalReplace", "ProviderScope",
           "changes_not_made", "conditional_rules", "data_store", "forcing_arguments", "known_type", "placement_keys",
           "provider_moves", "provider_scopes", "replace_arguments", "value_at"]

_cache: dict[str, tuple[int, Any]] = {}

_Tables = tuple[dict[str, frozenset[str]], frozenset[str], dict[str, ProviderScope],
                dict[str, tuple[ConditionalReplace, ...]]]


def _tables() -> _Tables:
    """(ForceNew arguments by type, data-store types, scopes by provider, conditional rules by type)."""
    generation = registry.generation()
    cached = _cache.get("tables")
    if cached is None or cached[0] != generation:
        providers = registry.terraform_providers()
        arguments = {type_: frozenset(args) for tp in providers.values() for type_, args in tp.force_new.items()}
        stores = frozenset(t for tp in providers.values() for t in tp.data_stores)
        scopes = {name: tp.scope for name, tp in providers.items()}
        conditional: dict[str, tuple[ConditionalReplace, ...]] = {}
        for tp in providers.values():
            for rule in tp.conditional:
                conditional[rule.type] = (*conditional.get(rule.type, ()), rule)
        cached = _cache["tables"] = (generation, (arguments, stores, scopes, conditional))
    return cached[1]  # type: ignore[no-any-return]


def replace_arguments() -> Mapping[str, frozenset[str]]:
    """Resource type -> the arguments whose change replaces it, over every registered cloud."""
    return _tables()[0]


def data_store(type_: str) -> bool:
    """Replacing or destroying a resource of ``type_`` loses (or crypto-shreds) data."""
    return type_ in _tables()[1]


def conditional_rules() -> Mapping[str, tuple[ConditionalReplace, ...]]:
    """Resource type -> the arguments whose change replaces it only in one direction."""
    return _tables()[3]


def provider_scopes() -> Mapping[str, ProviderScope]:
    """Terraform provider local name -> which configuration keys place its resources."""
    return _tables()[2]


REPLACE_ARGUMENTS: Mapping[str, frozenset[str]] = replace_arguments()
"""The built-in clouds' table (a snapshot at import; :func:`replace_arguments` follows registrations)."""
DATA_STORE_TYPES: frozenset[str] = _tables()[1]
PROVIDER_SCOPES: Mapping[str, ProviderScope] = provider_scopes()


def known_type(type_: str) -> bool:
    return type_ in replace_arguments()


def value_at(body: Any, path: str) -> Any:
    """The value at a dotted argument path (``a.b.c``), taking the first element of nested blocks."""
    node: Any = body
    for part in path.split("."):
        if isinstance(node, list):
            node = node[0] if node else None
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def forcing_arguments(type_: str, before: Mapping[str, Any], after: Mapping[str, Any],
                      changed: tuple[str, ...]) -> tuple[str, ...]:
    """The changed arguments (or nested paths under them) that force replacement of ``type_``.

    A ForceNew argument is named by its path; a conditional one by what happened to it
    (``settings.disk_size shrinks 500 -> 100``), since the same argument changed the other way is
    an in-place update."""
    rules = replace_arguments().get(type_, frozenset())
    hits = []
    for rule in sorted(rules):
        top = rule.split(".", 1)[0]
        if top in changed and value_at(before, rule) != value_at(after, rule):
            hits.append(rule)
    for conditional, old, new in _one_way(type_, before, after, changed):
        if conditional.effect == "replace" and conditional.path not in rules:
            hits.append(describe(conditional.path, conditional.when, old, new))
    return tuple(hits)


def _one_way(type_: str, before: Mapping[str, Any], after: Mapping[str, Any],
             changed: tuple[str, ...]) -> list[tuple[ConditionalReplace, Any, Any]]:
    """The conditional rules of ``type_`` whose one-way change happened, with the old and new value."""
    hits = []
    for conditional in conditional_rules().get(type_, ()):
        if conditional.path.split(".", 1)[0] not in changed:
            continue
        flag = conditional.only_if
        if flag is not None:
            value = value_at(after, flag.path)
            if (flag.default if value is None else value) is not flag.value:
                continue
        old, new = value_at(before, conditional.path), value_at(after, conditional.path)
        if old != new and holds(conditional.when, old, new):
            hits.append((conditional, old, new))
    return hits


def changes_not_made(type_: str, before: Mapping[str, Any], after: Mapping[str, Any],
                     changed: tuple[str, ...]) -> tuple[str, ...]:
    """The changed arguments the cloud refuses or ignores (``allocated_storage shrinks 100 -> 20: ...``)."""
    return tuple(f"{describe(rule.path, rule.when, old, new)}: {rule.why}"
                 for rule, old, new in _one_way(type_, before, after, changed) if rule.effect != "replace")


def placement_keys(provider: str) -> tuple[str, ...]:
    """The configuration keys of ``provider`` that decide where its resources live (dotted paths)."""
    scope = provider_scopes().get(provider)
    return (*scope.account, *scope.location) if scope else ()


def provider_moves(provider: str, type_: str, body: Mapping[str, Any],
                   changed_keys: tuple[str, ...]) -> tuple[str, ...]:
    """The changed provider configuration keys that move (and so replace) a resource of ``type_``."""
    scope = provider_scopes().get(provider)
    if scope is None:
        return ()
    hits = [key for key in changed_keys if key in scope.account]
    if type_ not in scope.global_types and not any(body.get(arg) is not None for arg in scope.own_location):
        hits += [key for key in changed_keys if key in scope.location]
    return tuple(sorted(hits))
