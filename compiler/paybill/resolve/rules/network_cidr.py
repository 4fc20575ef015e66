"""PB0602: an explicit networkCidr is a /16 to /24 network inside its cloud's address space."""

from __future__ import annotations

from paybill.resolve.model import ResolvedModel
from paybill.resolve.network import INVALID_CIDR
from paybill.resolve.rules.base import ResolveRule
from paybill.validate.rules.base import Reporter


def check(model: ResolvedModel, report: Reporter) -> None:
    for bad in model.allocation.invalid:
        report(bad.claim.document, bad.claim.explicit_loc, bad.message)


RULE = ResolveRule(INVALID_CIDR, "invalid networkCidr", check)
