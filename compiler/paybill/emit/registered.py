"""The explicit list of emitters. Add yours here (one import, one list entry)."""

from __future__ import annotations

from paybill.emit.contract import Emitter
from paybill.emit.terraform.emitter import TERRAFORM_EMITTER

REGISTERED: list[Emitter] = [
    TERRAFORM_EMITTER,
]
