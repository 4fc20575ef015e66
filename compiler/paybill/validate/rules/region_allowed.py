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
                # Region names share their shape (us-west-2 / eu-west-1), so an edit-distance guess
                # misleads; list what the cloud allows instead.
                report(doc, loc, f"region '{region}' is not allowed by cloud '{cloud_name}'",
                       f"cloud '{cloud_name}' allows: {', '.join(cloud.spec.regions)}")


RULE = Rule("PB0403", "region not allowed by the cloud", check)
