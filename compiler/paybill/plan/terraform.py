"""Compare two compiled output trees stack by stack, resource by resource.

For each ``terraform/<stack>/main.tf.json`` present on either side:

* a stack only on the head side is *created* (every resource ``create``);
* a stack only on the base side is *destroyed* (every resource ``destroy``) - a deleted tenant;
* otherwise each resource address (``type.name``) is compared: only on the head side ``create``,
  only on the base side ``destroy``, different arguments ``update``, or ``replace`` when one of the
  changed arguments forces replacement according to :mod:`paybill.plan.replace_rules`, or when the
  provider configuration it is managed with moves it to another region, account or cluster (then
  even a resource with identical arguments is replaced; see :mod:`paybill.plan.stackconfig`).
  Such a replacement is listed as forced by ``provider.<name>.<key>`` (``provider.aws.region``).
* a one-way change the cloud refuses or ignores (a disk it cannot shrink) stays an ``update`` and is
  flagged PB0941;
* a changed backend is a state move (PB0944): the state must be migrated before anything is applied.

Identical bytes are skipped without parsing, so comparing 10,000 stacks where one changed costs one
parse per side. Meta-arguments (``depends_on``, ``lifecycle``, ``provider``, ``count``,
``for_each``, ``//`` provenance) never change real infrastructure and are not reported as changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from paybill.changes.model import Finding, ResourceChange, StackChange
from paybill.plan.replace_rules import changes_not_made, data_store, forcing_arguments, known_type, provider_moves
from paybill.plan.stackconfig import Placement, StateIndex, provider_of, state_move

CODE_NOT_MADE = "PB0941"
CODE_DATA_STORE_TF = "PB0942"
CODE_UNKNOWN_TYPE = "PB0943"
CODE_STATE_MOVE = "PB0944"
META_ARGUMENTS = frozenset({"depends_on", "lifecycle", "provider", "count", "for_each", "//"})
STACK_PREFIX = "terraform/"
STACK_FILE = "/main.tf.json"


REMOVED_PREFIX = "terraform/removed/"
"""Decommission configurations of deleted tenants: the destroy of a stack, not a stack of their own."""


def stack_files(tree: Mapping[str, bytes]) -> dict[str, bytes]:
    """Stack address -> bytes of its ``main.tf.json`` (decommission configurations excluded)."""
    return {path[len(STACK_PREFIX):-len(STACK_FILE)]: data for path, data in tree.items()
            if path.startswith(STACK_PREFIX) and path.endswith(STACK_FILE) and not path.startswith(REMOVED_PREFIX)}


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
    return tuple(ResourceChange(addr, t, action, data_store=data_store(t))  # type: ignore[arg-type]
                 for addr, (t, _) in sorted(res.items()))


def _moved_by(placement: Placement, type_: str, previous: Mapping[str, Any],
              body: Mapping[str, Any]) -> tuple[str, ...]:
    """``provider.<name>[.<alias>].<key>`` for each placement key that moves the resource.

    The configuration managing the resource on the base side is compared with the one on the head
    side: the same one changing, or another one when its ``provider`` meta-argument changed."""
    ref = provider_of(type_, body)
    keys = placement.changed(provider_of(type_, previous), ref)
    label = f"provider.{ref[0]}" + (f".{ref[1]}" if ref[1] else "")
    return tuple(f"{label}.{key}" for key in provider_moves(ref[0], type_, body, keys))


def diff_stack(before: Mapping[str, Any], after: Mapping[str, Any],
               states: tuple[StateIndex, StateIndex] | None = None) -> tuple[ResourceChange, ...]:
    """Resource changes of one stack; ``states`` finds the stacks its remote-state lookups read."""
    old, new = resources(before), resources(after)
    placement = Placement(before, after, states)
    changes: list[ResourceChange] = []
    for address in sorted(old.keys() | new.keys()):
        if address not in old:
            type_ = new[address][0]
            changes.append(ResourceChange(address, type_, "create", data_store=data_store(type_)))
        elif address not in new:
            type_ = old[address][0]
            changes.append(ResourceChange(address, type_, "destroy", data_store=data_store(type_)))
        else:
            type_, body = new[address]
            previous = old[address][1]
            moved = _moved_by(placement, type_, previous, body)
            if body == previous and not moved:
                continue
            arguments = changed_arguments(previous, body)
            if not arguments and not moved:
                continue
            forcing = moved + forcing_arguments(type_, previous, body, arguments)
            changes.append(ResourceChange(address, type_, "replace" if forcing else "update", arguments, forcing,
                                          data_store(type_), changes_not_made(type_, previous, body, arguments)))
    return tuple(changes)


def diff_trees(base: Mapping[str, bytes], head: Mapping[str, bytes],
               reach: Mapping[str, tuple[str, ...]] | None = None,
               states: tuple[StateIndex, StateIndex] | None = None) -> list[StackChange]:
    """Every stack that changes between two output trees, in address order.

    ``states``: where each side's stacks keep their state, when ``base`` and ``head`` hold only the
    stacks that differ (``paybill plan`` from committed trees, :mod:`paybill.plan.committed`): a
    changed remote-state lookup names the stack stored at its location, which may be any stack."""
    reach = reach or {}
    old, new = stack_files(base), stack_files(head)
    states = states or (StateIndex(old), StateIndex(new))
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
            old_doc, new_doc = orjson.loads(before), orjson.loads(after)
            stacks.append(StackChange(address, "changed", tenant, pool, diff_stack(old_doc, new_doc, states),
                                      reach.get(address, ()), state_move(old_doc, new_doc)))
    return stacks


def _data_store_hint(lost: list[ResourceChange]) -> str:
    """PB0942's hint: a destroy deletes the store with its data, which no argument revert brings back;
    a replace can be avoided by reverting what forces it."""
    destroy = "a destroy deletes the store and its data: export and snapshot it first (and, for a layer moving " \
              "to a pool or another cloud, copy it to the new place: the PB0920 runbook)"
    replace = "a replace destroys the old store before or after creating the new one: copy the data first, or " \
              "revert the argument or provider setting that forces replacement"
    actions = {r.action for r in lost}
    if actions == {"destroy"}:
        return destroy
    if actions == {"replace"}:
        return replace
    return f"{destroy}; {replace}"


def stack_findings(stacks: list[StackChange]) -> list[Finding]:
    """Danger flags from the resource changes: data stores destroyed or replaced, state moves, pool reach."""
    findings: list[Finding] = []
    for stack in stacks:
        lost = [r for r in stack.resources if r.data_store and r.action in ("destroy", "replace")]
        if lost:
            what = ", ".join(f"{r.address} ({r.action})" for r in lost)
            findings.append(Finding(
                CODE_DATA_STORE_TF, "warning", "data-store", f"stack:{stack.address}",
                f"data store{'s' if len(lost) > 1 else ''} destroyed in stack {stack.address}: {what}",
                hint=_data_store_hint(lost),
                details=tuple(f"{r.address}: forces replacement: {', '.join(r.forces_replacement)}"
                              for r in lost if r.forces_replacement)))
        not_made = [r for r in stack.resources if r.not_made]
        if not_made:
            findings.append(Finding(
                CODE_NOT_MADE, "warning", "terraform", f"stack:{stack.address}",
                f"stack {stack.address} asks for a change the cloud will not make: "
                f"{', '.join(r.address for r in not_made)}",
                hint="the resource keeps its current value (or the plan or apply fails): revert the change, or "
                     "move the data to a new, smaller resource yourself",
                details=tuple(f"{r.address}: {what}" for r in not_made for what in r.not_made)))
        if stack.state_move:
            findings.append(Finding(
                CODE_STATE_MOVE, "warning", "terraform", f"stack:{stack.address}",
                f"the state of stack {stack.address} moves: {stack.state_move[0]} -> {stack.state_move[1]}",
                hint="run `terraform init -migrate-state` for this stack before applying; otherwise Terraform "
                     "starts from an empty state, creates every resource again and leaves the old ones unmanaged"))
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
            hint="add the type to its cloud profile's ForceNew table (paybill/providers/<cloud>/force_new.py)"))
    return findings
