"""Decide whether changed spec files are identity, billing-status or label edits of tenants, and patch the output.

Exact by construction where it applies, and None (the full compile runs) everywhere else:

* every changed file was a tenant-only file at the last compile, still loads without a single
  diagnostic into the same Tenant documents (same position, same name), each validates against the
  Tenant model (:func:`paybill.delta.identity.surely_valid` first, pydantic only when unsure), and
  each is unchanged but for :data:`~paybill.delta.state.PATCHED_FIELDS` (its
  :func:`~paybill.delta.state.projection` hash); so every semantic rule sees what it saw, and
  every output but the ones below is the same;
* a display-name edit of a tenant whose stack holds it (GCP) is left to the full compile;
* a billing status is patched only when rule PB0405 accepts it beside the lifecycle
  (:func:`~paybill.delta.identity.patchable_status`) and, when it changed (the entitlement file holds
  the old one), neither the old nor the new status is ``trialing`` (trial sizing and trial days read
  more than the status);
* labels are patched only when the last compile reported no diagnostic that labels can change
  (:func:`label_sensitive`: PB0309's hint lists the labels in use; a bundle diagnostic may name
  tenants chosen by label set), when every agent whose scope is a
  label selector (:attr:`~paybill.delta.state.DeltaState.selectors`) selects the tenant before and
  after the edit alike (so every scope, hence every bundle's tenant list, SQL grant and graph edge,
  is the same), and when the bundles are unsigned (the caller's rule): then the entitlement file's
  ``labels``, the tenant entity's ``tags`` in ``entities.json`` of each bundle listing the tenant, and
  that bundle manifest's file digest and revision are what change;
* each file patched is read from the output folder and must hash to the digest its journal holds;
  each patched digest must occur exactly once where it is replaced (else: the full compile).

The caller proves the rest: the unchanged spec files, the options and the compiler are the ones of
the compile the state and the output folder come from (:mod:`paybill.write.shortcut`), and that
compile's diagnostics name none of the changed files (their positions could have moved).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import NamedTuple

import orjson

from paybill.contract.bundle import TENANT as TENANT_ENTITY
from paybill.contract.bundle import bundle_revision
from paybill.delta.identity import TRIALING, patchable_status, surely_valid
from paybill.delta.state import DISPLAY_NAME_IN_STACK, DeltaState, TenantEntry, projection, row_of
from paybill.diagnostics import DiagnosticSink
from paybill.emit.entitlement_text import entitlement_bytes, identity_fields
from paybill.load import load_source

MANIFEST = "manifest.json"

ReadOutput = Callable[[str], "bytes | None"]
"""Reads an output file (output-relative path) from the output folder; None when it cannot."""


@dataclass(frozen=True)
class DeltaPatch:
    files: dict[str, bytes]
    """Output files whose bytes change (path -> new bytes); every other file stays as it is."""
    digests: dict[str, bytes]
    """SHA-256 of each of :attr:`files` (computed once here: the writer and the state need them)."""
    inputs: dict[str, str]
    """Every spec file -> hex SHA-256 of its bytes after the edit."""
    state: DeltaState
    """The state of the patched output (for the next delta compile)."""


class _NotDelta(Exception):
    """The change is not an identity edit, or a file to patch is not what the state expects."""


def label_sensitive(code: str) -> bool:
    """Whether a diagnostic of ``code`` can read a tenant's labels: PB0309 (a label selector that matches no
    tenant; its hint lists the labels in use) and the bundle emitter's PB07xx (its checks ask Cedar
    about one tenant per label set and lifecycle, and name them). Every other reader of labels in the
    compile reads a scope, which a patched label edit leaves as it was."""
    return code == "PB0309" or code.startswith("PB07")


def compile_delta(state: DeltaState, inputs: Mapping[str, str], changed: Mapping[str, bytes],
                  read_output: ReadOutput, digests: Mapping[str, bytes],
                  verified: Mapping[str, bytes] | None = None, *,
                  reported: Iterable[str] | None = None) -> DeltaPatch | None:
    """Patch the output for ``changed`` (spec path -> its bytes now), or None when it is not an identity edit.

    ``inputs``: every spec file -> hex SHA-256 of the bytes the last compile parsed (that compile
    wrote the manifest ``state`` names). ``digests``: the output folder's files -> SHA-256 as its
    journal holds them; ``read_output`` reads one of them (checked against ``digests`` here).
    ``verified``: output files whose bytes the caller already read and checked against ``digests``
    (:func:`paybill.write.journal.load_journal` verifies the files the last compile wrote, the
    manifest among them): used as they are. ``reported``: the codes of the last compile's diagnostics
    (None: unknown; a label edit is patched only when none is :func:`label_sensitive`).
    """
    reader = _Reader(read_output, digests, verified or {})
    relabel = reported is not None and not any(label_sensitive(code) for code in reported)
    try:
        return _compile_delta(state, inputs, changed, reader, relabel)
    except _NotDelta:
        return None


def _compile_delta(state: DeltaState, inputs: Mapping[str, str], changed: Mapping[str, bytes],
                   reader: _Reader, relabel: bool) -> DeltaPatch:
    digests = reader.digests
    after = dict(inputs)
    moved: dict[str, tuple[str, str]] = {}  # spec file -> (old, new) hex SHA-256
    identities: dict[str, _Identity] = {}  # entitlement file -> the patched fields
    sources: dict[str, str] = {}  # entitlement file -> its tenant's spec file
    overrides = dict(state.overrides)
    for path in sorted(changed):
        raw = changed[path]
        entries = state.entries(path)
        old = inputs.get(path)
        if entries is None or old is None:
            raise _NotDelta
        new = hashlib.sha256(raw).hexdigest()
        if new == old:
            continue  # touched, not changed
        if not _plain_ascii(path):
            raise _NotDelta  # a path JSON would escape: not worth patching byte for byte
        updated = []
        for entry, fields in zip(entries, _tenants(raw, path, entries), strict=True):
            if entry.provider in DISPLAY_NAME_IN_STACK and fields.display_name != entry.display_name:
                raise _NotDelta
            identities[f"tenants/{entry.name}.json"] = fields
            sources[f"tenants/{entry.name}.json"] = path
            updated.append(row_of(replace(entry, display_name=fields.display_name)))
        overrides[path] = tuple(updated)
        after[path] = new
        moved[path] = (old, new)
    files: dict[str, bytes] = {}
    relabelled: list[_Relabel] = []
    for output, fields in identities.items():
        files[output] = _entitlement(reader.read(output), fields, sources[output], state, relabel, relabelled)
    for path, (old, new) in moved.items():
        listed = b'"path": ' + orjson.dumps(path) + b',\n      "sha256": "'
        for output in state.listings.get(path, ()):
            data = files.get(output) or reader.read(output)
            files[output] = _swap(data, listed + old.encode() + b'"', listed + new.encode() + b'"')
    _relabel_bundles(state, relabelled, files, reader)
    written = {path: hashlib.sha256(data).digest() for path, data in files.items()}
    files = {path: data for path, data in files.items() if written[path] != digests[path]}
    manifest = reader.read(MANIFEST)
    swaps = [(_entry(path, old), _entry(path, new)) for path, (old, new) in moved.items()]
    swaps += [(_entry(output, digests[output].hex()), _entry(output, written[output].hex()))
              for output in sorted(files)]
    manifest = _splice(manifest, swaps)
    files[MANIFEST] = manifest
    written[MANIFEST] = hashlib.sha256(manifest).digest()
    return DeltaPatch(files, {path: written[path] for path in files}, after,
                      replace(state, manifest_sha256=written[MANIFEST].hex(), overrides=overrides))


def _entitlement(data: bytes, fields: _Identity, spec: str, state: DeltaState, relabel: bool,
                 relabelled: list[_Relabel]) -> bytes:
    """A tenant's entitlement file with ``fields`` patched in; a label change is appended to ``relabelled``."""
    document = orjson.loads(data)
    billing = document.get("billing")
    before = billing.get("status") if isinstance(billing, dict) else None
    if before is None or (fields.status != before and TRIALING in (fields.status, before)):
        raise _NotDelta  # a trial's start or end changes sizing and trial days: the full compile
    identity = identity_fields(fields.display_name, fields.customer_id)
    document["displayName"] = identity["displayName"]
    billing.update(identity["billing"], status=fields.status)
    if document.get("labels") != fields.labels:
        old_labels, lifecycle, tenant = document.get("labels"), document.get("lifecycle"), document.get("tenant")
        if not (relabel and isinstance(old_labels, dict) and isinstance(lifecycle, str) and isinstance(tenant, str)):
            raise _NotDelta
        _same_scopes(state, old_labels, fields.labels)
        relabelled.append(_Relabel(spec, tenant, lifecycle, old_labels, fields.labels))
        document["labels"] = fields.labels
    return entitlement_bytes(document)


