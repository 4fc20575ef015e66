"""PB0985: the pull request changes the change-control rules themselves.

The rules in ``policies/`` decide what agents may propose; a pull request that changes them changes
what every later agent proposal is judged by (this pull request's own agent commits are still judged
by the base side's rules). The plan says so rule by rule, by ``@id`` and by meaning (Cedar's parsed
form, so a comment or layout change is not reported), with the effect of each rule: a removed
``forbid`` or an added ``permit`` loosens the rules.
"""

from __future__ import annotations

from paybill.changes.model import Finding
from paybill.changes.policies import ChangeControl, Rule, load_change_control, policy_texts
from paybill.diagnostics import Position
from paybill.gitio.sources import Side

CODE_POLICIES_CHANGED = "PB0985"


def policy_change_findings(base: Side, head: Side, prefix: str, head_control: ChangeControl | None) -> list[Finding]:
    """A warning listing what changes in the rules between ``base`` and ``head``, or nothing."""
    if policy_texts(base, prefix) == policy_texts(head, prefix):
        return []
    base_control = load_change_control(base, prefix, required=False)
    before = _by_id(base_control)
    after = _by_id(head_control)
    changes: list[str] = []
    where: Rule | None = None
    for rule_id in sorted(before.keys() | after.keys()):
        old, new = before.get(rule_id), after.get(rule_id)
        if new is None and old is not None:
            changes.append(f"removed {old.effect} '{rule_id}'{' (loosens)' if old.effect == 'forbid' else ''}")
        elif old is None and new is not None:
            changes.append(f"added {new.effect} '{rule_id}'{' (loosens)' if new.effect == 'permit' else ''}")
        elif old is not None and new is not None and old.meaning != new.meaning:
            effect = old.effect if old.effect == new.effect else f"{old.effect} -> {new.effect}"
            changes.append(f"changed {effect} '{rule_id}'")
        else:
            continue
        where = where or new
    if (base_control.schema if base_control else "") != (head_control.schema if head_control else ""):
        changes.append("changed the schema")
    if not changes:
        return []
    return [Finding(CODE_POLICIES_CHANGED, "warning", "change-control", f"{prefix or '.'}/",
                    f"the change-control rules change: {'; '.join(changes)}",
                    where.file if where else prefix, where.position if where else Position(),
                    hint="the rules every later agent proposal is judged by: their owners review this; this pull "
                         "request's own agent commits are judged by the base side's rules")]


def _by_id(control: ChangeControl | None) -> dict[str, Rule]:
    return {rule.id: rule for rule in control.rules} if control is not None else {}
