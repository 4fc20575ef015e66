"""PB0410: a cloud's Terraform state backend must be one its provider can host.

Which backends a provider can host, and whether its ``endpoint`` is required (IBM Cloud Object
Storage) or forbidden (AWS S3), is declared by the provider's cloud profile.
"""

from paybill.clouds import registry
from paybill.validate.index import SpecIndex
from paybill.validate.rules.base import Reporter, Rule


def check(index: SpecIndex, report: Reporter) -> None:
    for doc in index.of_kind("Cloud"):
        spec = doc.model.spec
        backend = spec.state_backend
        profile = registry.get(spec.provider)
        use = profile.backend(backend.type)
        if use is None:
            allowed = sorted(use.type for use in profile.state_backends)
            report(doc, ("spec", "stateBackend", "type"),
                   f"state backend '{backend.type}' does not fit provider '{spec.provider}'",
                   f"use: {', '.join(allowed)}")
            continue
        endpoint = getattr(backend, "endpoint", None)
        if use.endpoint == "required" and endpoint is None:
            report(doc, ("spec", "stateBackend"), use.problem, use.hint)
        elif use.endpoint == "forbidden" and endpoint is not None:
            report(doc, ("spec", "stateBackend", "endpoint"), use.problem, use.hint)


RULE = Rule("PB0410", "state backend does not fit the provider", check)
