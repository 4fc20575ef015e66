"""The bundle emitter: one Cedar policy bundle per agent under ``bundles/<agent>/``.

For each agent: resolve its facts, write the schema, policies, entities, workflow, limits and
golden tests, let Cedar load and check them (see :mod:`paybill.emit.bundles.checks`), then write
the manifest (signed when a key is configured). An agent with any error gets no bundle at all:
a half-checked bundle must never reach a runtime.

Signing key: ``ctx.signing_key`` (an ``Ed25519PrivateKey``, set by a command that
took ``--signing-key``) or the ``PAYBILL_BUNDLE_SIGNING_KEY`` environment variable (PEM text or a
path to a PEM file). A key that cannot be read is an error (PB0707), never a silently unsigned bundle.
"""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING, Any

from paybill.contract.bundle import (
    ENTITIES_FILE,
    LIMITS_FILE,
    MANIFEST_FILE,
    POLICIES_FILE,
    SCHEMA_FILE,
    SIGNING_KEY_ENV,
    TESTS_FILE,
    WORKFLOW_FILE,
    json_file,
)
from paybill.diagnostics import DiagnosticSink, Position
from paybill.emit.bundles import checks, proven
from paybill.emit.bundles.cedar_text import UnsafeText
from paybill.emit.bundles.documents import build_entities, build_limits, build_workflows
from paybill.emit.bundles.facts import AgentFacts, Origin, collect
from paybill.emit.bundles.goldens import build_cases, to_tests
from paybill.emit.bundles.manifest import build_manifest, tool_versions
from paybill.emit.bundles.policies import Policy, build_policies, render_policies
from paybill.emit.bundles.schema_text import render_schema
from paybill.emit.contract import EmitContext, Emitter, OutputTree
from paybill.store import UnitStore

if TYPE_CHECKING:
    from paybill.emit.bundles.kept_signatures import KeptSignatures

NO_TENANTS = "PB0704"
UNUSED_GRANT = "PB0705"
SIGNING_KEY = "PB0707"
DUPLICATE_GRANT = "PB0709"
APPROVAL_AT_START = "PB0710"
UNSAFE_TEXT = "PB0711"


class _KeyUnusable(Exception):
    """The configured signing key cannot be used (already reported)."""


def _signing_key(ctx: EmitContext) -> Any:
    if ctx.signing_key is not None:
        return ctx.signing_key
    if not os.environ.get(SIGNING_KEY_ENV, "").strip():
        return None  # unset: unsigned bundles (private_key_from_env says so), without loading cryptography
    from paybill.guard.signing import SigningKeyError, private_key_from_env

    try:
        return private_key_from_env()
    except SigningKeyError as exc:
        ctx.sink.error(SIGNING_KEY, f"cannot sign agent bundles: {exc}", SIGNING_KEY_ENV, Position(),
                       f"set {SIGNING_KEY_ENV} to an unencrypted Ed25519 PEM private key or its path, or unset it")
        raise _KeyUnusable from None


def _spec_checks(facts: AgentFacts, sink: DiagnosticSink) -> None:
    """Problems of the spec that only matter for bundles (PB0704, PB0705, PB0709, PB0710).

    PB0704 (warning): no tenant in scope. PB0705 (warning): a grant no workflow step uses (it could
    never apply under step scoping, so it is left out). PB0709: a table or kind granted twice.
    PB0710: approval required on a start step, which a run enters without a transition.
    """
    def at(origin: Origin) -> Position:
        return origin.document.position(*origin.loc)

    if not facts.tenants:
        origin = facts.origin("spec", "tenantScope")
        sink.warning(NO_TENANTS, f"agent '{facts.name}' has no tenant in scope: its bundle denies every call",
                     origin.path, at(origin), "check the scope's tenant names or label selector")
    for grant in facts.grants:
        if not grant.steps:
            what = f"{grant.action} on table '{grant.resource}'" if grant.action != "propose" \
                else f"proposals to {grant.resource}"
            sink.warning(UNUSED_GRANT, f"agent '{facts.name}' is granted {what}, but no step of its workflows "
                         f"uses it; the grant is left out of the bundle", grant.origin.path, at(grant.origin),
                         "remove the grant (least privilege), or add a workflow step that uses it")
    for origin in facts.duplicates:
        sink.error(DUPLICATE_GRANT, "this grant repeats an earlier grant of the same table or kind",
                   origin.path, at(origin), "merge the two grants into one")
    for workflow in facts.workflows:
        spec = workflow.graph.spec
        if spec.start in workflow.graph.step_index and \
                spec.steps[workflow.graph.step_index[spec.start]].requires_approval:
            origin = workflow.origin(spec.start, "requiresApproval")
            sink.error(APPROVAL_AT_START, f"start step '{spec.start}' requires approval, but a run is already in "
                       "its start step when it starts", origin.path, at(origin),
                       "add a first step before it, so the approval guards a transition")


