"""Hard limits that keep hostile input from exhausting the machine."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LoadLimits:
    """Bounds for one spec file. Defaults are far above any real spec and far below harm."""

    max_file_bytes: int = 1 << 20  # 1 MiB: a tenant spec is ~1 KiB; the largest data model a few dozen
    max_depth: int = 32  # the deepest real spec path is about 8 levels
    max_nodes: int = 100_000  # nodes after alias expansion, per document: stops billion-laughs
    max_documents: int = 1_000  # documents per file


DEFAULT_LIMITS = LoadLimits()
