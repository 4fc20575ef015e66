"""Tenant moves one apply cannot carry out without losing data: the checks ``paybill plan`` makes in the
pull request and ``paybill apply plan`` makes again on main.

Two moves of a live tenant destroy its dedicated (silo) data stores in the apply of the commit that
makes them, before anything is copied:

* PB0948: a data-holding layer (keys, database, storage) moves from silo to pooled without
  ``spec.isolation.pooling``, the reviewed record that the data was copied into the pool first;
* PB0949: a tenant with a dedicated key, database or bucket changes ``placement.cloud`` or
  ``placement.region``: its stack follows the placement, so the apply replaces the stores in the new
  place (new and empty; the old ones destroyed).

``paybill plan`` refuses both in the pull request, with the runbook (:mod:`paybill.plan.isolation`,
:mod:`paybill.plan.pooling`). A commit that reaches main without that check (a direct push, an admin
merge) would still be applied, so ``paybill apply plan`` runs the same checks on the base and head
versions of every tenant whose stack changed (:func:`unsafe_moves`). They live here, below both
(``plan`` and ``apply`` are siblings that may not import each other), so the two commands cannot
drift apart: the same code decides, with the same codes and messages.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from paybill.changes.model import Finding
from paybill.diagnostics import DiagnosticSink
from paybill.load import SpecDocument, load_source
from paybill.models.tenant import Tenant, isolation_placements
from paybill.validate import validate_documents
from paybill.validate.index import SpecIndex

CODE_UNRECORDED_POOLING = "PB0948"
"""A data-holding layer moves from silo to pooled without a matching ``spec.isolation.pooling`` record."""
CODE_SILO_RELOCATED = "PB0949"
"""A live tenant with dedicated data stores moves to another cloud or region in one commit."""
POOLING_RUNBOOK = "README.md, 'Moving a tenant to less isolation'"
RELOCATION_RUNBOOK = "README.md, 'Moving a tenant to another region or cloud'"
DATA_LAYERS = ("keys", "database", "storage")
"""Layers whose contents must be carried over (keys: ciphertext must be re-encrypted)."""


def isolation_text(isolation: object) -> str:
    """An isolation (or a migration's ``from``) in the flow style a user would write it."""
    model = getattr(isolation, "model", "")
    if model != "bridge":
        return f"{{model: {model}}}"
    placements = isolation_placements(isolation)  # type: ignore[arg-type]
    layers = ", ".join(f"{layer}: {place}" for layer, place in placements.items())
    return f"{{model: bridge, layers: {{{layers}}}}}"


def record_text(old: Tenant) -> str:
    """The ``pooling`` record for a tenant whose isolation before this commit was ``old``'s."""
    return f"pooling: {{from: {isolation_text(old.spec.isolation)}, copiedAt: \"YYYY-MM-DD\"}}"


def pooled_data_layers(old: Tenant, new: Tenant) -> list[str]:
    """The data-holding layers that move from silo to pooled between two versions of a tenant."""
    return [layer for layer in DATA_LAYERS
            if old.layer_placement(layer) == "silo" and new.layer_placement(layer) == "pooled"]


def moves_region(old: Tenant, new: Tenant) -> bool:
    """True when the tenant changes cloud or region (its stack, and every layer of it, follows)."""
    return (old.spec.placement.cloud, old.spec.placement.region) != \
        (new.spec.placement.cloud, new.spec.placement.region)


def relocated_data_layers(old: Tenant, new: Tenant) -> list[str]:
    """The dedicated data stores a move to another cloud or region would replace: none for a tenant
    still ``onboarding`` (nothing is in them yet)."""
    if not moves_region(old, new) or old.spec.lifecycle == "onboarding":
        return []
    return [layer for layer in DATA_LAYERS if old.holds(layer, "silo")]


def compared(old: Tenant, new: Tenant) -> bool:
    """Whether the two versions are checked at all: a deleted tenant is offboarding's flow, and a staged
    isolation migration is checked phase by phase (PB0945-PB0947)."""
    return "deleted" not in (old.spec.lifecycle, new.spec.lifecycle) and old.migration is None \
        and new.migration is None


def unrecorded_pooling(doc: SpecDocument, old: Tenant, new: Tenant) -> Finding | None:
    """PB0948 when ``new`` pools silo data layers of ``old`` without a ``pooling`` record whose ``from``
    is ``old``'s isolation (``doc`` is the head's document: the finding points into it)."""
    pooled = pooled_data_layers(old, new)
    if not pooled:
        return None
    record = new.pooling
    had = isolation_text(old.spec.isolation)
    if record is not None:
        if isolation_placements(record.from_) == old.placements:
            return None
        return _error(CODE_UNRECORDED_POOLING, doc, ("spec", "isolation", "pooling", "from"),
                      f"pooling.from must be the isolation tenant '{doc.name}' has before this commit ({had})",
                      f"set 'from: {had}' (the record says which dedicated stores were copied into the pool)")
    pool = new.spec.placement.pool or "its pool"
    stores = ", ".join(pooled)
    return _error(
        CODE_UNRECORDED_POOLING, doc, ("spec", "isolation"),
        f"tenant '{doc.name}' moves {stores} from silo to pooled in one commit, and nothing records that its "
        f"data was copied into {pool}: the apply destroys the dedicated {stores} (and, with deletion "
        "protection on, stops half-way with the stack stuck)",
        f"copy the data into the pool first, take a final snapshot and lift deletion protection (runbook: "
        f"{POOLING_RUNBOOK}; the PB0920 finding lists the steps), then record it in this commit under "
        f"spec.isolation: '{record_text(old)}'")


def silo_relocation(doc: SpecDocument, old: Tenant, new: Tenant) -> Finding | None:
    """PB0949 when a live tenant with dedicated data stores changes cloud or region."""
    relocated = relocated_data_layers(old, new)
    if not relocated:
        return None
    journey = (f"from {old.spec.placement.cloud}/{old.spec.placement.region} to "
               f"{new.spec.placement.cloud}/{new.spec.placement.region}")
    return _error(
        CODE_SILO_RELOCATED, doc, ("spec", "placement"),
        f"tenant '{doc.name}' moves {journey} with its dedicated {', '.join(relocated)}: they are resources of "
        f"stack tenant/{doc.name}, which follows the placement, so the apply replaces them in the new place "
        "before anything is copied (new, empty stores; the old ones destroyed, or, with deletion protection "
        "on, the apply stopped half-way)",
        f"keep this tenant where it is; onboard it again under a new name in {new.spec.placement.cloud}/"
        f"{new.spec.placement.region}, copy its data there, cut over, then offboard this one (runbook: "
        f"{RELOCATION_RUNBOOK}; the PB0920 finding lists the steps)")


def detect_unsafe_moves(base: SpecIndex, head: SpecIndex, names: Iterable[str] | None = None) -> list[Finding]:
    """PB0948 and PB0949 for every tenant of ``head`` (or only ``names``) that ``base`` has too."""
    findings: list[Finding] = []
    wanted = None if names is None else set(names)
    for doc in head.of_kind("Tenant"):
        old_doc = base.get("Tenant", doc.name)
        if old_doc is None or old_doc.model is doc.model or (wanted is not None and doc.name not in wanted):
            continue  # new, or one document shared by both sides (an unchanged file): nothing moves
        old, new = old_doc.model, doc.model
        if not compared(old, new):
            continue
        for finding in (silo_relocation(doc, old, new), unrecorded_pooling(doc, old, new)):
            if finding is not None:
                findings.append(finding)
    return findings


def unsafe_moves(base_files: Mapping[str, bytes], head_files: Mapping[str, bytes],
                 tenants: Iterable[str]) -> tuple[list[Finding], list[str]]:
    """(PB0948 and PB0949 findings, tenants that could not be checked) for ``tenants``, from the spec
    files that hold them on each side (display path -> bytes: the ``sources`` of their stacks in each
    side's manifest).

    Only the tenant documents are read and schema-validated, not the whole repository: the checks need
    no other spec, and ``paybill apply plan`` passes only the files that differ between the two sides.
    A tenant found on neither side is in a file both sides share: nothing of it moved. One found on
    one side only (or valid on one side only) cannot be checked: both sides were compiled (their
    manifests list these files), so that means files the caller could not read, and the caller
    decides what that means (``paybill apply plan`` refuses to guess).
    """
    wanted = set(tenants)
    sides = []
    for files in (base_files, head_files):
        documents: list[SpecDocument] = []
        for display, raw in sorted(files.items()):
            documents += [doc for doc in load_source(raw, display, DiagnosticSink())
                          if doc.kind == "Tenant" and doc.name in wanted]
        sides.append(validate_documents(documents, DiagnosticSink(), rules=False))
    base, head = sides
    unchecked = sorted(name for name in wanted
                       if (base.get("Tenant", name) is None) != (head.get("Tenant", name) is None))
    findings = sorted(detect_unsafe_moves(base, head, wanted), key=lambda f: (f.subject, f.code))
    return findings, unchecked


def _error(code: str, doc: SpecDocument, loc: tuple[str | int, ...], message: str, hint: str) -> Finding:
    return Finding(code, "error", "isolation", f"Tenant/{doc.name}", message, doc.path, doc.position(*loc), hint)
