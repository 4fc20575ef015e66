"""Fixtures of the AuthZEN tests: a real uvicorn server on a loopback port, bundles from the specs."""

from authzen_support import bundles, server

__all__ = ["bundles", "server"]
