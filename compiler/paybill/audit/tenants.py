"""``audit --tenant NAME`` for a name no commit ever touched: a did-you-mean diagnostic, not silence.

"no matching commits" for a typo (``acme-crop``) would read like a tenant with a spotless history.
A name is known when some commit reachable from the walked revision touched a Tenant document of
that name, before or after the change, so a tenant whose file was removed long ago still has a story.
"""

from __future__ import annotations

from collections.abc import Iterable

from paybill.diagnostics import Diagnostic, Position
from paybill.diagnostics.suggest import did_you_mean

CODE_UNKNOWN_TENANT = "PB0990"
MAX_LISTED = 12


def unknown_tenant(name: str, known: Iterable[str], specs: str, rev: str) -> Diagnostic | None:
    """The diagnostic for ``--tenant name`` when ``name`` is not in ``known``, else None."""
    names = sorted(set(known))
    if name in names:
        return None
    hint = did_you_mean(name, names)
    if hint is None:
        listed = ", ".join(names[:MAX_LISTED]) + (f" (+{len(names) - MAX_LISTED} more)" if len(names) > MAX_LISTED
                                                  else "")
        hint = f"tenants in the history: {listed}" if names else "no commit touches a Tenant spec yet"
    return Diagnostic(CODE_UNKNOWN_TENANT,
                      f"unknown tenant '{name}': no commit reachable from {rev} touches a Tenant of that name",
                      specs or ".", Position(), hint)
