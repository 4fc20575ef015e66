"""Envelope checks that decide which model a document is validated against."""

from __future__ import annotations

from paybill import API_VERSION
from paybill.diagnostics import DiagnosticSink
from paybill.diagnostics.suggest import did_you_mean
from paybill.load.document import SpecDocument
from paybill.models.registry import KINDS


def check_envelope(document: SpecDocument, sink: DiagnosticSink) -> bool:
    """True when the document names a known apiVersion and kind; otherwise report why not."""
    data = document.data
    ok = True
    api_version = data.get("apiVersion")
    if api_version != API_VERSION:
        if api_version is None:
            sink.error("PB0110", "missing 'apiVersion'", document.path, document.position(),
                       f"add 'apiVersion: {API_VERSION}'")
        else:
            sink.error("PB0110", f"unknown apiVersion '{api_version}'", document.path,
                       document.position("apiVersion"), f"use '{API_VERSION}'")
        ok = False
    kind = data.get("kind")
    if not isinstance(kind, str) or kind not in KINDS:  # a list or mapping here is not even hashable
        if kind is None:
            sink.error("PB0111", "missing 'kind'", document.path, document.position(),
                       f"add 'kind:' with one of {', '.join(KINDS)}")
        else:
            hint = did_you_mean(str(kind), KINDS) or f"known kinds: {', '.join(KINDS)}"
            sink.error("PB0111", f"unknown kind '{kind}'", document.path, document.position("kind"), hint)
        ok = False
    return ok
