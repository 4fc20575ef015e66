"""Fixtures of the guard tests (defined in :mod:`guard_support`)."""

from guard_support import bundles, clock, edited_bundles, keys, load, signed_bundles

__all__ = ["bundles", "clock", "edited_bundles", "keys", "load", "signed_bundles"]
