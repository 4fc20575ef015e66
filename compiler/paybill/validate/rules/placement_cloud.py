"""PB0303: tenants and pools must be placed on a declared cloud."""

from paybill.validate.index import SpecIndex
from paybill.validate.rules.base import Reporter, Rule


def check(index: SpecIndex, report: Reporter) -> None:
    clouds = index.names("Cloud")
    for doc in index.of_kind("Tenant"):
        cloud = doc.model.spec.placement.cloud
        if index.get("Cloud", cloud) is None:
            report.unknown(doc, ("spec", "placement", "cloud"), "cloud", cloud, clouds, kind="Cloud")
    for doc in index.of_kind("Pool"):
        if index.get("Cloud", doc.model.spec.cloud) is None:
            report.unknown(doc, ("spec", "cloud"), "cloud", doc.model.spec.cloud, clouds, kind="Cloud")


RULE = Rule("PB0303", "tenant or pool references an unknown cloud", check)
