"""Fixtures of the bundle emitter tests (defined in :mod:`bundle_support`)."""

from bundle_support import edited_specs, example

__all__ = ["edited_specs", "example"]
