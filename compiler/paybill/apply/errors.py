"""Diagnostics of ``paybill apply`` (PB12xx, docs/errors.md "PB12xx: applying at scale").

Apply problems are about files in ``generated/`` or about a run, not about a spec position: each one
points at the file it concerns (line 1, column 1) like ``paybill db`` does, so the output has the
same ``path:line:col: error[CODE]: message`` shape as every other command.
"""

from __future__ import annotations

from dataclasses import dataclass

from paybill.diagnostics.model import Diagnostic, one_line

MANIFEST = "PB1201"
"""generated/manifest.json is missing, not JSON, or not the shape paybill writes."""
BASE = "PB1202"
"""The base commit's manifest cannot be read (unknown commit, git failed)."""
TOO_MANY_PHASES = "PB1203"
"""The run has more phases than the workflow has phase jobs."""
TOO_MANY_JOBS = "PB1204"
"""The run cannot fit the job budget (more non-empty phases than jobs allowed)."""
NO_CONFIGURATION = "PB1205"
"""A stack to apply or destroy has no configuration folder in generated/."""
TERRAFORM_FAILED = "PB1206"
"""Terraform failed for a stack with an error that is not transient."""
RETRIES_EXHAUSTED = "PB1207"
"""Terraform kept failing with a transient error after every retry."""
NO_TERRAFORM = "PB1208"
"""The terraform (or tofu) executable cannot be run."""
MIGRATION_FAILED = "PB1209"
"""A stack's SQL migrations could not be applied (no database URL command, or migrate failed)."""
UNKNOWN_SHARD = "PB1210"
"""``apply run --shard`` names a shard that the job plan does not have, or the plan file is unusable."""
STATE_MOVES = "PB1211"
"""A changed stack's Terraform backend differs from the base commit's: ``apply run`` would start it empty."""
NOT_THIS_PLAN = "PB1213"
"""``apply run`` in a generated/ whose manifest states the plan's stacks with other hashes (another commit)."""
OVERTAKEN = "PB1212"
"""``apply run`` of a job plan another run overtook: what is applied changed since the plan was made."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One apply problem: a code, the file it concerns, what happened and what to do."""

    code: str
    path: str
    message: str
    hint: str | None = None

    def diagnostic(self) -> Diagnostic:
        return Diagnostic(code=self.code, message=one_line(self.message), path=self.path,
                          hint=one_line(self.hint) if self.hint else None)

    def render(self) -> str:
        """The compiler-style text form: one line, then the hint."""
        d = self.diagnostic()
        text = f"{d.path}:{d.position.line}:{d.position.col}: error[{d.code}]: {d.message}"
        return f"{text}\n  hint: {d.hint}" if d.hint else text


class ApplyError(Exception):
    """Raised with every problem found, so one run reports them all."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems
