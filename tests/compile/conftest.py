"""Fixtures of the compile tests (defined in :mod:`compile_support`)."""

from compile_support import fake_clouds, spec_copy

__all__ = ["fake_clouds", "spec_copy"]
