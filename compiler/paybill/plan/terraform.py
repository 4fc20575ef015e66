"""Compare two compiled output trees stack by stack, resource by resource.

For each ``terraform/<stack>/main.tf.json`` present on either side:

* a stack only on the head side is *created* (every resource ``create``);
* a stack only on the base side is *destroyed* (every resource ``destroy``) - a deleted tenant;
* otherwise each resource address (``type.name``) is compared: only on the head side ``create``,
  only on the base side ``destroy``, different arguments ``update``, or ``replace`` when one of the
  changed arguments forces replacement according to :mod:`paybill.plan.replace_rules`.

Identical bytes are skipped without parsing, so comparing 10,000 stacks where one changed costs one
parse per side. Meta-arguments (``depends_on``, ``lifecycle``, ``provider``, ``count``,
``for_each``, ``//`` provenance) never change real infrastructure and are not reported as changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from paybill.plan.model import Finding, ResourceChange, StackChange
from paybill.plan.replace_rules import DATA_STORE_TYPES, forcing_arguments, known_type

CODE_DATA_STORE_TF = "PB0942"
CODE_UNKNOWN_TYPE = "PB0943"
META_ARGUMENTS = frozenset({"depends_on", "lifecycle", "provider", "count", "for_each", "//"})
STACK_PREFIX = "terraform/"
STACK_FILE = "/main.tf.json"


def stack_files(tree: Mapping[str, bytes]) -> dict[str, bytes]:
    """Stack address -> bytes of its ``main.tf.json``."""
    return {path[len(STACK_PREFIX):-len(STACK_FILE)]: data for path, data in tree.items()
            if path.startswith(STACK_PREFIX) and path.endswith(STACK_FILE)}


def resources(document: Mapping[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """``type.name`` -> (type, body) for every managed resource of a stack document."""
    out: dict[str, tuple[str, dict[str, Any]]] = {}
    for type_, blocks in (document.get("resource") or {}).items():
        for name, body in (blocks or {}).items():
            out[f"{type_}.{name}"] = (type_, body if isinstance(body, dict) else {})
    return out


def changed_arguments(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[str, ...]:
    keys = (before.keys() | after.keys()) - META_ARGUMENTS
    return tuple(sorted(k for k in keys if before.get(k) != after.get(k)))


def _owner(address: str) -> tuple[str | None, str | None]:
    kind, _, name = address.partition("/")
    return (name, None) if kind == "tenant" else (None, name) if kind == "pool" else (None, None)


def _all(action: str, res: dict[str, tuple[str, dict[str, Any]]]) -> tuple[ResourceChange, ...]:
    return tuple(ResourceChange(addr, t, action, data_store=t in DATA_STORE_TYPES)  # type: ignore[arg-type]
                 for addr, (t, _) in sorted(res.items()))


def diff_stack(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[ResourceChange, ...]:
    old, new = resources(before), resources(after)
    changes: list[ResourceChange] = []
    for address in sorted(old.keys() | new.keys()):
        if address not in old:
            type_ = new[address][0]
            changes.append(ResourceChange(address, type_, "create", data_store=type_ in DATA_STORE_TYPES))
        elif address not in new:
            type_ = old[address][0]
            changes.append(ResourceChange(address, type_, "destroy", data_store=type_ in DATA_STORE_TYPES))
        else:
            type_, body = new[address]
            previous = old[address][1]
            if body == previous:
                continue
            arguments = changed_arguments(previous, body)
            if not arguments:
                continue
            forcing = forcing_arguments(type_, previous, body, arguments)
            changes.append(ResourceChange(address, type_, "replace" if forcing else "update", arguments, forcing,
                                          type_ in DATA_STORE_TYPES))
    return tuple(changes)


def diff_trees(base: Mapping[str, bytes], head: Mapping[str, bytes],
               reach: Mapping[str, tuple[str, ...]] | None = None) -> list[StackChange]:
    """Every stack that changes between two output trees, in address order."""
    reach = reach or {}
    old, new = stack_files(base), stack_files(head)
    stacks: list[StackChange] = []
    for address in sorted(old.keys() | new.keys()):
        before, after = old.get(address), new.get(address)
        if before == after:
            continue
        tenant, pool = _owner(address)
        if before is None:
            res = _all("create", resources(orjson.loads(after or b"{}")))
            stacks.append(StackChange(address, "created", tenant, pool, res, reach.get(address, ())))
        elif after is None:
            res = _all("destroy", resources(orjson.loads(before)))
            stacks.append(StackChange(address, "destroyed", tenant, pool, res, reach.get(address, ())))
        else:
            res = diff_stack(orjson.loads(before), orjson.loads(after))
            stacks.append(StackChange(address, "changed", tenant, pool, res, reach.get(address, ())))
    return stacks


def stack_findings(stacks: list[StackChange]) -> list[Finding]:
    """Danger flags from the resource changes: data stores destroyed or replaced, pool reach."""
    findings: list[Finding] = []
    for stack in stacks:
        lost = [r for r in stack.resources if r.data_store and r.action in ("destroy", "replace")]
        if lost:
            what = ", ".join(f"{r.address} ({r.action})" for r in lost)
            findings.append(Finding(
                CODE_DATA_STORE_TF, "warning", "data-store", f"stack:{stack.address}",
                f"data store{'s' if len(lost) > 1 else ''} destroyed in stack {stack.address}: {what}",
                hint="a replace destroys the old store before or after creating the new one: copy the data "
                     "first, or revert the argument that forces replacement",
                details=tuple(f"{r.address}: forces replacement: {', '.join(r.forces_replacement)}"
                              for r in lost if r.forces_replacement)))
        if stack.pool and stack.reach and stack.op == "changed" and stack.resources:
            findings.append(Finding(
                "PB0951", "notice", "reach", f"stack:{stack.address}",
                f"pool stack {stack.address} changes {len(stack.resources)} resource"
                f"{'s' if len(stack.resources) != 1 else ''}; {len(stack.reach)} tenant stack"
                f"{'s' if len(stack.reach) != 1 else ''} read it"))
    unknown = sorted({r.type for s in stacks for r in s.resources if r.action == "update" and not known_type(r.type)})
    if unknown:
        findings.append(Finding(
            CODE_UNKNOWN_TYPE, "warning", "terraform", "replace-rules",
            f"no replacement rules for resource type{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}: "
            "updates to them are shown as in-place but may force replacement",
            hint="add the type to paybill/plan/replace_rules.py"))
    return findings
