"""PB0601: two specs' stacks claim the same cloud name in one uniqueness scope.

Every live stack's claimed names (:mod:`paybill.resolve.names`) are checked in stack order (pools,
then tenants, each in name order): the first stack to claim a name holds it, and every later claim
of the same name, in the same scope (the cloud account, or the whole cloud for ``global`` rules),
by another spec is reported at that spec's ``metadata.name``. A spec may use one name twice (its
key and the key's alias...); only another spec's claim collides.
"""

from __future__ import annotations

from paybill.clouds.names import NameClaims
from paybill.load.document import SpecDocument
from paybill.resolve.model import ResolvedModel
from paybill.resolve.rules.base import ResolveRule
from paybill.validate.rules.base import Reporter

CODE = "PB0601"
HINT = ("rename one of the specs; derived names are shortened with a hash, so this needs near-identical "
        "long names")
NAME = ("metadata", "name")


def _claimants(model: ResolvedModel) -> list[tuple[SpecDocument, str, NameClaims]]:
    """(document, cloud name, claimed names) of every built stack, in stack order."""
    found = []
    for unit in model.units:
        owner = model.pools[unit.owner.name] if unit.kind == "pool" else model.tenants[unit.owner.name]
        if owner.names is not None:
            found.append((owner.document, owner.cloud.name, owner.names))
    return found


def check(model: ResolvedModel, report: Reporter) -> None:
    taken: dict[tuple[str, str, str], tuple[SpecDocument, str]] = {}
    for document, cloud, names in _claimants(model):
        for claimed in names:
            rule = claimed.rule
            key = (rule.label, "*" if rule.scope == "global" else cloud, claimed.name)
            holder = taken.get(key)
            if holder is None:
                taken[key] = (document, claimed.purpose)
            elif holder[0] is not document:
                other, other_purpose = holder
                report(document, NAME, f"{rule.label} name '{claimed.name}' for {claimed.purpose} collides with "
                       f"the one derived for {other.ref} ({other_purpose})", HINT)


RULE = ResolveRule(CODE, "derived cloud names collide", check)