def _cedar_checks(facts: AgentFacts, texts: dict[str, str], entities: list[dict[str, Any]], policies: list[Policy],
                  tests: list[dict[str, Any]], sink: DiagnosticSink, store: UnitStore | None) -> None:
    """Let Cedar load the bundle and answer every check (:mod:`paybill.emit.bundles.checks`), unless
    ``store`` remembers these exact inputs passing them (:mod:`paybill.emit.bundles.proven`).

    The workflow and golden checks only run on a bundle without errors so far (``sink``: the spec
    checks' findings too), so only a run that reached them and reported nothing is remembered.
    """
    batch = checks.workflow_batch(facts)
    key = proven.proof_key(texts, tests, batch, tool_versions()["cedarpy"]) if store is not None else ""
    if proven.proven(store, facts.name, key):
        return
    reported = len(sink)
    runs = [*batch.entities, *(entity for test in tests for entity in test.get("entities", []))]
    loads = proven.LoadProofs(store, facts.name, texts["schema"], tool_versions()["cedarpy"])
    engine = checks.load_engine(facts, texts, policies, entities, runs, sink, loads)
    if engine is None or sink.has_errors:
        return
    batch.run(engine, sink)
    checks.check_goldens(facts, engine, tests, sink)
    if len(sink) == reported:
        proven.remember(store, facts.name, key)


def build_bundle(facts: AgentFacts, sink: DiagnosticSink, key: Any = None,
                 store: UnitStore | None = None, kept: KeptSignatures | None = None) -> dict[str, bytes] | None:
    """The files of one agent's bundle, or None when it has errors (reported to ``sink``).

    ``store``: where clean Cedar checks of earlier compiles are remembered (None: always ask Cedar).
    ``kept``: signatures found in the output folder, kept on a manifest they verify over (without ``key``).
    """
    scratch = DiagnosticSink()
    _spec_checks(facts, scratch)
    policies = build_policies(facts)
    try:
        policies_text = render_policies(policies)
    except UnsafeText as exc:
        origin = facts.origin("metadata", "name")
        sink.error(UNSAFE_TEXT, f"agent '{facts.name}': {exc} (in a spec file path that names a policy)",
                   origin.path, origin.document.position(*origin.loc), "rename the file to plain UTF-8")
        return None
    entities = build_entities(facts)
    texts = {
        "schema": render_schema(),
        "policies": policies_text,
        "entities": json_file(entities).decode("ascii"),
    }
    tests = to_tests(facts, build_cases(facts))
    _cedar_checks(facts, texts, entities, policies, tests, scratch, store)
    del entities
    sink.extend(scratch.sorted())
    if scratch.has_errors:
        return None
    files = {
        SCHEMA_FILE: texts["schema"].encode("ascii"),
        POLICIES_FILE: texts["policies"].encode("ascii"),
        ENTITIES_FILE: texts["entities"].encode("ascii"),
        WORKFLOW_FILE: json_file(build_workflows(facts)),
        LIMITS_FILE: json_file(build_limits(facts)),
        TESTS_FILE: json_file({"agent": facts.name, "tests": tests}),
    }
    files[MANIFEST_FILE] = build_manifest(facts, files, {"policies": len(policies), "tests": len(tests)}, key, kept)
    return files


def emit_bundles(ctx: EmitContext, kept: KeptSignatures | None = None) -> OutputTree:
    """Emit ``bundles/<agent>/*`` for every valid agent, in name order. ``kept``: see :func:`keeping_signatures`."""
    try:
        key = _signing_key(ctx)
    except _KeyUnusable:
        return {}
    tree: OutputTree = {}
    listings: dict[str, tuple[str, ...]] = {}
    for document in ctx.index.of_kind("Agent"):
        facts = collect(ctx.index, document)
        files = build_bundle(facts, ctx.sink, key, ctx.store, kept)
        for name, data in (files or {}).items():
            tree[f"bundles/{document.name}/{name}"] = data
        if files and MANIFEST_FILE in files:
            listings[f"bundles/{document.name}/{MANIFEST_FILE}"] = tuple(sorted({d.path for d in facts.sources()}))
    ctx.facts.list_sources(listings)
    return tree


BUNDLES_EMITTER = Emitter(name="bundles", emit=emit_bundles, independent=True)


def keeping_signatures(kept: KeptSignatures) -> Emitter:
    """The bundle emitter for ``paybill compile --check`` with public keys and no signing key: each fresh
    manifest carries the signature found in the output folder when a trusted key verifies it over that
    fresh manifest (:mod:`paybill.emit.bundles.kept_signatures`), so a signed tree is checked without the
    private key."""
    return Emitter(name=BUNDLES_EMITTER.name, emit=functools.partial(emit_bundles, kept=kept),
                   independent=BUNDLES_EMITTER.independent)
