"""The rule contract and the reporter a rule writes through."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from paybill.diagnostics import DiagnosticSink
from paybill.diagnostics.suggest import did_you_mean
from paybill.load.document import SpecDocument
from paybill.validate.index import SpecIndex


class Reporter:
    """Reports diagnostics of one rule's code at positions inside a document."""

    __slots__ = ("code", "index", "sink", "warning")

    def __init__(self, code: str, sink: DiagnosticSink, index: SpecIndex, *, warning: bool = False) -> None:
        self.code = code
        self.sink = sink
        self.index = index
        self.warning = warning

    def __call__(
        self, document: SpecDocument, loc: tuple[str | int, ...], message: str, hint: str | None = None,
        *, key: bool = False,
    ) -> None:
        report = self.sink.warning if self.warning else self.sink.error
        report(self.code, message, document.path, document.position(*loc, key=key), hint)

    def unknown(
        self, document: SpecDocument, loc: tuple[str | int, ...], what: str, name: str, known: Iterable[str],
        *, kind: str | None = None, of: str = "",
    ) -> None:
        """An unresolved reference, with did-you-mean over the names that do exist.

        With ``kind``, a name whose document exists but failed schema validation is not reported
        again: that document's own errors are the root cause, and a second error would mislead.
        """
        if kind is not None and self.index.is_broken(kind, name):
            return
        known = list(known)
        hint = did_you_mean(name, known)
        if hint is None:
            hint = f"known: {', '.join(sorted(known)[:12])}" if known else f"no {what} is defined"
        self(document, loc, f"unknown {what} '{name}'{' ' + of if of else ''}", hint)


@dataclass(frozen=True, slots=True)
class Rule:
    """A semantic rule: its code, a one-line title for docs, and the check itself."""

    code: str
    title: str
    check: Callable[[SpecIndex, Reporter], None]
    warning: bool = False
