"""Whether a one-directional change (a :class:`ConditionalReplace`) happened between two argument values.

The semantics follow the providers' ``CustomizeDiff`` functions the rules cite, so paybill says
"replace" exactly where Terraform will:

* ``shrinks`` on numbers is ``new < old`` (google ``compute.IsDiskShrinkage``, azurerm's
  ``storage_mb`` check); a string of digits counts as its number (azurerm compares ``version = "16"``
  numerically). On CIDR ranges it is "the new range does not contain the old one"
  (google ``IsShrinkageIpCidr``: ``10.0.0.0/24`` -> ``10.0.0.0/23`` grows in place, ``-> 10.0.1.0/24``
  moves and so replaces, like ``-> 10.0.0.0/25``). Booleans are not numbers here.
* ``removed``: set before (not null, not empty), unset after.
* ``turned_off``: ``true`` before, anything else after.

A side that is absent, or a value Terraform only knows at apply time (``${google_compute_network.x.id}``),
decides nothing: the providers' functions return false for them too (a ``nil`` or unparsable side).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from paybill.clouds.profile import ReplaceWhen

__all__ = ["describe", "holds"]


_DIGITS = re.compile(r"^\d+(\.\d+)?$")


def _number(value: Any) -> float | None:
    """A number, or a string of digits (azurerm's ``version = "16"``); booleans are not numbers."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and _DIGITS.match(value):
        return float(value)
    return None


def _network(value: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    if not isinstance(value, str) or "/" not in value:
        return None
    try:
        return ipaddress.ip_network(value, strict=False)
    except ValueError:
        return None


def _shrinks(before: Any, after: Any) -> bool:
    old_number, new_number = _number(before), _number(after)
    if old_number is not None and new_number is not None:
        return new_number < old_number
    old, new = _network(before), _network(after)
    if old is None or new is None:
        return False
    return old.version != new.version or not old.subnet_of(new)  # type: ignore[arg-type]


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def holds(when: ReplaceWhen, before: Any, after: Any) -> bool:
    """The change ``before`` -> ``after`` is one that ``when`` says replaces the resource."""
    if when == "shrinks":
        return _shrinks(before, after)
    if when == "removed":
        return not _empty(before) and _empty(after)
    return before is True and after is not True


def describe(path: str, when: ReplaceWhen, before: Any, after: Any) -> str:
    """How the plan names the forcing change: ``settings.disk_size shrinks 500 -> 100``."""
    if when == "shrinks":
        if _number(before) is not None:
            return f"{path} shrinks {before} -> {after}"
        return f"{path} {before} -> {after} no longer contains the old range"
    return f"{path} {'removed' if when == 'removed' else 'turned off'}"
