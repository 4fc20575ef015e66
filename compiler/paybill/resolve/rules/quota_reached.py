"""PB0682: a stack brings a cloud quota to 100 %: the fleet cannot be applied, so validate fails."""

from __future__ import annotations

from paybill.resolve.model import ResolvedModel
from paybill.resolve.quotas import ERROR
from paybill.resolve.rules.base import ResolveRule
from paybill.validate.rules.base import Reporter

NAME = ("metadata", "name")


def check(model: ResolvedModel, report: Reporter) -> None:
    for finding in model.quota_findings:
        if finding.code == ERROR:
            report(finding.document, NAME, finding.message, finding.hint)


RULE = ResolveRule(ERROR, "a cloud quota is reached", check)
