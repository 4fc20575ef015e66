"""Parsed spec documents cached by git blob hash.

A spec file that did not change between the base and the head of a plan, or across hundreds of
commits in an audit, has the same blob hash: it is decoded and composed once per process. The key
includes the display path because documents carry their path (a file moved unchanged is a new key
but the same bytes, and re-parsing it is cheap next to reporting the wrong path).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from paybill.diagnostics import Diagnostic, DiagnosticSink
from paybill.load import SpecDocument, load_source
from paybill.load.limits import DEFAULT_LIMITS, LoadLimits


class KnownParses(Protocol):
    """Files parsed by an earlier process, found by their bytes (:meth:`paybill.load.cache.LoadCache.documents_of`)."""

    def documents_of(self, display: str, raw: bytes) -> list[SpecDocument] | None: ...

    def displays(self) -> frozenset[str]: ...


@dataclass(frozen=True, slots=True)
class Parsed:
    documents: tuple[SpecDocument, ...]
    diagnostics: tuple[Diagnostic, ...]


class BlobCache:
    """(blob hash, display path) -> documents and load diagnostics.

    ``known``: the parse cache a compile left in the cache folder (``paybill plan`` passes the
    specs root's :class:`~paybill.load.cache.LoadCache`). A file it holds with the same bytes is
    not parsed again: the base side of a one-tenant change at 10,000 tenants is ~10,000 files the
    base commit's compile already parsed. Only files that loaded without a diagnostic are in it,
    so a hit has none, as parsing would; used with the default limits only, which that compile used.
    """

    def __init__(self, limits: LoadLimits = DEFAULT_LIMITS, known: KnownParses | None = None) -> None:
        self.limits = limits
        self.known = known if limits == DEFAULT_LIMITS else None
        self._from_known: set[tuple[str, str]] = set()
        self._parsed: dict[tuple[str, str], Parsed] = {}
        self.hits = 0
        self.misses = 0

    def __contains__(self, key: tuple[str, str]) -> bool:
        return key in self._parsed

    def parse(self, blob: str, display: str, raw: bytes) -> Parsed:
        key = (blob, display)
        found = self._parsed.get(key)
        if found is not None:
            self.hits += 1
            return found
        self.misses += 1
        fits = len(raw) <= self.limits.max_file_bytes
        reused = self.known.documents_of(display, raw) if self.known is not None and fits else None
        if reused is not None:
            parsed = Parsed(tuple(reused), ())
            self._parsed[key] = parsed
            self._from_known.add(key)
            return parsed
        sink = DiagnosticSink()
        documents = load_source(raw, display, sink, self.limits)
        parsed = Parsed(tuple(documents), tuple(sink.sorted()))
        self._parsed[key] = parsed
        return parsed

    def all_known(self, keys: Iterable[tuple[str, str]]) -> bool:
        """Whether the files ``keys`` ((blob, display) of one side) are exactly the files of ``known``,
        each served from it: then they are the inputs of a compile that succeeded, so validating them
        reports no error (:meth:`paybill.load.cache.LoadCache.displays`)."""
        if self.known is None:
            return False
        keys = list(keys)
        return all(key in self._from_known for key in keys) and \
            {display for _, display in keys} == self.known.displays()

    def get(self, blob: str, display: str) -> Parsed | None:
        found = self._parsed.get((blob, display))
        if found is not None:
            self.hits += 1
        return found

    def documents(self, blob: str, display: str, raw: bytes, sink: DiagnosticSink) -> list[SpecDocument]:
        """Parse (or reuse) one file; its load diagnostics are replayed into ``sink`` every time."""
        parsed = self.parse(blob, display, raw)
        sink.extend(list(parsed.diagnostics))
        return list(parsed.documents)

    def __len__(self) -> int:
        return len(self._parsed)
