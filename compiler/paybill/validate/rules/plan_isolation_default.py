"""PB0408: a plan's default isolation must be one of its allowed models."""

from paybill.validate.index import SpecIndex
from paybill.validate.rules.base import Reporter, Rule


def check(index: SpecIndex, report: Reporter) -> None:
    for doc in index.of_kind("Plan"):
        isolation = doc.model.spec.isolation
        if isolation.default not in isolation.allowed:
            report(doc, ("spec", "isolation", "default"),
                   f"default isolation '{isolation.default}' is not in allowed ({', '.join(isolation.allowed)})")
        if len(set(isolation.allowed)) != len(isolation.allowed):
            report(doc, ("spec", "isolation", "allowed"), "isolation model listed twice")


RULE = Rule("PB0408", "plan default isolation not allowed", check)
