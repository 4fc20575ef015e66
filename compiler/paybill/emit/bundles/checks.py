"""Compile-time guarantees, decided by Cedar itself and reported at spec positions.

* PB0701: every generated policy validates against the bundle schema (``cedarpy.validate_policies``).
* PB0702: every action a reachable workflow step performs is permitted by the agent's policies, for
  every tenant in scope in a lifecycle state the step acts in (one per distinct label set and
  state, see ``representative_tenants``), with the step counter the step is first reached with.
  The question is put to Cedar with the real policies and entities - the same requests the guard
  builds at run time - not to a second, hand-written evaluator. (Rule PB0506 in ``paybill
  validate`` asks the same question of the raw ACL, without Cedar, so editors get it early; this
  check is the authority.)
* PB0703: every transition out of a reachable step is permitted (approval given, first visit, a
  tenant that is not deleted), so a run can take each path the workflow draws within ``maxSteps``.
* PB0706: the golden decisions of ``tests.json`` hold.
* PB0708: Cedar cannot load what paybill generated (a paybill bug, still a diagnostic).

The engine the checks ask holds every entity of ``entities.json`` but the tenants no check's run
names (:func:`load_engine`): a decision reads only the entities its request names (the run, its
tenant, the agent, the resource) and their ancestors, and the agent's ``tenants`` set is only asked
whether it ``contains`` the run's tenant, so that set is cut to the named tenants too. Everything
left out is still loaded by Cedar against the schema, a chunk at a time, so every entity the guard
will load is checked as before. Why: parsing 30,000 tenant entities at once peaks at about 190 MB of
Cedar's native memory, and an agent entity with 30,000 tenant references at about 90 MB more; at
100,000 tenants that made the helper running this emitter the compile's largest process.

A chunk's load is a pure function of its text, the schema text and the Cedar version, so a chunk
that loaded before needs no second load (:class:`paybill.emit.bundles.proven.LoadProofs`). Chunks
end where the tenant id's CRC-32 says (:func:`_chunks`), not at fixed counts, so a one-tenant edit
(or a tenant becoming one the checks name, or a tenant added) changes one chunk's text, not every
chunk after it: at 10,000 tenants Cedar then parses ~500 entities per agent instead of 10,000.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from paybill.contract.bundle import ADVANCE, DATA_ACTIONS, TENANT, json_file
from paybill.contract.requests import operation_context, request, run_entity, transition_context
from paybill.diagnostics import DiagnosticSink
from paybill.emit.bundles.facts import AgentFacts, Origin
from paybill.emit.bundles.policies import Policy

if TYPE_CHECKING:  # Cedar (cedarpy, the guard runtime) is loaded only when a check runs: a compile whose
    # bundles were all checked before (paybill.emit.bundles.proven) never needs it.
    from paybill.emit.bundles.proven import LoadProofs
    from paybill.guard.engine import Engine, Verdict

POLICY_INVALID = "PB0701"
STEP_DENIED = "PB0702"
TRANSITION_DENIED = "PB0703"
GOLDEN_FAILED = "PB0706"
CEDAR_LOAD = "PB0708"
BUG_HINT = "this is a bug in paybill's bundle generation; please report it with your specs"


def _report(sink: DiagnosticSink, code: str, origin: Origin, message: str, hint: str | None) -> None:
    sink.error(code, message, origin.path, origin.document.position(*origin.loc), hint)


ENTITY_CHUNK = 500
"""Tenant entities (or tenant references of one set) that no check reads, loaded by Cedar at once
only to prove that they load: 500 costs a few MB, 30,000 at once about 190 MB. The chunks' mean size
(:func:`_chunks`); none is larger than twice it."""

_Item = TypeVar("_Item")


def _chunks(items: Sequence[_Item], ident: Callable[[_Item], str]) -> Iterator[list[_Item]]:
    """``items`` in order, cut after each item whose id's CRC-32 is a multiple of :data:`ENTITY_CHUNK`
    (and after ``2 * ENTITY_CHUNK`` items at most).

    Content-defined cuts, so a chunk's text depends on its own items only: an item changed, added
    or removed changes its own chunk (and at most the next one), never the chunks after it, which
    keep the text a :class:`~paybill.emit.bundles.proven.LoadProofs` proof was taken for. CRC-32 is
    a fixed function of the bytes: the same cuts on every machine and run.
    """
    chunk: list[_Item] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= 2 * ENTITY_CHUNK or \
                zlib.crc32(ident(item).encode("utf-8", "surrogateescape")) % ENTITY_CHUNK == 0:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _tenant_id(value: object) -> str | None:
    """The id of a Cedar reference to a tenant (``{"__entity": {"type": TENANT, "id": ...}}``), else None."""
    entity = value.get("__entity") if isinstance(value, dict) else None
    if isinstance(entity, dict) and entity.get("type") == TENANT:
        return str(entity.get("id"))
    return None


def _named_tenants(runs: Sequence[dict[str, Any]]) -> set[str]:
    """Ids of the tenants the run entities of the checks point at (``attrs.tenant``)."""
    named = set()
    for run in runs:
        tenant = _tenant_id(run.get("attrs", {}).get("tenant"))
        if tenant is not None:
            named.add(tenant)
    return named


def _tenant_sets(entity: dict[str, Any]) -> list[str]:
    """Attributes of ``entity`` that are sets of tenant references (the agent's ``tenants``)."""
    attrs = entity.get("attrs") or {}
    return [name for name, value in attrs.items()
            if isinstance(value, list) and value and all(_tenant_id(v) is not None for v in value)]


def _split(entities: list[dict[str, Any]], named: set[str]
           ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """(what the checks' engine holds, tenants only to load, pieces of tenant sets only to load).

    A set of tenant references is cut to the named tenants for the engine (``contains`` of a
    named tenant answers the same), and loaded in pieces of about :data:`ENTITY_CHUNK` references
    (:func:`_chunks`; a set's elements are checked one by one against the schema, so the pieces
    prove the whole).
    """
    kept: list[dict[str, Any]] = []
    tenants: list[dict[str, Any]] = []
    pieces: list[dict[str, Any]] = []
    for entity in entities:
        if entity["uid"]["type"] == TENANT:
            (kept if entity["uid"]["id"] in named else tenants).append(entity)
            continue
        sets = _tenant_sets(entity)
        if not sets:
            kept.append(entity)
            continue
        attrs = entity["attrs"]
        kept.append({**entity, "attrs": {**attrs, **{name: [v for v in attrs[name] if _tenant_id(v) in named]
                                                     for name in sets}}})
        for name in sets:
            for part in _chunks(attrs[name], lambda reference: _tenant_id(reference) or ""):
                pieces.append({**entity, "attrs": {**attrs, **{other: [] for other in sets}, name: part}})
    return kept, tenants, pieces


def _only_loaded(tenants: list[dict[str, Any]], pieces: list[dict[str, Any]]) -> Iterator[str]:
    """The texts Cedar loads only to prove they load: the tenants in chunks, then each piece."""
    for chunk in _chunks(tenants, lambda entity: str(entity["uid"]["id"])):
        yield json_file(chunk).decode("ascii")
    for piece in pieces:
        yield json_file([piece]).decode("ascii")


def load_engine(facts: AgentFacts, texts: dict[str, str], policies: list[Policy], entities: list[dict[str, Any]],
                runs: Sequence[dict[str, Any]], sink: DiagnosticSink,
                proofs: LoadProofs | None = None) -> Engine | None:
    """Parse the generated bundle with Cedar and validate its policies (PB0708, PB0701).

    ``entities`` are those of ``texts["entities"]``; ``runs`` are the run entities every check will
    add (:func:`workflow_batch`, the golden tests). The engine holds the tenants those runs name (and the
    agent's scope cut to them, :func:`_split`); Cedar loads everything else too, a chunk at a time,
    and forgets it. ``proofs``: chunks that loaded before with this schema and Cedar are not loaded
    again; once every chunk loaded, the proofs are set to this compile's chunks.
    """
    import cedarpy

    from paybill.guard.engine import Engine, PolicyFormatError

    kept, tenants, pieces = _split(entities, _named_tenants(runs))
    try:
        engine = Engine(texts["schema"], texts["policies"], json_file(kept).decode("ascii"))
        for text in _only_loaded(tenants, pieces):
            if proofs is None or proofs.needs(text):
                cedarpy.Entities.from_json_str(text, engine.schema)
    except (PolicyFormatError, ValueError) as exc:
        _report(sink, CEDAR_LOAD, facts.origin("metadata", "name"),
                f"Cedar cannot load the bundle generated for agent '{facts.name}': {exc}", BUG_HINT)
        return None
    if proofs is not None:
        proofs.remember()
    by_id = {p.id: p for p in policies}
    for policy_id, message in engine.validate(texts["policies"]):
        policy = by_id.get(policy_id)
        origin = policy.origin if policy else facts.origin("metadata", "name")
        _report(sink, POLICY_INVALID, origin,
                f"policy '{policy_id}' does not validate against the Cedar schema: {message}", BUG_HINT)
    return engine


def _why(verdict: Verdict) -> str:
    if verdict.violations:
        return f"denied by {', '.join(verdict.reasons) or ', '.join(verdict.violations)}"
    return "no policy permits it"


class RequestBatch:
    """Requests queued with what to report if Cedar denies them, decided in one call."""

    def __init__(self, facts: AgentFacts) -> None:
        self.facts = facts
        self.entities: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []
        self.on_deny: list[tuple[str, Origin, str, str]] = []

    def add(self, tenant: str, workflow: str, step: str, action: str, resource: str, context: dict[str, Any],
            code: str, origin: Origin, message: str) -> None:
        run_id = f"check-{len(self.requests) + 1}"
        self.entities.append(run_entity(run_id, self.facts.name, tenant, workflow, step))
        self.requests.append(request(run_id, action, resource, workflow, context))
        self.on_deny.append((code, origin, message, tenant))

    def run(self, engine: Engine, sink: DiagnosticSink) -> None:
        if not self.requests:
            return
        verdicts = engine.authorize(self.requests, engine.with_entities(self.entities), strict=True)
        denied: dict[tuple[str, str, str], list[tuple[str, Verdict]]] = {}
        origins: dict[tuple[str, str, str], Origin] = {}
        for (code, origin, message, tenant), verdict in zip(self.on_deny, verdicts, strict=True):
            if not verdict.allowed:
                key = (code, origin.path, message)
                denied.setdefault(key, []).append((tenant, verdict))
                origins[key] = origin
        for key, failures in denied.items():
            code, _, message = key
            tenants = [t for t, _ in failures]
            shown = ", ".join(tenants[:5]) + (f" and {len(tenants) - 5} more" if len(tenants) > 5 else "")
            _report(sink, code, origins[key], f"{message} (tenant {shown}: {_why(failures[0][1])})",
                    "grant it in the agent's spec.permissions, raise the limit, or change the workflow")


def representative_tenants(facts: AgentFacts) -> list[str]:
    """One tenant per distinct (label set, lifecycle state), in name order.

    The generated policies tell tenants in scope apart only by membership of the agent's scope
    (true for all of them by construction), by their tags (labels) and by their lifecycle state; so
    a step that Cedar allows for one tenant with a given label set and state it allows for all of
    them. Asking once per combination instead of once per tenant keeps this check linear in
    workflows, not in tenants: with 10,000 tenants it was most of compile time.
    """
    chosen: dict[tuple[frozenset[tuple[str, str]], str], str] = {}
    for name, document in facts.tenants.items():
        chosen.setdefault((frozenset(document.model.metadata.labels.items()), document.model.spec.lifecycle), name)
    return sorted(chosen.values())


def check_workflows(facts: AgentFacts, engine: Engine, sink: DiagnosticSink) -> None:
    """PB0702 and PB0703: ask Cedar about every step action and every transition."""
    workflow_batch(facts).run(engine, sink)


def workflow_batch(facts: AgentFacts) -> RequestBatch:
    """The requests of :func:`check_workflows`, built without Cedar (so their digest can be taken first)."""
    batch = RequestBatch(facts)
    state = {name: facts.tenants[name].model.spec.lifecycle for name in representative_tenants(facts)}
    movers = [t for t, s in state.items() if s != "deleted"]
    if not movers:
        return batch
    for workflow in facts.workflows:
        spec = workflow.graph.spec
        depth = workflow.graph.depths()
        for step in spec.steps:
            if step.id not in depth:
                continue
            counters = {"steps": depth[step.id] + 1}
            if step.action in (*DATA_ACTIONS, "propose", "approve"):
                what = f"{step.action} on {'table' if step.action in DATA_ACTIONS else 'kind'} '{step.resource}'" \
                    if step.resource else step.action
                message = (f"step '{step.id}' needs {what}, which Cedar denies to agent '{facts.name}' "
                           f"under its generated policies")
                acts_in = spec.step_lifecycles(step)
                for tenant in (t for t, s in state.items() if s in acts_in):
                    batch.add(tenant, workflow.name, step.id, step.action, str(step.resource or ""),
                              operation_context(step.action, tenant, (), 0, counters), STEP_DENIED,
                              workflow.origin(step.id, "action"), message)
            for j, target in enumerate(step.next):
                batch.add(movers[0], workflow.name, step.id, ADVANCE, target,
                          transition_context(0, True, counters), TRANSITION_DENIED,
                          workflow.origin(step.id, "next", j),
                          f"the transition '{step.id}' -> '{target}' is denied by Cedar for agent '{facts.name}'")
    return batch


def check_goldens(facts: AgentFacts, engine: Engine, tests: list[dict[str, Any]], sink: DiagnosticSink) -> None:
    from paybill.guard.goldens import run_goldens

    for failure in run_goldens(engine, tests):
        _report(sink, GOLDEN_FAILED, facts.origin("metadata", "name"), failure.describe(), BUG_HINT)
