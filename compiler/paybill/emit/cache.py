"""An optional memo for compiled units, keyed by a fingerprint of the unit's inputs.

``paybill plan`` compiles the base and the head of a change; most units are identical on both
sides. An emitter that can name the inputs of a unit (a tenant's entitlements depend only on the
tenant document and its plan document) asks the cache before building it::

    cache = ctx.cache
    data = memo(cache, "entitlements", tenant_name, fingerprint, lambda: render(...))

Fingerprints must cover *every* input of the unit, or a stale value is returned: use
:func:`document_fingerprint` for documents (path, position in file, hash of the file's bytes).
The cache keeps the last two versions per unit (base and head), so memory stays bounded by
the number of units however many compiles share it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, TypeVar

from paybill.load.document import SpecDocument

T = TypeVar("T")
_VERSIONS = 2


class CompileCache:
    """Unit -> up to two (fingerprint, value) pairs, most recent last."""

    __slots__ = ("_units", "hits", "misses")

    def __init__(self) -> None:
        self._units: dict[tuple[str, str], list[tuple[Any, Any]]] = {}
        self.hits = 0
        self.misses = 0

    def get_or_build(self, namespace: str, key: str, fingerprint: object, build: Callable[[], T]) -> T:
        versions = self._units.setdefault((namespace, key), [])
        for i, (known, value) in enumerate(versions):
            if known == fingerprint:
                self.hits += 1
                if i != len(versions) - 1:
                    versions.append(versions.pop(i))
                built: T = value  # what build() returned for this unit and fingerprint
                return built
        self.misses += 1
        value = build()
        versions.append((fingerprint, value))
        if len(versions) > _VERSIONS:
            del versions[0]
        return value

    def __len__(self) -> int:
        return len(self._units)


def document_fingerprint(document: SpecDocument | None) -> tuple[str, int, str] | None:
    """What identifies a document's content; None when unknown (then nothing is cached)."""
    if document is None or not document.text_hash:
        return None
    return (document.path, document.index, document.text_hash)


def memo(cache: CompileCache | None, namespace: str, key: str, fingerprint: object, build: Callable[[], T]) -> T:
    """``build()`` through ``cache`` when there is one and the fingerprint is complete."""
    if cache is None or fingerprint is None or (isinstance(fingerprint, tuple) and None in fingerprint):
        return build()
    return cache.get_or_build(namespace, key, fingerprint, build)


def unit_key(*parts: object) -> str | None:
    """The key of a unit in the on-disk unit store (:class:`paybill.store.UnitStore`): a hash of ``parts``.

    ``parts`` must name *every* input the unit's build reads (document fingerprints, derived values
    such as an allocated network, which code builds it); None in ``parts`` (an input whose content is
    unknown) makes the unit uncacheable (returns None). Each part is written with ``repr``, which is
    deterministic for the plain values used here (strings, numbers, tuples, None).
    """
    digest = hashlib.sha256()
    for part in parts:
        if part is None:
            return None
        digest.update(repr(part).encode("utf-8", "surrogateescape"))
        digest.update(b"\0")
    return digest.hexdigest()
