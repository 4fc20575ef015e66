"""Stage 2, validate: envelope -> schema (pydantic) -> index -> semantic rules.

Every step reports into one :class:`~paybill.diagnostics.DiagnosticSink`, so a single run lists every
problem in the repository; later steps only look at documents that passed the earlier ones.
"""

from paybill.validate.pipeline import ValidationResult, validate_documents, validate_repository

__all__ = ["ValidationResult", "validate_documents", "validate_repository"]
