"""Which of two clashing declarations "introduced" a duplicate, and how to point at the other one.

Validation sees one tree, not its history, so "introduced" is defined by position: of two documents
declaring the same name (a spec name, a table, a tier, a workflow claimed by two agents), the one
later in file path order (then later in its file) is the duplicate and carries the diagnostic; the
earlier one keeps the name. The message names the earlier declaration's ``path:line:col``, so both
places are in one line. The order never depends on spec names, so renaming the earlier document
does not move the error to another file.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from paybill.load.document import SpecDocument


def declaration_order(documents: Iterable[SpecDocument]) -> Iterator[SpecDocument]:
    """``documents`` by file path, then by where each starts in its file (its ``metadata.name``)."""

    def key(doc: SpecDocument) -> tuple[str, int, int]:
        where = doc.position("metadata", "name")
        return (doc.path, where.line, where.col)

    yield from sorted(documents, key=key)


def located(doc: SpecDocument, *loc: Any) -> str:
    """``path:line:col`` of a place in ``doc`` (the other location a duplicate's message names)."""
    where = doc.position(*loc)
    return f"{doc.path}:{where.line}:{where.col}"
