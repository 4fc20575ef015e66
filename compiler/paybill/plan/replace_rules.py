"""Which argument changes force Terraform to replace (destroy and re-create) a resource.

Terraform providers mark such arguments ``ForceNew`` in their schemas; the JSON schema Terraform
exports does not carry that flag, so paybill keeps this table for every resource type its emitters
write. Facts come from each provider's documentation for the pinned major version: AWS marks them
"(Forces new resource)", azurerm "Changing this forces a new ... to be created", Google "Changing
this forces a new resource", OCI marks the *other* arguments "(Updatable)", IBM "Forces new resource".

A test compiles the example specs and fails when an emitted type is missing here, so a new emitter
cannot silently fall back to "update". Nested arguments use dots (``settings.edition``); a nested
path matches when the value at that path differs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

REPLACE_ARGUMENTS: dict[str, frozenset[str]] = {}


def _rules(table: dict[str, tuple[str, ...]]) -> None:
    for type_, arguments in table.items():
        REPLACE_ARGUMENTS[type_] = frozenset(arguments)


DATA_STORE_TYPES: frozenset[str] = frozenset()


def known_type(type_: str) -> bool:
    return type_ in REPLACE_ARGUMENTS


def _value(body: Mapping[str, Any], path: str) -> Any:
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
    """The changed arguments (or nested paths under them) that force replacement of ``type_``."""
    rules = REPLACE_ARGUMENTS.get(type_, frozenset())
    hits = []
    for rule in sorted(rules):
        top = rule.split(".", 1)[0]
        if top in changed and _value(before, rule) != _value(after, rule):
            hits.append(rule)
    return tuple(hits)
