"""The emitters `paybill compile` runs, in order. Each owns a disjoint part of the output tree."""

from __future__ import annotations

from paybill.emit.contract import Emitter


def all_emitters() -> list[Emitter]:
    """Import lazily so `paybill validate` does not pay for emitter imports."""
    from paybill.emit.registered import REGISTERED

    return list(REGISTERED)


def reporting_emitters() -> list[Emitter]:
    """The emitters whose ``emit`` can report a problem in the specs (the SQL plan's PB08xx, the bundles'
    PB07xx: their Cedar checks among them), in :func:`all_emitters`' order. ``paybill validate`` runs
    them in memory so that it reports everything ``paybill compile`` would; the others (Terraform,
    entitlements, manifest) only render what validate and resolve already accepted.
    ``tests/foundation/test_validate_reports_what_compile_does.py`` holds every reporting emitter module
    to this list."""
    from paybill.emit.registered import REPORTING

    return list(REPORTING)

