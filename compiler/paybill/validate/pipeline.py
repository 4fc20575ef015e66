"""Run the validation stages over a repository and hand on the index of valid specs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from paybill.diagnostics import Diagnostic, DiagnosticSink
from paybill.gcpause import gc_paused
from paybill.load import LoadLimits, SpecDocument, load_repository, report_no_spec_files
from paybill.load.limits import DEFAULT_LIMITS
from paybill.models.registry import model_for_kind
from paybill.validate.envelope import check_envelope
from paybill.validate.index import SpecIndex
from paybill.validate.schema_errors import report_validation_error


@dataclass
class ValidationResult:
    """The outcome of validation: the index of valid specs and every diagnostic, sorted."""

    index: SpecIndex
    diagnostics: list[Diagnostic]
    files: int

    @property
    def ok(self) -> bool:
        return not any(d.severity == "error" for d in self.diagnostics)


def _validate_schema(document: SpecDocument, sink: DiagnosticSink, reuse_model: bool = False) -> bool:
    if not check_envelope(document, sink):
        return False
    try:
        model = model_for_kind(document.kind)
        assert model is not None, "check_envelope accepts known kinds only"
        if reuse_model and type(document.model) is model:
            return True  # validated before from the same, never mutated data: models are frozen
        document.model = model.model_validate(document.data)
    except ValidationError as error:
        report_validation_error(document, error, sink)
        return False
    return True


def validate_documents(
    documents: list[SpecDocument], sink: DiagnosticSink, unloadable: set[tuple[str, str]] | None = None,
    *, reuse_models: bool = False, rules: bool = True,
) -> SpecIndex:
    """Schema-validate every document, index the valid ones, then run every semantic rule.

    ``unloadable`` names specs whose files failed to load; like documents that fail their schema,
    references to them are not reported again. ``reuse_models``: a document whose ``model`` an
    earlier validation set keeps it instead of being validated again. Only for documents whose
    ``data`` nothing mutates: ``paybill plan`` shares one document object between its two sides
    for every file that did not change (:mod:`paybill.gitio.blobcache`), so the schema check of
    ~10,000 unchanged tenants runs once, not twice. Envelope checks and every rule still run.
    ``rules=False`` skips the semantic rules: only for documents known to validate without an error
    (``paybill plan``'s base side when it is exactly what a successful compile validated, see
    :meth:`paybill.gitio.blobcache.BlobCache.all_known`), whose warnings nobody reads.
    """
    index = SpecIndex()
    index.broken |= unloadable or set()
    for document in documents:
        if not _validate_schema(document, sink, reuse_models):
            if document.kind and document.name:
                index.broken.add((document.kind, document.name))
            continue
        earlier = index.add(document)
        if earlier is not None:
            first = earlier.position("metadata", "name")
            sink.error(
                "PB0301",
                f"{document.kind} '{document.name}' is already defined at "
                f"{earlier.path}:{first.line}:{first.col}",
                document.path,
                document.position("metadata", "name"),
                "names are unique per kind; rename one of them",
            )
    if rules:
        run_rules(index, sink)
    return index


def run_rules(index: SpecIndex, sink: DiagnosticSink) -> None:
    """Every semantic rule over ``index`` (what ``validate_documents`` runs after the schema checks).

    Rules only report: they change neither the index nor its documents' models, so they may run in a
    helper process beside the next stage (:func:`paybill.compile.pipeline.compile_documents`).
    """
    # imported here: the rules bring networkx (workflow graphs), which a caller that runs none
    # (``paybill plan`` from committed trees) does not pay for
    from paybill.validate.rules import ALL_RULES, Reporter

    for rule in ALL_RULES:
        rule.check(index, Reporter(rule.code, sink, index, warning=rule.warning))


def rule_findings(index: SpecIndex) -> list[Diagnostic]:
    """:func:`run_rules`' diagnostics, in the order reported (what a helper process sends back)."""
    sink = DiagnosticSink()
    run_rules(index, sink)
    return sink.items()


def validate_repository(root: Path, limits: LoadLimits = DEFAULT_LIMITS) -> ValidationResult:
    """Load and validate every spec under ``root``."""
    sink = DiagnosticSink()
    with gc_paused():  # see paybill.gcpause
        loaded = load_repository(root, sink, limits)
        report_no_spec_files(root, loaded, sink)
        index = validate_documents(loaded.documents, sink, loaded.unloadable)
    return ValidationResult(index, sink.sorted(), loaded.files)
