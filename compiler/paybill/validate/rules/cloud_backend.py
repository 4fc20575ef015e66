"""PB0410: a cloud's Terraform state backend must be one its provider can host."""

from paybill.validate.index import SpecIndex
from paybill.validate.rules.base import Reporter, Rule

BACKENDS_BY_PROVIDER = {"aws": {"s3"}, "azure": {"azurerm"}, "gcp": {"gcs"}, "oci": {"oci"}, "ibm": {"s3"}}


def check(index: SpecIndex, report: Reporter) -> None:
    for doc in index.of_kind("Cloud"):
        spec = doc.model.spec
        backend = spec.state_backend
        allowed = BACKENDS_BY_PROVIDER[spec.provider]
        if backend.type not in allowed:
            report(doc, ("spec", "stateBackend", "type"),
                   f"state backend '{backend.type}' does not fit provider '{spec.provider}'",
                   f"use: {', '.join(sorted(allowed))}")
        elif spec.provider == "ibm" and getattr(backend, "endpoint", None) is None:
            report(doc, ("spec", "stateBackend"),
                   "IBM Cloud state lives in Cloud Object Storage: the s3 backend needs 'endpoint'",
                   "e.g. endpoint: https://s3.us-south.cloud-object-storage.appdomain.cloud")
        elif spec.provider == "aws" and getattr(backend, "endpoint", None) is not None:
            report(doc, ("spec", "stateBackend", "endpoint"), "AWS S3 state needs no custom endpoint")


RULE = Rule("PB0410", "state backend does not fit the provider", check)
