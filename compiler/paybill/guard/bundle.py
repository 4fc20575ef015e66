"""Load a bundle directory and prove it is intact before anything is parsed for use.

Order of checks, each refusing the bundle with :class:`BundleError` (``reason`` is a stable word):

1. ``manifest.json`` is readable and of this format (``format``);
2. with public keys configured (one, or several during a key rotation), the manifest carries a valid
   Ed25519 signature by one of them (``unsigned``, ``signature``; ``key`` when a key cannot be read) -
   an unsigned bundle is refused, never silently accepted; with an expected agent,
   the manifest names it (``agent``);
3. every content file is listed, present, within size, and matches its sha256 (``missing``,
   ``unlisted``, ``hash``), and the revision is the hash of those hashes (``revision``);
4. the schema, policies and entities parse, the policies validate against the schema, every policy
   has a unique ``@id`` (``cedar``); the JSON files are what the guard expects (``content``);
5. the golden decisions in ``tests.json`` still hold (``golden``).

Every file is opened as a regular file only and read with a size cap (:mod:`paybill.guard.files`):
a FIFO or device in place of a bundle file is refused (``content``), never waited on.
:class:`paybill.guard.revisions.RevisionStore` adds ``rollback`` and ``store`` when the caller keeps one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from paybill.contract.bundle import (
    BUNDLE_FORMAT,
    COLUMN,
    CONTENT_FILES,
    ENTITIES_FILE,
    LIMITS_FILE,
    MANIFEST_FILE,
    POLICIES_FILE,
    SCHEMA_FILE,
    TENANT,
    TESTS_FILE,
    WORKFLOW_FILE,
    bundle_revision,
    sha256_hex,
)
from paybill.guard.engine import Engine, PolicyFormatError
from paybill.guard.files import read_regular
from paybill.guard.goldens import run_goldens
from paybill.guard.signing import PublicKeys, SigningKeyError, check_signature, trusted_keys

MAX_FILE_BYTES = 32 * 1024 * 1024


class BundleError(Exception):
    """A bundle was refused. ``reason`` is one stable word (see the module docstring)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass
class LoadedBundle:
    path: Path
    manifest: dict[str, Any]
    engine: Engine
    workflows: dict[str, Any]
    limits: dict[str, Any]
    tests: list[dict[str, Any]]
    tenant_lifecycles: dict[str, str] = field(default_factory=dict)
    """Tenant -> lifecycle state as Cedar sees it (``entities.json``), to name it in a refusal."""
    pii_columns: frozenset[str] = frozenset()
    """``<table>.<column>`` of every column the data model marks as personal data (``entities.json``),
    so a server describing the agent's tools can say which values are PII."""

    @property
    def agent(self) -> str:
        return str(self.manifest["agent"])

    @property
    def revision(self) -> str:
        return str(self.manifest["revision"])


def _read(path: Path, name: str) -> bytes:
    """A bundle file's bytes: a regular file (never a FIFO or device) of at most ``MAX_FILE_BYTES``."""
    try:
        return read_regular(path / name, MAX_FILE_BYTES)
    except FileNotFoundError:
        raise BundleError("missing", f"{name} is missing from bundle {path}") from None
    except OSError as exc:  # FileRefused (not a regular file, too large, cannot be opened) or a read error
        raise BundleError("content", f"bundle file {name} refused: {exc}") from None


def _json(data: bytes, name: str) -> Any:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BundleError("content", f"{name} is not valid JSON ({exc})") from None


SWAP_RETRIES = 5
"""Re-reads of a bundle whose manifest was replaced while its files were read (a compile's swap)."""


def _manifest(path: Path, data: bytes) -> dict[str, Any]:
    manifest = _json(data, MANIFEST_FILE)
    if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
        raise BundleError("format", f"{MANIFEST_FILE} is not a {BUNDLE_FORMAT} manifest")
    if not isinstance(manifest.get("files"), dict) or not isinstance(manifest.get("agent"), str):
        raise BundleError("format", f"{MANIFEST_FILE} lacks 'files' or 'agent'")
    return manifest


def _verified_files(path: Path, manifest: dict[str, Any]) -> dict[str, bytes]:
    listed = manifest["files"]
    unlisted = sorted(set(listed) ^ set(CONTENT_FILES))
    if unlisted:
        raise BundleError("unlisted", f"manifest files do not match the bundle format: {', '.join(unlisted)}")
    files: dict[str, bytes] = {}
    for name in CONTENT_FILES:
        data = _read(path, name)
        if sha256_hex(data) != listed[name]:
            raise BundleError("hash", f"{name} does not match its sha256 in the manifest (file changed)")
        files[name] = data
    if bundle_revision(listed) != manifest.get("revision"):
        raise BundleError("revision", "manifest revision is not the hash of its files")
    return files


def _text(files: dict[str, bytes], name: str) -> str:
    try:
        return files[name].decode("utf-8")
    except UnicodeDecodeError:
        raise BundleError("content", f"{name} is not UTF-8") from None


