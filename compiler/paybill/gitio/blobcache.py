"""Parsed spec documents cached by git blob hash.

A spec file that did not change between the base and the head of a plan, or across hundreds of
commits in an audit, has the same blob hash: it is decoded and composed once per process. The key
includes the display path because documents carry their path (a file moved unchanged is a new key
but the same bytes, and re-parsing it is cheap next to reporting the wrong path).
"""

from __future__ import annotations

from dataclasses import dataclass

from paybill.diagnostics import Diagnostic, DiagnosticSink
from paybill.load import SpecDocument, load_source
from paybill.load.limits import DEFAULT_LIMITS, LoadLimits


@dataclass(frozen=True, slots=True)
class Parsed:
    documents: tuple[SpecDocument, ...]
    diagnostics: tuple[Diagnostic, ...]


class BlobCache:
    """(blob hash, display path) -> documents and load diagnostics."""

    def __init__(self, limits: LoadLimits = DEFAULT_LIMITS) -> None:
        self.limits = limits
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
        sink = DiagnosticSink()
        documents = load_source(raw, display, sink, self.limits)
        parsed = Parsed(tuple(documents), tuple(sink.sorted()))
        self._parsed[key] = parsed
        return parsed

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
