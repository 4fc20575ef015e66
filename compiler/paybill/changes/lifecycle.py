"""Tenant lifecycle transitions: which moves between two commits are allowed.

This is the one rule ``paybill plan`` (base against head) and ``paybill audit`` (each commit against
its parent) both apply, through :func:`check_transition`, so a change the plan let through is never
a violation in the audit trail and the other way round.

A tenant's lifecycle is a state machine; a pull request may move a tenant along one edge of it.
Skipping a state is blocked because each state does work the next one relies on: ``offboarding``
keeps deletion protection and takes final snapshots (see the compile issue), so going straight from
``active`` to ``deleted`` would destroy data with no export and no snapshot.

============ ============ ======== =========== ============= ========
from \\ to    onboarding   active   suspended   offboarding   deleted
============ ============ ======== =========== ============= ========
*(new)*      yes          yes      no          no            no
onboarding   \\-           yes      yes         yes           no
active       no           \\-       yes         yes           no
suspended    no           yes      \\-          yes           no
offboarding  no           yes      no          \\-            yes
deleted      no           no       no          no            \\-
============ ============ ======== =========== ============= ========

* *(new)*: a tenant appearing in the head side starts ``onboarding`` (or ``active`` when it is
  imported already running); it cannot be born suspended, offboarding or deleted. The exception is
  the *import*: when the side before holds no specs at all (an empty base for ``plan``, a commit
  whose parent has no spec files for ``audit``), every tenant appears for the first time as the
  running platform has it, in any state (see :func:`check_transition`'s ``importing``).
* ``offboarding -> active`` is the win-back path: the tenant's data was never removed.
* ``deleted`` is final: a deleted tenant's resources are destroyed; bring a customer back as a new
  tenant (new name) so nothing is ever "undeleted" over stale state.
* Removing a Tenant document is allowed only once the base side has it ``deleted`` with its destroy
  recorded (``spec.decommission.destroyedAt``, PB0661); removing a live tenant's file would destroy its
  stack without offboarding, and removing an unrecorded deleted one would orphan its resources.

Billing status is checked against lifecycle by the validator (PB0405); this table is about moves.
"""

from __future__ import annotations

from paybill.changes.model import Finding
from paybill.load import SpecDocument

NEW = "(new)"
REMOVED = "(removed)"
STATES = ("onboarding", "active", "suspended", "offboarding", "deleted")
ALLOWED: dict[str, frozenset[str]] = {
    NEW: frozenset({"onboarding", "active"}),
    "onboarding": frozenset({"active", "suspended", "offboarding"}),
    "active": frozenset({"suspended", "offboarding"}),
    "suspended": frozenset({"active", "offboarding"}),
    "offboarding": frozenset({"active", "deleted"}),
    "deleted": frozenset(),
}
REMOVABLE_FROM = frozenset({"deleted"})

CODE_TRANSITION = "PB0910"
CODE_REMOVED = "PB0911"
CODE_NEW = "PB0912"
CODE_UNRECORDED = "PB0661"


def _destroy_recorded(document: SpecDocument) -> bool:
    """Whether the tenant carries ``spec.decommission.destroyedAt`` (the apply workflow's destroy is done)."""
    spec = document.data.get("spec")
    record = spec.get("decommission") if isinstance(spec, dict) else None
    return isinstance(record, dict) and isinstance(record.get("destroyedAt"), str)


def lifecycle_of(document: SpecDocument | None) -> str | None:
    if document is None:
        return None
    spec = document.data.get("spec")
    value = spec.get("lifecycle") if isinstance(spec, dict) else None
    return value if isinstance(value, str) and value in STATES else None


def allowed(before: str, after: str) -> bool:
    return before == after or after in ALLOWED.get(before, frozenset())


def _path_hint(before: str, after: str) -> str:
    """The shortest allowed path, so the hint says exactly which steps to take."""
    frontier, seen = [[before]], {before}
    while frontier:
        path = frontier.pop(0)
        for nxt in sorted(ALLOWED.get(path[-1], ())):
            if nxt == after:
                steps = " -> ".join([*path, nxt])
                return f"go through the states one pull request at a time: {steps}"
            if nxt not in seen:
                seen.add(nxt)
                frontier.append([*path, nxt])
    if before == "deleted":
        return "a deleted tenant is final; onboard the customer again as a new tenant with a new name"
    return f"from '{before}' the lifecycle may become: {', '.join(sorted(ALLOWED[before])) or 'nothing'}"


def check_transition(name: str, base: SpecDocument | None, head: SpecDocument | None, *,
                     importing: bool = False) -> Finding | None:
    """A blocking finding when the tenant's lifecycle moves along an edge the table does not allow.

    ``importing`` says the side before holds no specs at all: the change brings an existing fleet
    into the repository, so a tenant's first appearance may be in any state (suspended, offboarding
    or deleted when the repository was first written), and only later moves follow the table.
    """
    before, after = lifecycle_of(base), lifecycle_of(head)
    subject = f"Tenant/{name}"
    if head is None and base is not None:
        if before in REMOVABLE_FROM and not _destroy_recorded(base):
            return Finding(CODE_UNRECORDED, "error", "lifecycle", subject,
                           f"tenant '{name}' is removed before the destroy of its stack was recorded; "
                           "its decommission configuration would vanish and its resources be orphaned",
                           base.path, base.position("spec", "lifecycle"),
                           "keep the file until the apply workflow destroyed the stack, then record it "
                           "with spec.decommission.destroyedAt: YYYY-MM-DD; remove the file after that")
        if before is None or before in REMOVABLE_FROM:
            return None
        return Finding(CODE_REMOVED, "error", "lifecycle", subject,
                       f"tenant '{name}' is removed while its lifecycle is '{before}'; removing the file "
                       "would destroy its stack without offboarding",
                       base.path, base.position("spec", "lifecycle"),
                       "keep the file and move the lifecycle to 'offboarding', then 'deleted'; remove the file "
                       "only after the deletion was applied")
    if head is None or after is None:
        return None
    position = head.position("spec", "lifecycle")
    if base is None:
        if importing or after in ALLOWED[NEW]:
            return None
        return Finding(CODE_NEW, "error", "lifecycle", subject,
                       f"new tenant '{name}' starts in lifecycle '{after}'", head.path, position,
                       "a new tenant starts 'onboarding' (or 'active' when imported already running)")
    if before is None or allowed(before, after):
        return None
    return Finding(CODE_TRANSITION, "error", "lifecycle", subject,
                   f"lifecycle transition '{before}' -> '{after}' is not allowed", head.path, position,
                   _path_hint(before, after))


def transition_table_markdown() -> str:
    """The table above, generated from :data:`ALLOWED` (the policies README embeds it)."""
    header = "| from \\ to | " + " | ".join(STATES) + " |"
    lines = [header, "|" + " --- |" * (len(STATES) + 1)]
    for state in (NEW, *STATES):
        cells = ["–" if state == target else ("yes" if target in ALLOWED[state] else "no") for target in STATES]
        lines.append(f"| {state} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"

