"""What the delta compile knows about the last compile into an output folder (a cache entry per folder).

Saved by every compile that wrote an output folder, from the documents it validated and the
listings its emitters published; read back only when it names exactly the spec files' digests and
the ``manifest.json`` digest that the output folder's record and journal hold, so a state from
another compile, another folder or other code (the entry's stamp, :mod:`paybill.store`) is never used.

Which fields an edit may change is fixed here (:data:`PATCHED_FIELDS`: the identity fields, the
billing status and the labels), with the providers whose stacks read one of them
(:data:`DISPLAY_NAME_IN_STACK`) and the agents whose scope a label edit could move a tenant in or
out of (:attr:`DeltaState.selectors`).
``tests/compile/test_compile_delta.py`` checks that no other compiler module reads those fields, so
a new reader cannot silently make a delta compile differ from a full one.
"""

from __future__ import annotations

import hashlib
import marshal
import math
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from paybill import store
from paybill.load import SpecDocument

STATE_FORMAT = 3
NAMESPACE = "delta-state"

IDENTITY_FIELDS: tuple[tuple[str, ...], ...] = (
    ("spec", "displayName"),
    ("spec", "contacts"),
    ("spec", "billing", "customerId"),
)
"""Tenant fields read only by the entitlement file (display name, customer id), the GCP tenant stack
(display name) and the tenant's own schema validation (all three): what the delta compile patches."""

BILLING_STATUS: tuple[str, ...] = ("spec", "billing", "status")
"""Also patched, when the edit neither starts nor ends a trial: the status the billing webhook flow
proposes most often (``active`` -> ``past_due`` -> ``active``, ``cancelled``). Besides the tenant's
schema validation it is read by the entitlement file (``billing.status``), by rule PB0405 (billing
status against lifecycle, one document: :data:`paybill.delta.identity.ALLOWED_LIFECYCLES`) and by
the Terraform context only as "is it ``trialing``" (trial sizing, trial days): an edit to or from
``trialing`` takes the full compile."""

LABELS: tuple[str, ...] = ("metadata", "labels")
"""Also patched, when the edit moves the tenant in or out of no agent's scope and the last compile
reported nothing labels can change (:func:`paybill.delta.patch.label_sensitive`). Besides the
tenant's schema validation, a tenant's labels are read by the entitlement file (``labels``), by the
agent bundles (the tenant entity's Cedar ``tags``), by the scope resolver (a label selector,
:mod:`paybill.validate.scope`; rule PB0309's warning and hint) and by the bundle checks' choice of one
tenant per (label set, lifecycle) (generated policies never read tags, so Cedar answers alike for
every such tenant; their names appear only in failures)."""

PATCHED_FIELDS: tuple[tuple[str, ...], ...] = (*IDENTITY_FIELDS, BILLING_STATUS, LABELS)
"""Every field a delta compile may see changed: the rest of the document must hash as before."""

DISPLAY_NAME_IN_STACK = frozenset({"gcp"})
"""Providers whose tenant stack holds the tenant's display name (the GCP service account's
``display_name``, :mod:`paybill.emit.terraform.providers.gcp.identity`): a display-name edit of
such a tenant takes the full compile."""


@dataclass(frozen=True, slots=True)
class TenantEntry:
    """One Tenant document of a spec file, as the last compile validated it."""

    index: int
    """The document's position in its file."""
    name: str
    projection: str
    """SHA-256 of the document less :data:`PATCHED_FIELDS` (:func:`projection`)."""
    provider: str
    """Its cloud's provider (``aws``, ``gcp``...)."""
    display_name: str


Row = tuple[int, str, str, str, str]
"""A :class:`TenantEntry` as stored: (index, name, projection, provider, display name)."""


