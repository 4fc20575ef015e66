"""PB0681: a stack brings a cloud quota to 80 % (a warning: raise it before the next tenants)."""

from __future__ import annotations

from paybill.resolve.model import ResolvedModel
from paybill.resolve.quotas import WARNING
from paybill.resolve.rules.base import ResolveRule
from paybill.validate.rules.base import Reporter

NAME = ("metadata", "name")


def check(model: ResolvedModel, report: Reporter) -> None:
    for finding in model.quota_findings:
        if finding.code == WARNING:
            report(finding.document, NAME, finding.message, finding.hint)


RULE = ResolveRule(WARNING, "a cloud quota is 80 % used", check, warning=True)
