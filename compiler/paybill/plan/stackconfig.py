"""The parts of a stack document that are not resources but decide what happens to them.

* **Provider configurations** (``provider.aws[0]``, aliased ones too): which region, account or
  cluster each resource is managed in. :class:`Placement` says which of the keys listed in
  :data:`paybill.plan.replace_rules.PROVIDER_SCOPES` differ between the configuration managing a
  resource on the base side and the one on the head side; the Terraform comparison turns that into
  replacements of the resources managed with it.
* **The backend** (``terraform.backend``): where the stack's state is stored. A different bucket,
  key or container is a *state move*: ``terraform init -migrate-state`` must carry the state over,
  or Terraform starts from nothing, creates everything again and leaves the old resources unmanaged.

A value that reads a data source (``${data.terraform_remote_state.pool.outputs.aks_host}``) is
compared together with that data source's configuration (and whatever that one reads), because the
expression text stays the same when it is pointed at another pool's state. A remote state is
compared as the *stack* whose state it reads (found by its location among the stacks of the same
side, :class:`StateIndex`), so moving a pool's state to another bucket does not look like moving
its tenants to another cluster, while moving a tenant to another pool does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import orjson

from paybill.plan.replace_rules import placement_keys, value_at

ProviderRef = tuple[str, str | None]
"""(provider name, alias or None for the default configuration)."""

_DATA_REF = re.compile(r"\bdata\.([A-Za-z_][\w-]*)\.([A-Za-z_][\w-]*)")
STATE_LOCATION_KEYS = ("address", "bucket", "container_name", "endpoints", "key", "namespace", "organization",
                       "path", "prefix", "region", "resource_group_name", "storage_account_name",
                       "subscription_id", "workspace_key_prefix", "workspaces")
"""Backend settings that say *where* the state is (others, like ``encrypt``, only say how)."""
DEFAULT_BACKEND = "local (no backend block)"
REMOTE_STATE = "terraform_remote_state"


def providers(document: Mapping[str, Any]) -> dict[ProviderRef, Mapping[str, Any]]:
    """Every provider configuration of a stack, by (name, alias)."""
    out: dict[ProviderRef, Mapping[str, Any]] = {}
    for name, blocks in (document.get("provider") or {}).items():
        for block in blocks if isinstance(blocks, list) else [blocks]:
            if isinstance(block, Mapping):
                out[(name, block.get("alias"))] = block
    return out


def provider_of(type_: str, body: Mapping[str, Any]) -> ProviderRef:
    """The configuration a resource is managed with: its ``provider`` meta-argument, else the default
    configuration of the provider its type name starts with (``aws_s3_bucket`` -> ``aws``)."""
    ref = body.get("provider")
    if isinstance(ref, str) and ref:
        name, _, alias = ref.removeprefix("${").removesuffix("}").partition(".")
        return name, alias or None
    return type_.split("_", 1)[0], None


def describe_state(kind: str, config: Any) -> str:
    """A state location in one line: ``s3 bucket=..., key=..., region=...``."""
    config = config if isinstance(config, Mapping) else {}
    parts = [f"{key}={v if isinstance(v, str) else json.dumps(v, sort_keys=True)}"
             for key in STATE_LOCATION_KEYS if (v := config.get(key)) is not None]
    return f"{kind} {', '.join(parts)}" if parts else kind


def describe_backend(document: Mapping[str, Any]) -> str | None:
    """Where the stack's state is stored; None without a backend block (then it is a local file)."""
    backend = (document.get("terraform") or {}).get("backend")
    if isinstance(backend, list):
        backend = backend[0] if backend else None
    if not isinstance(backend, Mapping) or not backend:
        return None
    kind, config = min(backend.items())
    return describe_state(kind, config)


def state_move(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[str, str] | None:
    """(from, to) when the stack's state moves to another backend, bucket, key or container."""
    old, new = describe_backend(before) or DEFAULT_BACKEND, describe_backend(after) or DEFAULT_BACKEND
    return None if old == new else (old, new)


class StateIndex:
    """Which stack of one side keeps its state at a location; built on first use (one parse per stack),
    which only happens when a remote-state lookup that decides a provider's placement changed."""

    def __init__(self, stacks: Mapping[str, bytes]) -> None:
        self._stacks = stacks
        self._by_location: dict[str, str] | None = None

    def stack_at(self, location: str) -> str | None:
        if self._by_location is None:
            self._by_location = {}
            for address in sorted(self._stacks):
                where = describe_backend(orjson.loads(self._stacks[address]))
                if where is not None:
                    self._by_location.setdefault(where, address)
        return self._by_location.get(location)


class _Side:
    """One side's data sources, to resolve what a configuration value reads."""

    def __init__(self, document: Mapping[str, Any], states: StateIndex | None) -> None:
        self.data: Mapping[str, Any] = document.get("data") or {}
        self.states = states

    def resolved(self, value: Any, by_stack: bool, seen: frozenset[tuple[str, str]] = frozenset()) -> Any:
        """``value`` with what every data source it reads is configured to read, recursively; remote
        states as their location, or (``by_stack``) as the stack stored there when there is one."""
        if value is None:
            return None
        refs = sorted(set(_DATA_REF.findall(json.dumps(value, sort_keys=True))) - seen)
        if not refs:
            return value
        reads: dict[str, Any] = {}
        for type_, name in refs:
            body = (self.data.get(type_) or {}).get(name)
            if type_ == REMOTE_STATE and isinstance(body, Mapping):
                location = describe_state(str(body.get("backend")), body.get("config"))
                stack = self.states.stack_at(location) if by_stack and self.states is not None else None
                reads[f"data.{type_}.{name}"] = f"stack {stack}" if stack else location
            else:
                reads[f"data.{type_}.{name}"] = self.resolved(body, by_stack, seen | {(type_, name)})
        return {"value": value, "reads": reads}


class Placement:
    """Compares where the provider configurations of two versions of one stack put their resources."""

    def __init__(self, before: Mapping[str, Any], after: Mapping[str, Any],
                 states: tuple[StateIndex, StateIndex] | None = None) -> None:
        self._old, self._new = providers(before), providers(after)
        self._old_side = _Side(before, states[0] if states else None)
        self._new_side = _Side(after, states[1] if states else None)
        self._cache: dict[tuple[ProviderRef, ProviderRef], tuple[str, ...]] = {}

    def changed(self, old: ProviderRef, new: ProviderRef) -> tuple[str, ...]:
        """The placement keys of ``new``'s provider whose value differs between configuration ``old``
        (base side) and ``new`` (head side); a missing configuration is an empty one, as in Terraform."""
        if (old, new) not in self._cache:
            a, b = self._old.get(old, {}), self._new.get(new, {})
            self._cache[(old, new)] = tuple(key for key in placement_keys(new[0])
                                            if self._moves(value_at(a, key), value_at(b, key)))
        return self._cache[(old, new)]

    def _moves(self, before: Any, after: Any) -> bool:
        if before != after:
            return True
        if self._old_side.resolved(before, False) == self._new_side.resolved(after, False):
            return False  # the usual case, decided without looking at any other stack
        return self._old_side.resolved(before, True) != self._new_side.resolved(after, True)
