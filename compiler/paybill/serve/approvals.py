"""Human approvals of a run's step, recorded in the run's stored state (never by the agent).

``paybill guard approve RUN STEP --by EMAIL`` calls :func:`approve`: it locks the run's row, adds
the approval through :meth:`paybill.guard.Run.approve` (which refuses a step that needs no approval
and an approver that is the agent or the run), writes it to the decision log when one is given, and
stores the run. The agent's next ``advance_step`` into the step proceeds; entering it consumes it.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from paybill.guard import Decision, Guard
from paybill.guard.run import Run
from paybill.serve import state


@dataclass(frozen=True)
class ApprovalResult:
    decision: Decision | None
    problem: str = ""
    """Why nothing was approved (no such run of this agent, an expired run); empty when decided."""


def approve(guard: Guard, conninfo: str, run_id: str, step: str, by: str) -> ApprovalResult:
    with psycopg.connect(conninfo, autocommit=True, connect_timeout=10) as conn, conn.transaction():
        stored = state.lock(conn, run_id)
        if stored is None or stored.agent != guard.agent:
            return ApprovalResult(None, f"no run {run_id!r} of agent '{guard.agent}' in this database")
        if guard.clock() >= stored.expires_at:
            return ApprovalResult(None, f"run {run_id!r} expired")
        run = Run.restore(guard, stored.id, stored.tenant, stored.workflow, stored.state)
        decision = run.approve(step, by=by)
        if decision.allowed:
            stored.pending.pop(step, None)
            stored.state = run.snapshot()
            state.save(conn, stored)
        return ApprovalResult(decision)
