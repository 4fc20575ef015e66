"""Fixtures of the SQL emitter tests (defined in :mod:`sql_support`)."""

from sql_support import edited_specs, example

__all__ = ["edited_specs", "example"]
