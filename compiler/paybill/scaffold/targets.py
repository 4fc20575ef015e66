"""The cloud a new repository starts on: ``paybill init --cloud aws|azure|gcp|oci|ibm``.

The example specs are written once, for AWS (``templates/specs/``, byte for byte this repository's own
``specs/``). Another cloud gets its own Cloud spec (``clouds/<name>.yaml``: the provider block, regions
and state backend of this repository's example clouds, which the suite compiles on every run) and the
pool, tenants and BillingPolicy retargeted by whole value: the cloud's name, the pool's name and three
regions (the home region, where the pool is; a second one in the same geography for a residency list;
one in Europe for the EU customers). The specs never name a provider attribute: the emitters turn
them into each provider's resources, so a scaffold compiles on every cloud the emitters support.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_CLOUD = "aws"
"""What ``paybill init`` scaffolded before it could choose (and still does without ``--cloud``)."""


@dataclass(frozen=True, slots=True)
class ScaffoldCloud:
    """The names and regions the example specs use on one provider."""

    provider: str
    cloud: str
    """The Cloud spec's name, and its file under ``clouds/``."""
    pool: str
    home: str
    """The pool's region, where the pooled tenants and one silo tenant live."""
    second: str
    """Another region in the home geography (a silo tenant may reside in either)."""
    europe: str
    """The EU region of the suspended silo tenant and of the EU customers' residency rule."""
    credentials: tuple[str, ...]
    """What the apply and drift workflows read to reach this cloud (``vars.NAME`` or ``secrets.NAME``)."""


CLOUDS: dict[str, ScaffoldCloud] = {
    "aws": ScaffoldCloud("aws", "aws-prod", "aws-use1-shared", "us-east-1", "us-west-2", "eu-west-1",
                         ("vars.PAYBILL_AWS_ROLE_ARN", "vars.PAYBILL_AWS_REGION")),
    "azure": ScaffoldCloud("azure", "azure-prod", "azure-eus-shared", "eastus", "westus2", "westeurope",
                           ("vars.PAYBILL_AZURE_CLIENT_ID", "vars.PAYBILL_AZURE_TENANT_ID",
                            "vars.PAYBILL_AZURE_SUBSCRIPTION_ID")),
    "gcp": ScaffoldCloud("gcp", "gcp-prod", "gcp-usc1-shared", "us-central1", "us-east1", "europe-west1",
                         ("vars.PAYBILL_GCP_WORKLOAD_IDENTITY_PROVIDER", "vars.PAYBILL_GCP_SERVICE_ACCOUNT")),
    "oci": ScaffoldCloud("oci", "oci-prod", "oci-iad-shared", "us-ashburn-1", "us-phoenix-1", "eu-frankfurt-1",
                         ("secrets.PAYBILL_OCI_CONFIG", "secrets.PAYBILL_OCI_PRIVATE_KEY")),
    "ibm": ScaffoldCloud("ibm", "ibm-prod", "ibm-dal-shared", "us-south", "us-east", "eu-de",
                         ("secrets.PAYBILL_IBM_API_KEY",)),
}
"""Every provider ``--cloud`` offers, in the order the README lists them."""

RETARGETED = ("specs/pools/", "specs/tenants/", "specs/billing/")
"""The template folders whose files name the cloud, the pool or a region."""


def _token(value: str) -> re.Pattern[str]:
    """``value`` as a whole YAML scalar: not part of a longer name (``us-east-1`` is not in ``us-east-10``)."""
    return re.compile(rf"(?<![\w.-]){re.escape(value)}(?![\w.-])")


def retarget(text: str, target: ScaffoldCloud) -> str:
    """An AWS template's text with the cloud, pool and regions of ``target`` (identity for AWS).

    All tokens are replaced in one pass, so a target value equal to another source value (IBM's
    ``us-east`` is not AWS's ``us-east-1``, but the rule must not depend on it) is never replaced twice.
    """
    source = CLOUDS[DEFAULT_CLOUD]
    pairs = {source.cloud: target.cloud, source.pool: target.pool, source.home: target.home,
             source.second: target.second, source.europe: target.europe}
    pattern = re.compile("|".join(_token(value).pattern for value in pairs))
    return pattern.sub(lambda match: pairs[match.group(0)], text)


def retarget_path(rel: str, target: ScaffoldCloud) -> str:
    """The pool's file is named after the pool."""
    source = CLOUDS[DEFAULT_CLOUD]
    if rel == f"specs/pools/{source.pool}.yaml":
        return f"specs/pools/{target.pool}.yaml"
    return rel
