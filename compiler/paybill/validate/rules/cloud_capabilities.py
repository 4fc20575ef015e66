"""PB0650-PB0652: spec combinations a pool's or tenant's cloud cannot build (its profile's checks).

One rule module for every capability check any cloud profile declares
(:attr:`~paybill.clouds.profile.CloudProfile.checks`): each pool and live tenant is described as
provider-independent facts and handed to its cloud's checks, in the profile's order; the first
finding for a spec stops its other checks (as the emitter that used to run them stopped building).
One :class:`Rule` runs them all and reports each finding under its check's own code.
"""

from __future__ import annotations

from collections.abc import Iterator

from paybill.clouds import registry
from paybill.clouds.checks import Finding, PoolFacts, TenantFacts
from paybill.load.document import SpecDocument
from paybill.validate.index import SpecIndex
from paybill.validate.rules.base import Reporter, Rule


def findings(index: SpecIndex) -> Iterator[tuple[str, SpecDocument, Finding]]:
    """(code, spec, finding) for every capability problem, pools first, each in name order."""
    for doc in index.of_kind("Pool"):
        pool = doc.model
        cloud = index.model("Cloud", pool.spec.cloud)
        profile = registry.find(cloud.spec.provider) if cloud is not None else None
        if cloud is None or profile is None or not profile.checks:
            continue
        facts = PoolFacts(doc.ref, doc.name, tuple(pool.spec.layers), pool.spec.network_cidr,
                          cloud.spec.address_space)
        for capability in profile.checks:
            found = capability.pool(facts)
            if found is not None:
                yield capability.code, doc, found
                break
    for doc in index.of_kind("Tenant"):
        tenant = doc.model
        if tenant.spec.lifecycle == "deleted":
            continue  # its decommission configuration builds the last live stack as it was
        cloud = index.model("Cloud", tenant.spec.placement.cloud)
        profile = registry.find(cloud.spec.provider) if cloud is not None else None
        if cloud is None or profile is None or not profile.checks:
            continue
        tenant_facts = TenantFacts(doc.ref, doc.name, dict(tenant.placements), tenant.spec.placement.network_cidr,
                                   cloud.spec.address_space)
        for capability in profile.checks:
            found = capability.tenant(tenant_facts)
            if found is not None:
                yield capability.code, doc, found
                break


def check(index: SpecIndex, report: Reporter) -> None:
    """Report every finding under its check's own code (PB0650, PB0651, PB0652, or a sixth cloud's)."""
    reporters: dict[str, Reporter] = {report.code: report}
    for code, doc, finding in findings(index):
        reporter = reporters.get(code)
        if reporter is None:
            reporter = reporters[code] = Reporter(code, report.sink, report.index, warning=report.warning)
        reporter(doc, finding.loc, finding.message, finding.hint)


RULE = Rule("PB0650", "spec the cloud cannot build (its profile's capability checks, PB065x)", check)