def _engine(files: dict[str, bytes]) -> Engine:
    policies = _text(files, POLICIES_FILE)
    try:
        engine = Engine(_text(files, SCHEMA_FILE), policies, _text(files, ENTITIES_FILE))
    except (PolicyFormatError, ValueError) as exc:
        raise BundleError("cedar", f"Cedar could not load the bundle: {exc}") from None
    errors = engine.validate(policies)
    if errors:
        first_id, first = errors[0]
        raise BundleError("cedar", f"policies do not validate against the schema: {first_id}: {first}")
    return engine


def _tenant_lifecycles(entities: Any) -> dict[str, str]:
    """Tenant -> ``lifecycle`` attribute of the tenant entities (Cedar already validated their shape)."""
    found: dict[str, str] = {}
    for entity in entities if isinstance(entities, list) else ():
        uid = entity.get("uid") if isinstance(entity, dict) else None
        if isinstance(uid, dict) and uid.get("type") == TENANT:
            state = (entity.get("attrs") or {}).get("lifecycle")
            if isinstance(state, str):
                found[str(uid.get("id"))] = state
    return found


def _pii_columns(entities: Any) -> frozenset[str]:
    """``<table>.<column>`` ids of the column entities whose ``pii`` attribute is true."""
    found = set()
    for entity in entities if isinstance(entities, list) else ():
        uid = entity.get("uid") if isinstance(entity, dict) else None
        if isinstance(uid, dict) and uid.get("type") == COLUMN and (entity.get("attrs") or {}).get("pii") is True:
            found.add(str(uid.get("id")))
    return frozenset(found)


def load_bundle(path: str | Path, public_key: PublicKeys | None = None, *,
                expect_agent: str | None = None) -> LoadedBundle:
    """Verify and parse the bundle at ``path`` (see the module docstring for what is checked).

    ``public_key``: the trusted key, or a list of them (:func:`paybill.guard.signing.trusted_keys`).
    ``expect_agent`` binds the bundle to the agent the caller runs: a bundle of another agent,
    even one validly signed and copied into this agent's folder, is refused (``agent``). The agent
    is part of the signed manifest, so with a public key it cannot be edited either.
    """
    path = Path(path)
    for attempt in range(SWAP_RETRIES + 1):
        manifest_bytes = _read(path, MANIFEST_FILE)
        manifest = _manifest(path, manifest_bytes)
        _check_manifest(path, manifest, public_key, expect_agent)
        try:
            files = _verified_files(path, manifest)
            break
        except BundleError as exc:
            # `paybill compile` swaps the whole output folder at once, but a reader opening the
            # bundle's files one by one may straddle the swap: the manifest of one tree, a file of
            # the other. The manifest then differs when read again: read the bundle again. Bytes that
            # do not match an unchanged manifest are refused as before.
            if exc.reason != "hash" or attempt == SWAP_RETRIES or _read(path, MANIFEST_FILE) == manifest_bytes:
                raise
    return _parsed(path, manifest, files)


def _check_manifest(path: Path, manifest: dict[str, Any], public_key: PublicKeys | None,
                    expect_agent: str | None) -> None:
    if public_key is not None:
        try:
            keys = trusted_keys(public_key)
        except SigningKeyError as exc:
            raise BundleError("key", str(exc)) from None
        problem = check_signature(manifest, keys)
        if problem is not None:
            raise BundleError(problem.reason, problem.message)
    if expect_agent is not None and manifest["agent"] != expect_agent:
        raise BundleError("agent", f"bundle {path.as_posix()} is for agent {manifest['agent']!r}, "
                                   f"not the expected {expect_agent!r}")


def _parsed(path: Path, manifest: dict[str, Any], files: dict[str, bytes]) -> LoadedBundle:
    engine = _engine(files)
    workflows = _json(files[WORKFLOW_FILE], WORKFLOW_FILE)
    limits = _json(files[LIMITS_FILE], LIMITS_FILE)
    tests = _json(files[TESTS_FILE], TESTS_FILE)
    if not (isinstance(workflows, dict) and isinstance(workflows.get("workflows"), dict)
            and isinstance(limits, dict) and isinstance(tests, dict) and isinstance(tests.get("tests"), list)):
        raise BundleError("content", "workflow.json, limits.json or tests.json is not in the bundle format")
    if workflows.get("agent") != manifest["agent"] or limits.get("agent") != manifest["agent"]:
        raise BundleError("content", "bundle files name different agents")
    try:
        for workflow in workflows["workflows"].values():
            workflow["steps"] = {step["id"]: step for step in workflow["steps"]}
    except (KeyError, TypeError):
        raise BundleError("content", "workflow.json steps are not in the bundle format") from None
    failures = run_goldens(engine, tests["tests"])
    if failures:
        more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
        raise BundleError("golden", failures[0].describe() + more)
    entities = _json(files[ENTITIES_FILE], ENTITIES_FILE)
    return LoadedBundle(path, manifest, engine, workflows["workflows"], limits, tests["tests"],
                        _tenant_lifecycles(entities), _pii_columns(entities))
