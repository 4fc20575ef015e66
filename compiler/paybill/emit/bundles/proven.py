"""Cedar checks that passed before, remembered across compiles (the unit store, :mod:`paybill.store`).

Loading a bundle into Cedar and asking it every workflow question (:mod:`paybill.emit.bundles.checks`)
is a pure function of what Cedar is given: the schema, policies and entities texts, the golden
tests, and the step and transition requests with their run entities. At 10,000 tenants the entities
alone make the load cost ~0.2 s per agent, paid on every compile although a one-tenant edit rarely
changes any of it (a tenant's display name is in no bundle file; its spec file's digest is only in
the bundle's manifest). So a check that reported *nothing* is remembered under a hash of exactly
those inputs and the Cedar engine's version (:func:`proof_key`); a later compile with the same hash
knows the answer without asking. A check that reported anything is never remembered, so a finding
is reported on every compile, with its position. The entry is verified like every cache entry (its
compiler stamp and SHA-256): a damaged or foreign one is a miss, and the checks run.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from paybill.emit.bundles.checks import RequestBatch
from paybill.store import UnitStore

NAMESPACE = "bundle-checks"
"""The unit store namespace: one entry per agent, the key of its last clean check."""
PROVEN = "clean"
LOADS_NAMESPACE = "bundle-loads"
"""The unit store namespace of :class:`LoadProofs`: one entry per agent."""


def proof_key(texts: dict[str, str], tests: list[dict[str, Any]], batch: RequestBatch, cedar: str) -> str:
    """A hash of every input of the bundle checks, and of the Cedar engine (``cedarpy``) version."""
    digest = hashlib.sha256()
    for part in (cedar, texts["schema"], texts["policies"], texts["entities"]):
        digest.update(part.encode("utf-8", "surrogateescape"))
        digest.update(b"\0")
    for data in (tests, batch.entities, batch.requests):
        digest.update(orjson.dumps(data, option=orjson.OPT_SORT_KEYS))
        digest.update(b"\0")
    return digest.hexdigest()


def proven(store: UnitStore | None, agent: str, key: str) -> bool:
    """True when ``store`` holds a clean check of ``agent`` for exactly these inputs (``key``)."""
    return store is not None and store.get(NAMESPACE, agent, key) == PROVEN


def remember(store: UnitStore | None, agent: str, key: str) -> None:
    """Record that the checks of ``agent`` with these inputs reported nothing."""
    if store is not None:
        store.put(NAMESPACE, agent, key, PROVEN)


class LoadProofs:
    """Chunks of an agent's entities that Cedar loaded without an error, by the SHA-256 of their text.

    When a bundle's checks must run again (a label edit changes its entities), Cedar still loads the
    ~10,000 tenant entities no check names only to prove that they load
    (:func:`paybill.emit.bundles.checks.load_engine`), and nearly all of them are in chunks whose
    text a previous compile loaded. Loading is a pure function of the text, the schema text and the
    Cedar engine's version whose only outcome kept is "it loaded", so an equal text under an equal
    schema and version needs no second load. An agent's entry is keyed by a hash of the schema text
    and the ``cedarpy`` version and holds the digests of the chunks of the last compile whose every
    chunk loaded (so it never grows past one compile's chunks); a damaged or foreign entry is a miss
    (:mod:`paybill.store`), and every chunk is loaded.
    """

    def __init__(self, store: UnitStore | None, agent: str, schema_text: str, cedar: str) -> None:
        self.store = store
        self.agent = agent
        self.key = hashlib.sha256(f"{cedar}\0{schema_text}".encode("utf-8", "surrogateescape")).hexdigest()
        found = store.get(LOADS_NAMESPACE, agent, self.key) if store is not None else None
        self.known = frozenset(d for d in found if isinstance(d, str)) if isinstance(found, (list, tuple)) \
            else frozenset()
        self.seen: list[str] = []

    def needs(self, text: str) -> bool:
        """Whether ``text`` must be loaded, because no earlier compile loaded exactly it (counted either way)."""
        digest = hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()
        self.seen.append(digest)
        return digest not in self.known

    def remember(self) -> None:
        """Every chunk :meth:`needs` was asked about has loaded: record them, and only them."""
        if self.store is not None and frozenset(self.seen) != self.known:
            self.store.put(LOADS_NAMESPACE, self.agent, self.key, sorted(set(self.seen)))
