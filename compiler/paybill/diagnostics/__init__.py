"""Diagnostics: the one currency every stage reports problems in.

Every stage appends :class:`Diagnostic` objects to a :class:`DiagnosticSink` instead of raising, so one
run reports every problem (like a compiler), and every output format renders the same list.
"""

from paybill.diagnostics.model import Diagnostic, DiagnosticSink, Position, Severity

__all__ = ["Diagnostic", "DiagnosticSink", "Position", "Severity"]
