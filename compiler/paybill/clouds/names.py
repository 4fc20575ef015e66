"""Cloud resource name rules: length and alphabet per resource kind, and deterministic shortening.

Names are derived only from spec names (already restricted to ``[a-z0-9-]``), so derivation never
has to guess; what differs per cloud is length and alphabet (Azure storage accounts allow 3-24
lower-case alphanumerics only, S3 buckets 3-63 with hyphens...). When a name is too long it is cut
and a stable 6-character hash of the *full* name is appended, so two long names that share a prefix
still differ, and the same spec always yields the same name.

The rules are part of a cloud's profile (:attr:`CloudProfile.names`); the registry that claims names
and reports collisions stays in the emitter (:mod:`paybill.emit.terraform.naming`).
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass

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