@dataclass(frozen=True)
class DeltaState:
    """What the compile that wrote ``manifest.json`` (of digest :attr:`manifest_sha256`) knew.

    Stored in two cache entries, so that a delta compile rewrites only a small one: the *base*
    (every tenant file's rows and the listings, ~2 MB at 10,000 tenants), written by a full compile
    and named by that compile's manifest digest; and the *overlay* (the current manifest digest, the
    base it extends and the rows of the files delta compiles changed since), rewritten by each. The
    manifest lists every input's digest, so its digest names the inputs too.
    """

    manifest_sha256: str
    base: str
    """The manifest digest of the full compile whose base entry this state extends."""
    rows: Mapping[str, tuple[Row, ...]]
    """Spec files holding only Tenant documents -> their rows, in file order (the base's)."""
    overrides: dict[str, tuple[Row, ...]]
    """Rows of files changed by delta compiles since the base (they win over :attr:`rows`)."""
    listings: Mapping[str, tuple[str, ...]]
    """Spec file -> the output files that list its SHA-256 under ``sources``."""
    selectors: Mapping[str, tuple[tuple[str, str], ...]] | None = None
    """Agent -> the labels its ``tenantScope.selector`` matches (sorted), for every agent whose scope
    is a label selector; None when unknown (an agent without a model): no label edit is patched."""

    def entries(self, path: str) -> tuple[TenantEntry, ...] | None:
        """The Tenant documents of ``path`` at the last compile; None when it is not a tenant-only file."""
        rows = self.overrides.get(path, self.rows.get(path))
        if rows is None:
            return None
        try:
            return tuple(TenantEntry(*row) for row in rows)
        except TypeError:
            return None


def row_of(entry: TenantEntry) -> Row:
    return (entry.index, entry.name, entry.projection, entry.provider, entry.display_name)


def projection(data: Mapping[str, Any]) -> str | None:
    """SHA-256 of a document's plain data without :data:`PATCHED_FIELDS`, or None when it cannot be
    hashed exactly (a key that is not a string, a value that is not JSON: the file is not delta-eligible).

    Sorted keys and JSON's distinct types (``1``, ``1.0``, ``true``, ``"1"``) make equal hashes mean
    equal data, hence an equal model and equal results of every rule that reads the rest.
    """
    copy: dict[str, Any] = dict(data)
    for path in PATCHED_FIELDS:
        _drop(copy, path)
    try:
        text = orjson.dumps(copy, option=orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME
                            | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS,
                            default=_refuse)
    except (orjson.JSONEncodeError, TypeError):
        return None
    if b"null" in text and _has_non_finite(copy):
        return None  # orjson writes NaN and infinities as null: they would hash like a null
    return hashlib.sha256(text).hexdigest()


def _has_non_finite(value: object) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_has_non_finite(item) for item in value.values())
    if isinstance(value, list):
        return any(_has_non_finite(item) for item in value)
    return False


def _refuse(value: object) -> object:
    raise TypeError(f"not plain JSON data: {type(value).__name__}")


def _drop(mapping: dict[str, Any], path: tuple[str, ...]) -> None:
    """Remove ``path`` from ``mapping``, copying each dictionary on the way (the document is shared)."""
    head, rest = path[0], path[1:]
    if head not in mapping:
        return
    if not rest:
        del mapping[head]
        return
    inner = mapping[head]
    if isinstance(inner, dict):
        mapping[head] = dict(inner)
        _drop(mapping[head], rest)


def build_state(manifest_sha256: str, documents: Iterable[SpecDocument], providers: Mapping[str, str],
                source_listings: Mapping[str, tuple[str, ...]]) -> DeltaState:
    """The state of a compile that succeeded: its manifest's digest, every document it validated,
    each cloud's provider, and its emitters' source listings."""
    by_file: dict[str, list[SpecDocument]] = {}
    selectors: dict[str, tuple[tuple[str, str], ...]] | None = {}
    for document in documents:
        by_file.setdefault(document.path, []).append(document)
        if document.kind == "Agent" and selectors is not None:
            selectors = _with_selector(selectors, document)
    rows: dict[str, tuple[Row, ...]] = {}
    for path, found in by_file.items():
        entries = [_entry(document, providers) for document in sorted(found, key=lambda d: d.index)]
        if entries and all(entry is not None for entry in entries):
            rows[path] = tuple(row_of(entry) for entry in entries if entry is not None)
    listings: dict[str, list[str]] = {}
    for output, sources in source_listings.items():
        for source in sources:
            if source in rows:
                listings.setdefault(source, []).append(output)
    return DeltaState(manifest_sha256, manifest_sha256, rows, {},
                      {path: tuple(sorted(outputs)) for path, outputs in listings.items()}, selectors)


