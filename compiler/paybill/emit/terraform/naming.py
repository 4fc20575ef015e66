"""Cloud resource names: the registry that claims derived names and reports collisions as diagnostics.

Each cloud's name rules (length, alphabet, uniqueness scope) are declared by its profile
(:class:`paybill.clouds.names.NameRule`, re-exported here); what follows is why they look as they do.

Names are derived only from spec names (already restricted to ``[a-z0-9-]``), so derivation never
has to guess; what differs per cloud is length and alphabet (Azure storage accounts allow 3-24
lower-case alphanumerics only, S3 buckets 3-63 with hyphens...). When a name is too long it is cut
and a stable 6-character hash of the *full* name is appended, so two long names that share a prefix
still differ, and the same spec always yields the same name.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from paybill.clouds.names import NameRule
from paybill.diagnostics import DiagnosticSink
from paybill.load.document import SpecDocument
from paybill.validate.index import SpecIndex

__all__ = ["Claim", "NameRegistry", "NameRule"]

@dataclass
class NameRegistry:
    """Remembers every derived name per (rule scope, key) and reports collisions once."""

    sink: DiagnosticSink
    _taken: dict[tuple[str, str, str], tuple[SpecDocument, str]] = field(default_factory=dict)
    log: list[Claim] | None = None
    """When a list, every claim is also recorded there, to :meth:`replay` later (another stack, process
    or compile)."""
    check: bool = True
    """False: only record claims (building one stack); the emitter replays them in order into one
    checking registry (:func:`paybill.emit.terraform.emitter.emit_terraform`)."""

    def claim(self, rule: NameRule, scope_key: str, name: str, document: SpecDocument, purpose: str) -> str:
        if self.log is not None:
            self.log.append((rule, scope_key, name, document.kind, document.name, purpose))
        if not self.check:
            return name
        key = (rule.label, scope_key if rule.scope != "global" else "*", name)
        holder = self._taken.get(key)
        if holder is not None and holder[0] is not document:
            other, other_purpose = holder
            self.sink.error(
                "PB0601",
                f"{rule.label} name '{name}' for {purpose} collides with the one derived for "
                f"{other.ref} ({other_purpose})",
                document.path,
                document.position("metadata", "name"),
                "rename one of the specs; derived names are shortened with a hash, so this needs "
                "near-identical long names",
            )
        else:
            self._taken.setdefault(key, (document, purpose))
        return name

    def replay(self, claims: Iterable[Claim], index: SpecIndex) -> None:
        """Claim again, in order, names another process claimed (documents found by kind and name)."""
        for rule, scope_key, name, kind, doc_name, purpose in claims:
            document = index.get(kind, doc_name)
            if document is not None:
                self.claim(rule, scope_key, name, document, purpose)


Claim = tuple[NameRule, str, str, str, str, str]
"""(rule, scope key, name, document kind, document name, purpose): one recorded claim."""