class _Relabel(NamedTuple):
    """A tenant whose labels a delta compile changes."""

    spec: str
    """Its spec file (the bundles that list it hold its entity)."""
    tenant: str
    lifecycle: str
    before: dict[str, str]
    after: dict[str, str]


@dataclass(frozen=True)
class _Identity:
    """A Tenant document's patched fields, as the edited file holds them."""

    display_name: str
    customer_id: str
    status: str
    labels: dict[str, str]


def _same_scopes(state: DeltaState, before: Mapping[str, object], after: Mapping[str, str]) -> None:
    """Refuse a label edit that moves the tenant in or out of any agent's label-selected scope."""
    if state.selectors is None:
        raise _NotDelta
    for selector in state.selectors.values():
        if all(before.get(key) == value for key, value in selector) != \
                all(after.get(key) == value for key, value in selector):
            raise _NotDelta


def _relabel_bundles(state: DeltaState, relabelled: list[_Relabel], files: dict[str, bytes], reader: _Reader) -> None:
    """The tenant entity's tags in each bundle listing a relabelled tenant, and that bundle's manifest.

    The entity is found by its exact bytes as the bundle emitter renders it (sorted keys, two-space
    indent, one level deep in the entity list; labels, names and states are ASCII, so
    :func:`paybill.contract.bundle.json_file` takes orjson's path), exactly once, and replaced by the
    same entity with the new tags; the manifest's ``entities.json`` digest and ``revision`` follow.
    """
    bundles: dict[str, list[tuple[bytes, bytes]]] = {}
    for spec, tenant, lifecycle, old, new in relabelled:
        for output in state.listings.get(spec, ()):
            folder, _, name = output.rpartition("/")
            if folder.startswith("bundles/") and name == MANIFEST:
                bundles.setdefault(folder, []).append((_tenant_entity(tenant, lifecycle, old),
                                                       _tenant_entity(tenant, lifecycle, new)))
    for folder, swaps in sorted(bundles.items()):
        entities_path, manifest_path = f"{folder}/entities.json", f"{folder}/{MANIFEST}"
        entities = files.get(entities_path) or reader.read(entities_path)
        for before, after in swaps:
            entities = _swap(entities, before, after)
        files[entities_path] = entities
        manifest_bytes = files.get(manifest_path) or reader.read(manifest_path)
        manifest = orjson.loads(manifest_bytes)
        hashes = manifest.get("files") if isinstance(manifest, dict) else None
        if not isinstance(hashes, dict) or "signature" in manifest or "entities.json" not in hashes \
                or not all(isinstance(value, str) for value in hashes.values()) \
                or manifest.get("revision") != bundle_revision(hashes):
            raise _NotDelta
        entities_hex = hashlib.sha256(entities).hexdigest()
        revision = bundle_revision({**hashes, "entities.json": entities_hex})
        files[manifest_path] = _splice(manifest_bytes, [
            (_member("entities.json", hashes["entities.json"]), _member("entities.json", entities_hex)),
            (_member("revision", manifest["revision"]), _member("revision", revision))])