def _with_selector(selectors: dict[str, tuple[tuple[str, str], ...]],
                   agent: SpecDocument) -> dict[str, tuple[tuple[str, str], ...]] | None:
    """``selectors`` with ``agent``'s label selector, if its scope is one; None when the agent has no model."""
    if agent.model is None:
        return None
    selector = getattr(agent.model.spec.tenant_scope, "selector", None)  # SelectorScope only
    if selector is not None:
        selectors[agent.name] = tuple(sorted(selector.match_labels.items()))
    return selectors


def _entry(document: SpecDocument, providers: Mapping[str, str]) -> TenantEntry | None:
    if document.kind != "Tenant" or document.model is None:
        return None
    spec = document.model.spec
    provider = providers.get(spec.placement.cloud)
    digest = projection(document.data)
    if provider is None or digest is None:
        return None
    return TenantEntry(document.index, document.name, digest, provider, spec.display_name)


def state_names(out: Path) -> tuple[str, str]:
    """The cache entries of ``out``'s state: (overlay, base)."""
    where = os.path.abspath(out)
    return store.key(NAMESPACE, "overlay", where), store.key(NAMESPACE, "base", where)


def save_state(cache: Path, out: Path, state: DeltaState, *, with_base: bool) -> bool:
    """Store ``state`` for ``out``; ``with_base``: a full compile's state, its base written too (each file's
    rows and listing packed on their own: :class:`_Packed`)."""
    overlay, base = state_names(out)
    packed = {path: marshal.dumps((tuple(rows), tuple(state.listings.get(path, ()))))
              for path, rows in state.rows.items()} if with_base else {}
    selectors = dict(state.selectors) if state.selectors is not None else None
    if with_base and not store.write(cache, base, (STATE_FORMAT, state.base, packed, selectors)):
        return False
    return store.write(cache, overlay, (STATE_FORMAT, state.base, state.manifest_sha256, state.overrides))


def load_state(cache: Path, out: Path) -> DeltaState | None:
    """``out``'s state, or None when absent, damaged, foreign or of another shape (either entry)."""
    overlay_name, base_name = state_names(out)
    overlay = store.read(cache, overlay_name)
    if not isinstance(overlay, tuple) or len(overlay) != 4 or overlay[0] != STATE_FORMAT:
        return None
    _, base_id, manifest_sha256, overrides = overlay
    base = store.read(cache, base_name)
    if not isinstance(base, tuple) or len(base) != 4 or base[0] != STATE_FORMAT or base[1] != base_id:
        return None
    packed, selectors = base[2], base[3]
    if not (isinstance(base_id, str) and isinstance(manifest_sha256, str) and isinstance(overrides, dict)
            and isinstance(packed, dict)):
        return None
    return DeltaState(manifest_sha256, base_id, _Packed(packed, 0), overrides, _Packed(packed, 1),
                      _selectors(selectors))


def _selectors(value: object) -> dict[str, tuple[tuple[str, str], ...]] | None:
    """The stored selectors when they have their shape (agent -> ((label, value), ...)); else None."""
    if not isinstance(value, dict):
        return None
    for agent, labels in value.items():
        if not (isinstance(agent, str) and isinstance(labels, tuple) and all(
                isinstance(pair, tuple) and len(pair) == 2 and all(isinstance(part, str) for part in pair)
                for pair in labels)):
            return None
    return value


class _Packed(Mapping[str, Any]):
    """A base's files, each with its (rows, listing) stored as ``marshal`` bytes of its own and decoded when
    looked up: loading the base makes ~10,000 bytes objects instead of ~60,000 tuples and strings (~6 ->
    ~1 ms at 10,000 tenants), and a delta compile looks up only the files it patches. ``part``: 0 for
    the rows, 1 for the listing. A value that does not decode to that shape reads as absent (so
    :meth:`DeltaState.entries` says "not a tenant-only file" before its listing is ever looked at)."""

    def __init__(self, packed: dict[str, bytes], part: int) -> None:
        self._packed = packed
        self._part = part

    def __getitem__(self, path: str) -> Any:
        blob = self._packed[path]
        try:
            value = marshal.loads(blob) if isinstance(blob, bytes) else None
        except (EOFError, ValueError, TypeError):
            value = None
        if not (isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], tuple)
                and isinstance(value[1], tuple) and all(isinstance(output, str) for output in value[1])):
            raise KeyError(path)
        return value[self._part]

    def __iter__(self) -> Iterator[str]:
        return iter(self._packed)

    def __len__(self) -> int:
        return len(self._packed)
