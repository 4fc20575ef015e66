"""A spec document: its envelope, its data, and the composed node tree that locates any path in it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from yaml.nodes import Node

from paybill.diagnostics import Position
from paybill.load.yaml_tree import compose_documents, locate


def git_blob_id(raw: bytes) -> str:
    """The object id git gives a file with these bytes (``git hash-object``: SHA-1 of ``blob <size>\\0``
    and the bytes), so a later reader of a commit can tell from ``git ls-tree`` alone, without reading
    a blob, that it holds exactly the bytes a compile parsed (:mod:`paybill.plan.committed`)."""
    digest = hashlib.sha1(b"blob %d\0" % len(raw))
    digest.update(raw)
    return digest.hexdigest()


class SourceText:
    """The text of one spec file, composed again into nodes only when a position is asked for.

    Keeping every composed node tree alive costs about 60 objects per tenant file; with 10,000 files
    that is memory and, worse, cyclic-GC passes over millions of objects that made validation several
    times slower than parsing. A clean run never asks for a position, so it never composes twice.
    Documents of one file share one ``SourceText``, so the file is composed at most once more.
    """

    __slots__ = ("_nodes", "_text")

    def __init__(self, text: str) -> None:
        self._text: str | None = text
        self._nodes: list[Node | None] | None = None

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = self._read()
        return self._text

    def _read(self) -> str:  # pragma: no cover - only FileText has no text up front
        return ""

    def node(self, index: int) -> Node | None:
        if self._nodes is None:
            try:
                self._nodes = compose_documents(self.text)
            except Exception:  # a file changed under a cached load: no position rather than a crash
                self._nodes = []
        return self._nodes[index] if 0 <= index < len(self._nodes) else None


class FileText(SourceText):
    """The text of a spec file whose documents came from the load cache (:mod:`paybill.load.cache`).

    An unchanged file is not read at all on a cached load; it is read only if a position in it is
    asked for, and only trusted if its bytes still hash to what the cache recorded (else positions
    are unknown, never wrong).
    """

    __slots__ = ("_digest", "_path")

    def __init__(self, path: str, digest: str) -> None:
        super().__init__("")
        self._text = None
        self._path = path
        self._digest = digest

    def _read(self) -> str:
        import hashlib

        try:
            with open(self._path, "rb") as handle:
                raw = handle.read()
        except OSError:
            return ""
        if hashlib.sha256(raw).hexdigest() != self._digest:
            return ""
        return raw.decode("utf-8", "replace").removeprefix("\ufeff")


@dataclass(slots=True)
class SpecDocument:
    """One YAML document of a spec file.

    ``data`` is the plain dict handed to the models. ``position()`` turns a path like
    ``("spec", "plan")`` into a line and column, only when a stage has something to report: it uses
    ``node`` when the loader kept it, else composes ``source`` again (see :class:`SourceText`).
    Use ``position()`` or ``tree()``, not ``node`` directly: it is None until first needed.
    """

    path: str
    index: int
    data: dict[str, Any]
    node: Node | None = field(compare=False)
    kind: str
    name: str
    text_hash: str = ""
    model: Any = field(default=None)
    source: SourceText | None = field(default=None, repr=False, compare=False)
    blob_id: str = field(default="", repr=False, compare=False)
    """:func:`git_blob_id` of the file's bytes ('' when not known): like ``text_hash``, it names the bytes."""

    @property
    def ref(self) -> str:
        """``Kind/name``: how users and the graph name a spec."""
        return f"{self.kind}/{self.name}"

    def tree(self) -> Node | None:
        """The composed YAML node of this document (composed again from ``source`` on first use)."""
        if self.node is None and self.source is not None:
            self.node = self.source.node(self.index)
        return self.node

    def position(self, *loc: str | int, key: bool = False) -> Position:
        return locate(self.tree(), tuple(loc), want_key=key)
