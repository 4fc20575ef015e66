"""The explicit list of emitters. Add yours here (one import, one list entry)."""

from __future__ import annotations

from paybill.emit.bundles import BUNDLES_EMITTER
from paybill.emit.contract import Emitter
from paybill.emit.entitlements import ENTITLEMENTS_EMITTER
from paybill.emit.manifest import MANIFEST_EMITTER
from paybill.emit.sql import SQL_EMITTER
from paybill.emit.terraform.emitter import TERRAFORM_EMITTER

REGISTERED: list[Emitter] = [
    TERRAFORM_EMITTER,
    SQL_EMITTER,
    BUNDLES_EMITTER,
    ENTITLEMENTS_EMITTER,
    MANIFEST_EMITTER,  # describes the whole tree: the pipeline always runs it last
]

REPORTING: list[Emitter] = [SQL_EMITTER, BUNDLES_EMITTER]
"""Those of :data:`REGISTERED` that report diagnostics (:func:`paybill.emit.registry.reporting_emitters`)."""

