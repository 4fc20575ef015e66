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
    # name -> (rule label, scope, holder, its purpose); almost every name is claimed once, so the
    # common case is one dict lookup by the name itself (the label and scope are compared on a hit).
    taken: dict[str, tuple[str, str, SpecDocument, str]] = {}
    shared: dict[tuple[str, str, str], tuple[SpecDocument, str]] = {}
    for document, cloud, names in _claimants(model):
        for rule, _, name, purpose in names.claims:
            scope = "*" if rule.scope == "global" else cloud
            first = taken.get(name)
            if first is None:
                taken[name] = (rule.label, scope, document, purpose)
                continue
            if first[0] == rule.label and first[1] == scope:
                holder = (first[2], first[3])
            else:  # the same text under another rule or scope: not a collision, kept apart
                holder = shared.setdefault((rule.label, scope, name), (document, purpose))
            if holder[0] is not document:
                other, other_purpose = holder
                report(document, NAME, f"{rule.label} name '{name}' for {purpose} collides with "
                       f"the one derived for {other.ref} ({other_purpose})", HINT)


RULE = ResolveRule(CODE, "derived cloud names collide", check)
