"""paybill.guard: the runtime that enforces an agent's compiled policy bundle, deny by default.

An agent never acts freely: it acts inside a workflow run, and every call it makes is decided by
Cedar against the bundle ``paybill compile`` wrote to ``generated/bundles/<agent>/``::

    from paybill.guard import Guard

    guard = Guard.load("generated/bundles/billing-agent", public_key="bundle-key.pub.pem",
                       log="decisions.jsonl")
    run = guard.start(tenant="acme-corp", workflow="dunning")
    decision = run.check("read", "invoices", columns=["id", "status"], rows=25)
    if not decision.allowed:
        ...  # decision.reasons: policy ids; decision.violations: e.g. ["limit.maxRowsRead"]
    run.advance("load-customer")

Stable contract (other layers, such as the PostgreSQL guard, build on it):

* :meth:`Guard.load(path, public_key=None, *, clock, log, expect_agent, revisions) <Guard.load>`
  verifies every file hash, the signature when a key is configured (an unsigned bundle is refused
  then), the agent when ``expect_agent`` is set, validates the policies and replays the golden
  decisions; with a :class:`RevisionStore` it refuses a revision older than the newest loaded with
  it. It raises :class:`BundleError` (``.reason``) if any check fails, and parses everything once
  into reusable cedarpy handles. Every file is opened only if it is a regular file, and read with a
  size cap (a FIFO or device is refused, never waited on).
* :meth:`Guard.start(*, tenant, workflow, run_id=None) <Guard.start>` -> :class:`Run`.
* :meth:`Run.check(action, resource, *, columns=(), rows=0, tenant=None) <Run.check>` and
  :meth:`Run.check_many` (one Cedar call for a batch), :meth:`Run.advance(step) <Run.advance>`,
  :meth:`Run.approve(step, *, by) <Run.approve>` all return a :class:`Decision` with ``allowed``,
  ``reasons`` (Cedar policy ids), ``violations`` (stable names), ``denied_columns`` and ``errors``;
  a decision is truthy only when allowed, and ``decision.require()`` raises :class:`Denied`.
* :meth:`Run.settle(decision, used) <Run.settle>` gives back rows and budget an allowed check
  charged and its operation did not use (a capped read that returned fewer rows), once per decision;
  anything else raises :class:`SettleError` and changes nothing.
* Limits (steps, rows read and written, wall time, calls per minute, budget units) are Cedar
  forbid policies over counters this package keeps; they fail closed.
* :class:`DecisionLog` writes one hash-chained JSON line per call; :func:`verify_log` checks it;
  :func:`paybill.guard.replay.replay` replays a log or trace against a bundle.
* :meth:`Guard.evaluate` answers what-if questions at any step (tooling only, never enforcement).

A :class:`Guard` may be shared between threads (its caches are append-only, its log is locked);
a :class:`Run` belongs to one caller at a time. Cedar requests are evaluated against the slice of
policies whose scope can match them (:mod:`paybill.guard.slicing`) - same answers, fewer policies.
"""

from paybill.guard.bundle import BundleError, LoadedBundle, load_bundle
from paybill.guard.clock import ManualClock
from paybill.guard.decision import Decision, Denied
from paybill.guard.guard import Guard, GuardUsageError
from paybill.guard.log import DecisionLog, LogError, LogReport, verify_log
from paybill.guard.revisions import RevisionStore
from paybill.guard.run import Run, SettleError

__all__ = [
    "BundleError",
    "Decision",
    "DecisionLog",
    "Denied",
    "Guard",
    "GuardUsageError",
    "LoadedBundle",
    "LogError",
    "LogReport",
    "ManualClock",
    "RevisionStore",
    "Run",
    "SettleError",
    "load_bundle",
    "verify_log",
]
