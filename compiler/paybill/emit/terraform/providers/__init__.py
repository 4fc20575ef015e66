"""One module per cloud, all implementing :class:`~paybill.emit.terraform.providers.base.CloudEmitter`."""

from __future__ import annotations

from paybill.emit.terraform.providers.base import CloudEmitter

CLOUD_EMITTERS: dict[str, CloudEmitter] = {}
"""provider name -> emitter; each provider module is imported and registered below."""
