"""The emitters `paybill compile` runs, in order. Each owns a disjoint part of the output tree."""

from __future__ import annotations

from paybill.emit.contract import Emitter


def all_emitters() -> list[Emitter]:
    """Import lazily so `paybill validate` does not pay for emitter imports."""
    from paybill.emit.registered import REGISTERED

    return list(REGISTERED)
