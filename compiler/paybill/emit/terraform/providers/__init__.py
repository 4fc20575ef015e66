"""One module per cloud, all implementing :class:`~paybill.emit.terraform.providers.base.CloudEmitter`."""

from __future__ import annotations

from paybill.emit.terraform.providers.base import CloudEmitter

CLOUD_EMITTERS: dict[str, CloudEmitter] = {}
"""provider name -> emitter; each provider module is imported and registered below."""

from paybill.emit.terraform.providers.aws import AWS_EMITTER  # noqa: E402

CLOUD_EMITTERS[AWS_EMITTER.provider] = AWS_EMITTER

from paybill.emit.terraform.providers.azure import AZURE_EMITTER  # noqa: E402

CLOUD_EMITTERS[AZURE_EMITTER.provider] = AZURE_EMITTER

from paybill.emit.terraform.providers.gcp import GCP_EMITTER  # noqa: E402

CLOUD_EMITTERS[GCP_EMITTER.provider] = GCP_EMITTER

from paybill.emit.terraform.providers.oci import OCI_EMITTER  # noqa: E402

CLOUD_EMITTERS[OCI_EMITTER.provider] = OCI_EMITTER

from paybill.emit.terraform.providers.ibm import IBM_EMITTER  # noqa: E402

CLOUD_EMITTERS[IBM_EMITTER.provider] = IBM_EMITTER
