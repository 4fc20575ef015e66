"""The decision object every guard call returns (a stable, documented contract).

``allowed`` is the only field a caller must act on. ``reasons`` are Cedar policy ids
(``<spec path>#<rule>``): the permits that allowed, or the forbids that denied. ``violations`` are
stable machine names of why a call was denied (see :mod:`paybill.contract.bundle`, ``V_*`` and
``limit.<name>``); a denial without a forbid still gets one (``acl.not-granted``,
``acl.column-not-granted``, ``workflow.order``, ``workflow.step-action``, ``workflow.finished``...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class Denied(PermissionError):
    """Raised by :meth:`Decision.require` for a denied decision; carries the decision."""

    def __init__(self, decision: Decision) -> None:
        super().__init__(decision.summary())
        self.decision = decision


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    op: str
    """``check``, ``advance``, ``approve`` or ``start``."""
    action: str
    resource: str
    tenant: str
    step: str
    """The run's step when the call was made (for ``advance``: the step it left, or tried to)."""
    reasons: tuple[str, ...] = ()
    violations: tuple[str, ...] = ()
    denied_columns: tuple[str, ...] = ()
    """For ``acl.column-not-granted``: the requested columns the ACL does not grant in this step."""
    errors: tuple[str, ...] = ()
    """Cedar evaluation errors; any error denies."""
    revision: str = ""
    run: str = ""
    explanation: str = ""
    """Why, in words, where a violation name alone does not say it (``tenant.lifecycle``: the tenant's
    state and the states the step acts in)."""
    charge: int = field(default=0, compare=False, repr=False)
    """For an allowed check that spent rows: its charge in the run, which :meth:`Run.settle` may settle
    once (0 when there is nothing to settle). Not part of equality or of the recorded decision."""

    def __bool__(self) -> bool:
        """``if run.check(...):`` means "if allowed" (a plain object would always be true)."""
        return self.allowed

    def require(self) -> Decision:
        """Return self when allowed, else raise :class:`Denied` (for callers that prefer exceptions)."""
        if not self.allowed:
            raise Denied(self)
        return self

    def summary(self) -> str:
        verdict = "allow" if self.allowed else "deny"
        # "advance mark-overdue", not "advance advance mark-overdue": the op names itself once.
        verb = self.op if self.op == self.action else f"{self.op} {self.action}"
        what = f"{verb} {self.resource}".rstrip()
        why = ", ".join(self.violations) if self.violations else ""
        why += f": {self.explanation}" if self.explanation else ""
        return f"{verdict}: {what} (tenant {self.tenant}, step {self.step}){': ' + why if why else ''}"

    def to_dict(self) -> dict[str, Any]:
        """The decision as recorded in logs and traces (input fields are recorded separately)."""
        out: dict[str, Any] = {"allowed": self.allowed, "reasons": list(self.reasons),
                               "violations": list(self.violations)}
        if self.denied_columns:
            out["deniedColumns"] = list(self.denied_columns)
        if self.errors:
            out["errors"] = list(self.errors)
        if self.explanation:
            out["explanation"] = self.explanation
        return out
