"""PB0403: tenants and pools must be in a region their cloud allows."""

from paybill.validate.index import SpecIndex
from paybill.validate.rules.base import Reporter, Rule


def check(index: SpecIndex, report: Reporter) -> None:
    for kind, loc in (("Tenant", ("spec", "placement", "region")), ("Pool", ("spec", "region"))):
        for doc in index.of_kind(kind):
            spec = doc.model.spec
            cloud_name = spec.placement.cloud if kind == "Tenant" else spec.cloud
            region = spec.placement.region if kind == "Tenant" else spec.region
            cloud = index.model("Cloud", cloud_name)
            if cloud is not None and region not in cloud.spec.regions:
                report.unknown(doc, loc, "region", region, cloud.spec.regions, of=f"for cloud '{cloud_name}'")


RULE = Rule("PB0403", "region not allowed by the cloud", check)
