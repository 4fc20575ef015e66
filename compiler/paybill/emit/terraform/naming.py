"""Cloud resource names: each cloud's rules, deterministic shortening, collisions as diagnostics.

Names are derived only from spec names (already restricted to ``[a-z0-9-]``), so derivation never
has to guess; what differs per cloud is length and alphabet (Azure storage accounts allow 3-24
lower-case alphanumerics only, S3 buckets 3-63 with hyphens...). When a name is too long it is cut
and a stable 6-character hash of the *full* name is appended, so two long names that share a prefix
still differ, and the same spec always yields the same name.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass, field

from paybill.diagnostics import DiagnosticSink
from paybill.load.document import SpecDocument
from paybill.validate.index import SpecIndex

_HASH_LEN = 6


@dataclass(frozen=True, slots=True)
class NameRule:
    """One kind of cloud resource name.

    ``alphabet`` is a regex character class of allowed characters; ``separator`` joins the parts
    ('' when hyphens are not allowed); ``scope`` says how far uniqueness reaches (``global`` for S3
    and Azure storage accounts, ``cloud`` for one account, ``region``...), used by the registry.
    """

    label: str
    max_len: int
    min_len: int = 3
    alphabet: str = "a-z0-9-"
    separator: str = "-"
    must_start_with_letter: bool = True
    scope: str = "cloud"

    def derive(self, *parts: str) -> str:
        """The deterministic name for ``parts`` under this rule."""
        disallowed = _disallowed(self.alphabet)
        joined = self.separator.join(disallowed.sub("", p.lower()) for p in parts if p)
        if self.must_start_with_letter and (not joined or not joined[0].isalpha()):
            joined = "p" + joined
        if len(joined) <= self.max_len and len(joined) >= self.min_len:
            return joined
        digest = hashlib.sha256("/".join(parts).encode()).hexdigest()[:_HASH_LEN]
        keep = self.max_len - _HASH_LEN - len(self.separator)
        head = joined[:keep].rstrip("-_.")
        name = f"{head}{self.separator}{digest}"
        return name.ljust(self.min_len, "0")


@functools.cache
def _disallowed(alphabet: str) -> re.Pattern[str]:
    """The pattern of characters outside ``alphabet`` (compiled once per alphabet, not per name)."""
    return re.compile(f"[^{alphabet}]")


@dataclass
class NameRegistry:
    """Remembers every derived name per (rule scope, key) and reports collisions once."""

    sink: DiagnosticSink
    _taken: dict[tuple[str, str, str], tuple[SpecDocument, str]] = field(default_factory=dict)
    log: list[Claim] | None = None
    """When a list, every claim is also recorded there, for :meth:`replay` in another process."""

    def claim(self, rule: NameRule, scope_key: str, name: str, document: SpecDocument, purpose: str) -> str:
        if self.log is not None:
            self.log.append((rule, scope_key, name, document.kind, document.name, purpose))
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

    def replay(self, claims: list[Claim], index: SpecIndex) -> None:
        """Claim again, in order, names another process claimed (documents found by kind and name)."""
        for rule, scope_key, name, kind, doc_name, purpose in claims:
            document = index.get(kind, doc_name)
            if document is not None:
                self.claim(rule, scope_key, name, document, purpose)


Claim = tuple[NameRule, str, str, str, str, str]
"""(rule, scope key, name, document kind, document name, purpose): one recorded claim."""
