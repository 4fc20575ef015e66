"""The guard: a verified bundle, ready to start runs and decide their calls."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

from paybill.contract.bundle import RUN
from paybill.contract.requests import run_entity
from paybill.guard.bundle import LoadedBundle, load_bundle
from paybill.guard.cache import Decider, DecisionCache, Plan
from paybill.guard.clock import Clock, default_clock
from paybill.guard.decision import Decision
from paybill.guard.engine import Verdict
from paybill.guard.log import DecisionLog
from paybill.guard.revisions import RevisionStore
from paybill.guard.run import Run
from paybill.guard.signing import PublicKeys

POSITIONS_MAX = 4096

_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
_NAME = re.compile(r"[a-z](?:-?[a-z0-9]){0,39}")


class GuardUsageError(ValueError):
    """A programming mistake in how the guard is called (unknown workflow, malformed run id)."""


class Guard:
    """Enforces one agent bundle. Load with :meth:`load`; start runs with :meth:`start`."""

    def __init__(self, bundle: LoadedBundle, *, clock: Clock = default_clock, log: DecisionLog | None = None,
                 cache: DecisionCache | None = None) -> None:
        """``cache``: where static Cedar verdicts are kept (:mod:`paybill.guard.cache`); default a
        private bounded one. Pass one :class:`DecisionCache` to several guards to share it (keys hold
        the revision), or ``DecisionCache(0)`` to ask Cedar for every call."""
        self.bundle = bundle
        self.engine = bundle.engine
        self.agent = bundle.agent
        self.revision = bundle.revision
        self.workflows: dict[str, Any] = bundle.workflows
        self.limits: dict[str, int] = dict(bundle.limits.get("limits", {}))
        self.clock = clock
        self.log = log
        self._positions: dict[tuple[str, str, str], tuple[dict[str, str], Any]] = {}
        self.cache = cache if cache is not None else DecisionCache()
        self.decider = Decider(self.engine, Plan.of(self.engine.est, self.agent), self.cache, self.revision)

    def position(self, tenant: str, workflow: str, step: str) -> tuple[dict[str, str], Any]:
        """The Cedar principal and entity store of a run at (tenant, workflow, step).

        The run entity holds only its position, so runs in the same position share one entity
        (id ``<workflow>/<step>@<tenant>``) and one parsed entity store: entering a step costs a
        dictionary lookup instead of re-building the store (bounded; cleared when full).
        """
        key = (tenant, workflow, step)
        found = self._positions.get(key)
        if found is None:
            run_id = f"{workflow}/{step}@{tenant}"
            entities = self.engine.with_entities([run_entity(run_id, self.agent, tenant, workflow, step)])
            if len(self._positions) >= POSITIONS_MAX:
                self._positions.clear()
            found = self._positions[key] = ({"type": RUN, "id": run_id}, entities)
        return found

    @classmethod
    def load(cls, path: str | Path, public_key: PublicKeys | None = None, *, clock: Clock = default_clock,
             log: DecisionLog | str | Path | None = None, expect_agent: str | None = None,
             revisions: RevisionStore | str | Path | None = None, cache: DecisionCache | None = None) -> Guard:
        """Verify the bundle at ``path`` (hashes, signature when ``public_key`` is set - one trusted key, or
        a list of them during a key rotation -, Cedar validation, golden decisions) and parse it once.
        Raises :class:`paybill.guard.BundleError` when refused.

        ``expect_agent`` refuses a bundle of any other agent (reason ``agent``); ``revisions`` is a
        :class:`RevisionStore` (or its file path) that refuses a revision older than the newest
        loaded with it (``rollback``) and records a new one once the bundle passed every check.
        ``log`` is a :class:`DecisionLog` or a path to one; ``clock`` drives wall-time and rate limits;
        ``cache`` see :meth:`__init__`.
        """
        bundle = load_bundle(path, public_key, expect_agent=expect_agent)
        if revisions is not None:
            store = revisions if isinstance(revisions, RevisionStore) else RevisionStore(revisions)
            store.admit(bundle.agent, bundle.revision)
        if log is not None and not isinstance(log, DecisionLog):
            log = DecisionLog(log)
        return cls(bundle, clock=clock, log=log, cache=cache)

    def start(self, *, tenant: str, workflow: str, run_id: str | None = None) -> Run:
        """Start a run of ``workflow`` for ``tenant`` at the workflow's start step.

        A tenant outside the agent's scope still gets a run, but Cedar denies every call in it
        (``tenant.out-of-scope``), and the attempt is in the decision log.
        """
        self._require(tenant, workflow, run_id)
        run = Run(self, run_id or uuid.uuid4().hex, tenant, workflow)
        if self.log is not None:
            decision = Decision(True, "start", "start", workflow, tenant, run.step, revision=self.revision, run=run.id)
            self.log.append({"revision": self.revision, "agent": self.agent, "run": run.id, "op": "start",
                             "t": run._started, "input": {"tenant": tenant, "workflow": workflow},
                             "decision": decision.to_dict()})
        return run

    def evaluate(self, *, tenant: str, workflow: str, step: str, action: str, resource: str,
                 columns: tuple[str, ...] = (), rows: int = 0, resource_tenant: str | None = None) -> Decision:
        """A what-if decision at ``step`` with fresh counters, for tooling (``paybill guard check``).

        It places a throwaway run at ``step`` without walking the workflow, so it answers "would the
        ACL allow this here", never "may this run do it now": enforce with :meth:`start` and
        :meth:`Run.check`. Nothing is logged.
        """
        self._require(tenant, workflow, None)
        if step not in self.workflows[workflow]["steps"]:
            known = ", ".join(self.workflows[workflow]["steps"])
            raise GuardUsageError(f"workflow '{workflow}' has no step '{step}' (steps: {known})")
        run = Run(self, "what-if", tenant, workflow, step=step, record=False)
        if action == "advance":
            return run.advance(resource)
        return run.check(action, resource, columns=columns, rows=rows, tenant=resource_tenant)

    def authorize_raw(self, request: dict[str, Any], entities: list[dict[str, Any]] | None = None) -> Verdict:
        """Decide a complete Cedar request built elsewhere (a sidecar, a test), schema-validated.

        The request's context must match the schema exactly: a missing counter makes the request
        invalid, and an invalid request is denied.
        """
        handle = self.engine.with_entities(entities or [])
        return self.engine.authorize([request], handle, strict=True)[0]

    def _require(self, tenant: Any, workflow: Any, run_id: Any) -> None:
        if workflow not in self.workflows:
            known = ", ".join(sorted(self.workflows))
            raise GuardUsageError(f"agent '{self.agent}' does not run workflow {workflow!r} (runs: {known})")
        if not isinstance(tenant, str) or not _NAME.fullmatch(tenant):
            raise GuardUsageError(f"invalid tenant name {tenant!r}")
        if run_id is not None and (not isinstance(run_id, str) or not _RUN_ID.fullmatch(run_id)):
            raise GuardUsageError(f"invalid run id {run_id!r} (letters, digits, '.', '_', ':', '-'; max 128)")
