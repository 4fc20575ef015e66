"""The resolve rule contract: a rule of the validate rule system that reads the resolved model.

Resolve rules report through the same :class:`~paybill.validate.rules.base.Reporter` as the
validate rules (code, document, spec path), so a finding has the same code, position and words
whether ``paybill validate`` or ``paybill compile`` runs it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from paybill.resolve.model import ResolvedModel
from paybill.validate.rules.base import Reporter


@dataclass(frozen=True, slots=True)
class ResolveRule:
    """A check that needs resolved objects (allocated networks...): its code, a title for docs, the check."""

    code: str
    title: str
    check: Callable[[ResolvedModel, Reporter], None]
    warning: bool = False