def _tenant_entity(tenant: str, lifecycle: str, labels: Mapping[str, object]) -> bytes:
    """A tenant's entity as it stands in ``entities.json``: :func:`paybill.emit.bundles.documents.build_entities`'s
    shape, rendered one level deep in the list."""
    entity = {"uid": {"type": TENANT_ENTITY, "id": tenant}, "attrs": {"lifecycle": lifecycle}, "parents": [],
              "tags": dict(sorted(labels.items()))}
    text = orjson.dumps(entity, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
    if not text.isascii():
        raise _NotDelta
    return b"  " + text.replace(b"\n", b"\n  ")


def _member(key: str, value: str) -> bytes:
    """A ``"key": "value"`` member of a bundle manifest."""
    return orjson.dumps(key) + b": " + orjson.dumps(value)


def _tenants(raw: bytes, path: str, entries: tuple[TenantEntry, ...]) -> list[_Identity]:
    """Each Tenant document's patched fields, when the file loads cleanly into the same documents, each
    unchanged but for its patched fields, and each a valid Tenant."""
    sink = DiagnosticSink()
    documents = load_source(raw, path, sink)
    if len(sink) or len(documents) != len(entries):
        raise _NotDelta
    identities = []
    for document, entry in zip(documents, entries, strict=True):
        if (document.kind, document.index, document.name) != ("Tenant", entry.index, entry.name) \
                or projection(document.data) != entry.projection:
            raise _NotDelta
        status = patchable_status(document.data)
        if status is None:
            raise _NotDelta
        if not surely_valid(document.data):  # the model decides (it loads pydantic: ~0.25 s)
            _validate(document.data)
        spec = document.data["spec"]
        identities.append(_Identity(spec["displayName"], spec["billing"]["customerId"], status,
                                    dict(document.data["metadata"].get("labels", {}))))
    return identities


def _validate(data: dict[str, object]) -> None:
    from pydantic import ValidationError

    from paybill.models.tenant import Tenant

    try:
        Tenant.model_validate(data)
    except ValidationError:
        raise _NotDelta from None  # the full compile reports it, with its position


@dataclass(frozen=True)
class _Reader:
    """Output files as the journal describes them: each read (or taken as verified) and checked once."""

    read_output: ReadOutput
    digests: Mapping[str, bytes]
    """The output folder's files -> SHA-256, as its journal holds them."""
    verified: Mapping[str, bytes]
    """Files whose bytes the caller already checked against :attr:`digests`."""

    def read(self, path: str) -> bytes:
        expected = self.digests.get(path)
        known = self.verified.get(path)
        if known is not None and expected is not None:
            return known
        data = self.read_output(path)
        if data is None or expected is None or hashlib.sha256(data).digest() != expected:
            raise _NotDelta
        return data


def _swap(data: bytes, before: bytes, after: bytes) -> bytes:
    if data.count(before) != 1:
        raise _NotDelta
    return data.replace(before, after)


def _splice(data: bytes, swaps: list[tuple[bytes, bytes]]) -> bytes:
    """``data`` with each ``before`` replaced by its ``after``; each must occur exactly once in ``data``
    (as :func:`_swap` requires) and no two may overlap.

    One pass and one copy: the manifest is ~9.5 MB at 10,000 tenants, and a ``count`` and a
    ``replace`` per swap (five or six of them) were ~40 ms of a ~0.4 s delta compile.
    """
    spans: list[tuple[int, int, bytes]] = []
    for before, after in swaps:
        at = data.find(before)
        if at < 0 or data.find(before, at + len(before)) >= 0:  # what ``count(before) != 1`` means
            raise _NotDelta
        spans.append((at, at + len(before), after))
    spans.sort()
    view = memoryview(data)  # slices without copies: the join below is the one copy
    parts: list[bytes | memoryview] = []
    done = 0
    for start, end, after in spans:
        if start < done:
            raise _NotDelta  # two patterns share bytes: not entries of the manifest
        parts += (view[done:start], after)
        done = end
    parts.append(view[done:])
    return b"".join(parts)


def _entry(key: str, digest: str) -> bytes:
    """A ``"path": "sha256:<hex>"`` member of the manifest's ``inputs`` or ``outputs``."""
    return orjson.dumps(key) + b': "sha256:' + digest.encode() + b'"'


def _plain_ascii(path: str) -> bool:
    return path.isascii() and path.isprintable() and '"' not in path and "\\" not in path
