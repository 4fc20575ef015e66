"""The bundle format: file names, Cedar names, violation names, canonical encodings, the signed payload.

The compiler (``paybill.emit.bundles``) writes bundles and the runtime (``paybill.guard``) reads
them; both import these constants so the two sides cannot drift. Keys and signatures themselves
(``cryptography``) stay in :mod:`paybill.guard.signing`; what a signature covers is defined here.
Everything here is part of the on-disk contract: renaming a value is a format change (bump
:data:`BUNDLE_FORMAT`).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import orjson

BUNDLE_FORMAT = "paybill.dev/agent-bundle/v1"

SIGNING_KEY_ENV = "PAYBILL_BUNDLE_SIGNING_KEY"
"""The environment variable holding the bundle signing key (PEM text, or a path to a PEM file):
:mod:`paybill.guard.signing` reads it; the compiler checks whether it is set before loading
``cryptography``."""
PUBLIC_KEY_ENV = "PAYBILL_BUNDLE_PUBLIC_KEY"
"""The Ed25519 public key (PEM path) every command that loads a bundle then requires it to be signed by."""

SCHEMA_FILE = "schema.cedarschema"
POLICIES_FILE = "policies.cedar"
ENTITIES_FILE = "entities.json"
WORKFLOW_FILE = "workflow.json"
LIMITS_FILE = "limits.json"
TESTS_FILE = "tests.json"
MANIFEST_FILE = "manifest.json"
CONTENT_FILES: tuple[str, ...] = (
    ENTITIES_FILE, LIMITS_FILE, POLICIES_FILE, SCHEMA_FILE, TESTS_FILE, WORKFLOW_FILE,
)
"""Every file of a bundle except the manifest, which lists their hashes (sorted, as in the manifest)."""

NAMESPACE = "Paybill"
AGENT = f"{NAMESPACE}::Agent"
TENANT = f"{NAMESPACE}::Tenant"
WORKFLOW = f"{NAMESPACE}::Workflow"
STEP = f"{NAMESPACE}::Step"
TABLE = f"{NAMESPACE}::Table"
COLUMN = f"{NAMESPACE}::Column"
SPEC_KIND = f"{NAMESPACE}::SpecKind"
RUN = f"{NAMESPACE}::Run"
ACTION = f"{NAMESPACE}::Action"

DATA_ACTIONS: tuple[str, ...] = ("read", "insert", "update", "delete")
WRITE_ACTIONS: tuple[str, ...] = ("insert", "update", "delete")
CHECK_ACTIONS: tuple[str, ...] = (*DATA_ACTIONS, "propose", "approve")
"""Actions an agent asks for with ``run.check``."""
ADVANCE = "advance"
"""The transition action ``run.advance`` asks Cedar about (resource: the target step)."""
ALL_ACTIONS: tuple[str, ...] = (*CHECK_ACTIONS, ADVANCE)

RESOURCE_TYPES: dict[str, str] = {
    **dict.fromkeys(DATA_ACTIONS, TABLE), "propose": SPEC_KIND, "approve": WORKFLOW, ADVANCE: STEP,
}

COUNTERS: tuple[str, ...] = ("steps", "rowsRead", "rowsWritten", "callsLastMinute", "elapsedMillis", "budgetSpent")
"""Every counter a run keeps (what ``Run.counters()`` returns)."""
_EVERY_CALL = ("callsLastMinute", "elapsedMillis")
ACTION_COUNTERS: dict[str, tuple[str, ...]] = {
    "read": ("rowsRead", "budgetSpent", *_EVERY_CALL),
    **dict.fromkeys(("insert", "update", "delete"), ("rowsWritten", "budgetSpent", *_EVERY_CALL)),
    **dict.fromkeys(("propose", "approve"), ("budgetSpent", *_EVERY_CALL)),
    "advance": ("steps", *_EVERY_CALL),
}
"""The counters each action's context carries: the ones its limits read. All are required attributes
of that context in the schema, so a request missing one is refused (a missing counter fails closed)."""
CALL_WINDOW_SECONDS = 60

RESERVED_COLUMN = "tenant_id"

# Violation names: stable, machine-readable reasons a decision was denied. Forbid policies carry
# theirs as a ``@violation`` annotation; the guard adds the workflow/input ones itself.
V_OUT_OF_SCOPE = "tenant.out-of-scope"
V_CROSS_TENANT = "tenant.cross-tenant"
V_LIFECYCLE = "tenant.lifecycle"
V_ORDER = "workflow.order"
V_STEP_ACTION = "workflow.step-action"
V_FINISHED = "workflow.finished"
V_APPROVAL = "workflow.approval-required"
V_MAX_VISITS = "workflow.max-visits"
V_NOT_GRANTED = "acl.not-granted"
V_COLUMN = "acl.column-not-granted"
V_PII = "acl.pii-column"
V_RESERVED = "acl.reserved-column"
V_INPUT = "input.invalid"
V_ENGINE = "engine.error"
LIMIT_PREFIX = "limit."


def step_id(workflow: str, step: str) -> str:
    """The Cedar entity id of a step: ``<workflow>/<step>`` (step ids are only unique per workflow)."""
    return f"{workflow}/{step}"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def json_file(value: Any) -> bytes:
    """Bytes of a bundle JSON file: sorted keys, two-space indent, ASCII only, final newline.

    ASCII-only output means the bytes never depend on how a platform encodes text. orjson writes
    the same bytes as the standard library for ASCII content at a fraction of the cost (entities of
    10,000 tenants); anything non-ASCII takes the standard library's escaping path.
    """
    try:
        fast = orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
    except TypeError:  # e.g. integers beyond 64 bits: let the standard library decide
        fast = b"\x80"
    if fast.isascii() and b"\x7f" not in fast:  # the standard library escapes DEL, orjson does not
        return fast + b"\n"
    return (json.dumps(value, indent=2, sort_keys=True, ensure_ascii=True) + "\n").encode("ascii")


def canonical_json(value: Any) -> bytes:
    """Compact canonical JSON (sorted keys, no spaces, ASCII): what hashes and signatures cover."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def bundle_revision(file_hashes: dict[str, str]) -> str:
    """The bundle revision: sha256 over ``<name> <sha256>`` lines of the content files, sorted."""
    lines = "".join(f"{name} {file_hashes[name]}\n" for name in sorted(file_hashes))
    return sha256_hex(lines.encode("ascii"))


def signed_payload(manifest: dict[str, Any]) -> bytes:
    """What a bundle signature covers: the canonical JSON of the manifest without its ``signature``."""
    return canonical_json({k: v for k, v in manifest.items() if k != "signature"})
